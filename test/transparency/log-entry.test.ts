/**
 * Log entries: every kind the system emits round-trips through entryFromEvent/openEntry; the
 * signature is a plain Ed25519 signature over the domain tag and canonical JSON, checked here
 * with node:crypto directly (an independent verifier); forged, foreign, non-canonical, reshaped
 * and bit-flipped entries are refused with the right problem; the author rules hold.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/transparency/events.js';
import { sign } from '../../src/crypto/ed25519.js';
import { isFedstatError } from '../../src/errors.js';
import { party } from '../../src/federation/federation.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import {
  authorProblem,
  decodeEntry,
  ENTRY_DOMAIN,
  entryFromEvent,
  openEntry,
} from '../../src/transparency/log-entry.js';
import { createAuditFixture, queryEvents, type AuditFixture } from '../auditor/audit-fixture.js';

let fx: AuditFixture;
beforeAll(async () => {
  fx = await createAuditFixture();
}, 60_000);
afterAll(() => fx.close());

const problemOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (isFedstatError(e, 'BAD_MESSAGE')) return e.details['problem'] as string;
    throw e;
  }
  return 'accepted';
};

/** Every kind once, with its proper author, plus a key-authority refusal and an exact release. */
function allKinds(): { event: AuditEvent; author: string }[] {
  const q = queryEvents('q1', ['a1', 'a2'], 1_800_000_000_000, {
    coordinator: fx.coordinator,
    keyAuthority: fx.keyAuthority,
  });
  return [
    ...q,
    {
      author: 'a3',
      event: {
        type: 'refusal',
        at: 5,
        queryId: 'q1',
        agencyId: 'a3',
        reason: 'no budget for dataset residents; start it with --budget',
      },
    },
    {
      author: fx.keyAuthority,
      event: { type: 'refusal', at: 6, queryId: 'q9', agencyId: fx.keyAuthority, reason: '锦江区 unknown query' },
    },
    {
      author: fx.coordinator,
      event: { type: 'release', at: 7, queryId: 'q2', contributors: ['a1'], rows: 0, suppressed: 3, rho: null },
    },
  ];
}

/** The raw 32-byte public key as a node:crypto KeyObject (SPKI DER prefix for Ed25519). */
const nodeKey = (raw: Uint8Array) =>
  createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
    format: 'der',
    type: 'spki',
  });

