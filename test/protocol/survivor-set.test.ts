import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/digest.js';
import { sign } from '../../src/crypto/ed25519.js';
import { FedstatError } from '../../src/errors.js';
import type { Federation } from '../../src/federation/federation.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile, type PartySecrets } from '../../src/federation/key-file.js';
import { addFlatInto, splitFlat } from '../../src/protocol/flat-slots.js';
import {
  openSurvivorSet,
  signSurvivorSet,
  survivorSetDigest,
  type SurvivorSet,
} from '../../src/protocol/survivor-set.js';
import { canonicalBytes } from '../../src/util/canonical-json.js';
import { TEST_SCHEMA } from '../helpers/test-federation.js';

let dir: string;
let federation: Federation;
let coordinator: PartySecrets;
let agency: PartySecrets;
const agencies = ['a1', 'a2', 'a3', 'a4'];
const queryDigest = new Uint8Array(32).fill(7);
const queryId = 'ab'.repeat(16);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-set-'));
  const init = await initFederation({
    outDir: dir,
    schema: TEST_SCHEMA,
    agencies: agencies.map((id, i) => ({ id, endpoint: `127.0.0.1:${7100 + i}` })),
  });
  federation = init.federation;
  coordinator = loadKeyFile(init.keyFiles['coordinator']!, federation);
  agency = loadKeyFile(init.keyFiles['a1']!, federation);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function set(over: Partial<SurvivorSet> = {}): SurvivorSet {
  return {
    v: 1,
    round: 2,
    queryId,
    federationId: federation.id,
    queryDigest: toHex(queryDigest),
    survivors: ['a1', 'a2', 'a4'],
    dropped: ['a3'],
    threshold: 3,
    ...over,
  };
}

function open(signed: { bytes: Uint8Array; signature: Uint8Array }): SurvivorSet {
  return openSurvivorSet(signed, federation, { queryId, queryDigest, agencies });
}

function refused(signed: { bytes: Uint8Array; signature: Uint8Array }): string {
  try {
    open(signed);
  } catch (e) {
    expect(e).toBeInstanceOf(FedstatError);
    expect((e as FedstatError).code).toBe('BAD_MESSAGE');
    return (e as FedstatError).message;
  }
  throw new Error('the survivor set was accepted');
}

describe('signed survivor set', () => {
  it('round-trips a genuine set', () => {
    expect(open(signSurvivorSet(set(), coordinator.signing.secretKey))).toEqual(set());
  });

  it('refuses a set signed by anyone but the coordinator', () => {
    const bytes = canonicalBytes(set());
    expect(refused({ bytes, signature: sign(survivorSetDigest(bytes), agency.signing.secretKey) })).toMatch(
      /coordinator key/,
    );
  });

  it('refuses sets for another query, other query bytes or another federation', () => {
    expect(refused(signSurvivorSet(set({ queryId: 'cd'.repeat(16) }), coordinator.signing.secretKey))).toMatch(
      /another query/,
    );
    expect(
      refused(signSurvivorSet(set({ queryDigest: toHex(new Uint8Array(32)) }), coordinator.signing.secretKey)),
    ).toMatch(/other query bytes/);
    expect(refused(signSurvivorSet(set({ federationId: '0'.repeat(64) }), coordinator.signing.secretKey))).toMatch(
      /another federation/,
    );
  });

  it("refuses any split that is not an exact partition of the query's agencies", () => {
    const bad: [string[], string[]][] = [
      [['a1', 'a2', 'a4'], []], // a3 missing
      [['a1', 'a2', 'a3', 'a4'], ['a3']], // a3 in both
      [['a1', 'a2', 'a4', 'a5'], ['a3']], // unknown agency
      [['a2', 'a1', 'a4'], ['a3']], // not sorted
      [['a1', 'a1', 'a2', 'a4'], ['a3']], // duplicate
    ];
    for (const [survivors, dropped] of bad) {
      expect(refused(signSurvivorSet(set({ survivors, dropped }), coordinator.signing.secretKey))).toMatch(
        /partition|sorted/,
      );
    }
  });

  it('refuses malformed and oversized sets with typed errors only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const signed = { bytes, signature: sign(survivorSetDigest(bytes), coordinator.signing.secretKey) };
        expect(() => open(signed)).toThrow(FedstatError);
      }),
      { numRuns: 200 },
    );
    const huge = new Uint8Array(300 * 1024);
    expect(() => open({ bytes: huge, signature: new Uint8Array(64) })).toThrow(/exceeds/);
  });
});

describe('flat slot vectors', () => {
  const modulus = 65537n;
  it('adding then subtracting a flat mask restores every slot; splitting puts slot s in ciphertext ⌊s/N⌋', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 9 }),
        fc.infiniteStream(fc.bigInt({ min: 0n, max: modulus - 1n })),
        (cts, n, values) => {
          const slots = Array.from({ length: cts }, () =>
            BigUint64Array.from(Array.from({ length: n }, () => values.next().value as bigint)),
          );
          const original = slots.map((s) => s.slice());
          const used = Math.max(1, cts * n - 2);
          const flat = BigUint64Array.from(Array.from({ length: used }, () => values.next().value as bigint));
          addFlatInto(slots, flat, modulus);
          slots.forEach((s, k) =>
            s.forEach((v, i) => {
              const f = k * n + i < used ? flat[k * n + i]! : 0n;
              expect(v).toBe((original[k]![i]! + f) % modulus);
            }),
          );
          addFlatInto(slots, flat, modulus, -1);
          expect(slots).toEqual(original);
          const split = splitFlat(flat, n, cts);
          split.forEach((s, k) => s.forEach((v, i) => expect(v).toBe(k * n + i < used ? flat[k * n + i]! : 0n)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a flat vector longer than the slots', () => {
    expect(() => addFlatInto([new BigUint64Array(2)], new BigUint64Array(3), modulus)).toThrow(RangeError);
  });
});