describe('log entries', () => {
  it('round-trip every kind with its author, in the documented layout', () => {
    for (const { event, author } of allKinds()) {
      const bytes = entryFromEvent(event, author, fx.keys.get(author)!);
      const opened = openEntry(bytes, fx.federation);
      expect(opened.event).toEqual(event);
      expect(opened.author.id).toBe(author);
      expect(authorProblem(opened.event, opened.author)).toBeNull();
      // Layout: tag ‖ canonical JSON {author, body, kind} ‖ signature, checked independently.
      const { type, ...body } = event;
      const json = Buffer.from(canonicalJson({ author, body, kind: type }), 'utf8');
      expect(Buffer.from(bytes.subarray(0, 30)).toString('ascii')).toBe(ENTRY_DOMAIN);
      expect(Buffer.from(bytes.subarray(30, bytes.length - 64)).equals(json)).toBe(true);
      const signature = bytes.subarray(bytes.length - 64);
      expect(
        nodeVerify(
          null,
          bytes.subarray(0, bytes.length - 64),
          nodeKey(party(fx.federation, author).signingKey),
          signature,
        ),
      ).toBe(true);
    }
  });

  it('round-trip arbitrary strings, ids and plans (property)', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.jsonValue(),
        fc.nat(),
        (reason, queryId, plan, at) => {
          const events: AuditEvent[] = [
            { type: 'refusal', at, queryId, agencyId: 'a2', reason },
            { type: 'query', at, queryId, digest: 'ab'.repeat(32), sql: reason, plan, agencies: ['a1', 'a2'] },
          ];
          for (const event of events) {
            const author = event.type === 'query' ? fx.coordinator : 'a2';
            const opened = openEntry(entryFromEvent(event, author, fx.keys.get(author)!), fx.federation);
            // JSON has no -0: the decoded plan is the JSON reading of the canonical text.
            expect(opened.event).toEqual(JSON.parse(JSON.stringify(event)));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuse a signature by another key, an unknown author and a bad signature', () => {
    const event: AuditEvent = { type: 'contribution', at: 1, queryId: 'q1', agencyId: 'a1', digest: 'ab'.repeat(32) };
    expect(problemOf(() => openEntry(entryFromEvent(event, 'a1', fx.keys.get('a2')!), fx.federation))).toBe(
      'bad-signature',
    );
    expect(problemOf(() => openEntry(entryFromEvent(event, 'mallory', fx.keys.get('a1')!), fx.federation))).toBe(
      'unknown-author',
    );
    const bytes = entryFromEvent(event, 'a1', fx.keys.get('a1')!);
    bytes[bytes.length - 1]! ^= 1;
    expect(problemOf(() => openEntry(bytes, fx.federation))).toBe('bad-signature');
  });

  it('refuse entries that are validly signed but not canonical or not the event shape', () => {
    const key = fx.keys.get('a1')!;
    const signed = (json: string, tag = ENTRY_DOMAIN): Uint8Array => {
      const m = Buffer.concat([Buffer.from(tag, 'ascii'), Buffer.from(json, 'utf8')]);
      return new Uint8Array(Buffer.concat([m, sign(m, key)]));
    };
    const body = { at: 1, queryId: 'q1', agencyId: 'a1', digest: 'ab'.repeat(32) };
    const good = canonicalJson({ author: 'a1', body, kind: 'contribution' });
    expect(problemOf(() => openEntry(signed(good), fx.federation))).toBe('accepted');
    const cases = [
      JSON.stringify({ kind: 'contribution', author: 'a1', body }), // keys out of order
      good.replace(':', ': '), // whitespace
      canonicalJson({ author: 'a1', body: { ...body, extra: 1 }, kind: 'contribution' }),
      canonicalJson({ author: 'a1', body: { ...body, digest: 'AB'.repeat(32) }, kind: 'contribution' }),
      canonicalJson({ author: 'a1', body: { ...body, at: -1 }, kind: 'contribution' }),
      canonicalJson({ author: 'a1', body, kind: 'payment' }),
      canonicalJson({ author: 'a1', body, kind: 'contribution', v: 2 }),
      canonicalJson({
        author: 'a1',
        body: {
          at: 1,
          queryId: 'q',
          agencyId: 'a1',
          dataset: 'd',
          rho: '0.5',
          spent: '1/2',
          budget: '1/1',
          ledgerHead: '',
        },
        kind: 'budget',
      }),
      '[1,2]',
    ];
    for (const json of cases)
      expect(
        problemOf(() => openEntry(signed(json), fx.federation)),
        json,
      ).toBe('malformed');
    expect(problemOf(() => openEntry(signed(good, 'fedstat/transparency/entry/v2\n'), fx.federation))).toBe(
      'malformed',
    );
    expect(problemOf(() => decodeEntry(new Uint8Array(10)))).toBe('malformed');
  });

  it('detect every single-byte change (sampled positions and values)', () => {
    const bytes = entryFromEvent(allKinds()[0]!.event, fx.coordinator, fx.keys.get(fx.coordinator)!);
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const copy = Uint8Array.from(bytes);
        copy[pos]! ^= x;
        expect(problemOf(() => openEntry(copy, fx.federation))).not.toBe('accepted');
      }),
      { numRuns: 300 },
    );
  });

  it('name the roles that may log each kind', () => {
    const ev = (type: string): AuditEvent => allKinds().find((k) => k.event.type === type)!.event;
    const coord = party(fx.federation, fx.coordinator);
    const ka = party(fx.federation, fx.keyAuthority);
    const a1 = party(fx.federation, 'a1');
    expect(authorProblem(ev('query'), a1)).toMatch(/must be signed by the coordinator/);
    expect(authorProblem(ev('decryption'), coord)).toMatch(/key-authority/);
    expect(authorProblem(ev('release'), ka)).toMatch(/coordinator/);
    expect(authorProblem(ev('contribution'), coord)).toMatch(/agency/);
    expect(authorProblem(ev('budget'), party(fx.federation, 'a2'))).toMatch(/in the name of a1/);
    expect(
      authorProblem({ type: 'refusal', at: 1, queryId: 'q', agencyId: fx.keyAuthority, reason: 'r' }, ka),
    ).toBeNull();
  });

  it('reject a malformed event at signing time (a caller bug)', () => {
    const bad = { type: 'contribution', at: 1.5, queryId: 'q', agencyId: 'a1', digest: 'ab'.repeat(32) } as AuditEvent;
    expect(() => entryFromEvent(bad, 'a1', fx.keys.get('a1')!)).toThrow(RangeError);
  });
});
