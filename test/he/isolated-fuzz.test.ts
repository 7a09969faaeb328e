import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import type { HeEncryptor } from '../../src/he/encryptor.js';
import { IsolatedHe } from '../../src/he/isolated/isolated-he.js';
import type { HeKeyPair } from '../../src/he/keys.js';
import { INSECURE_BFV_N4096_T50 } from './insecure-presets.js';
import { createInsecureHe, type InsecureHe } from './insecure-he.js';

const CASES = Number(process.env['FEDSTAT_FUZZ_CASES'] ?? 10_000);
/** Cases before the RSS baseline: allocator arenas and both V8 heaps reach their working size by ~1,000. */
const WARMUP = 1024;
/** Same budget as test/he/memory.test.ts: one leaked N=4096 ciphertext per case would be 1.3 GB. */
const MAX_GROWTH_BYTES = 64 * 2 ** 20;
/** Requests in flight at once (the worker still handles them one by one, in order). */
const PIPELINE = 32;
/** First coefficient byte of a serialized ciphertext (see ciphertext-layout.ts). */
const DATA = 113;

let keys: HeKeyPair;
let enc: HeEncryptor;

let fixture: InsecureHe;

beforeAll(async () => {
  fixture = await createInsecureHe();
  ({ keys, enc } = fixture);
});
afterAll(() => {
  fixture[Symbol.dispose]();
});

/** A seeded xorshift128+ so a failing run can be replayed with FEDSTAT_FUZZ_SEED. */
function prng(seed: bigint): (n: number) => number {
  let a = (seed & 0xffffffffffffffffn) | 1n;
  let b = (seed >> 64n) | 1n;
  return (n) => {
    let x = a;
    const y = b;
    a = y;
    x ^= (x << 23n) & 0xffffffffffffffffn;
    b = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number(((b + y) & 0xffffffffffffffffn) % BigInt(n));
  };
}

type Kind =
  | 'random'
  | 'truncated'
  | 'extended'
  | 'bit-flips'
  | 'header-flip'
  | 'coefficient-flip'
  | 'random-body'
  | 'overwrite'
  | 'wrong-count';
const KINDS: readonly Kind[] = [
  'random',
  'truncated',
  'extended',
  'bit-flips',
  'header-flip',
  'coefficient-flip',
  'random-body',
  'overwrite',
  'wrong-count',
];

/** One malformed (or, for some flips, structurally valid) contribution derived from `valid`. */
function mutant(kind: Kind, valid: Uint8Array, rand: (n: number) => number): Uint8Array[] {
  const flip = (bytes: Uint8Array, bit: number): void => {
    bytes[bit >> 3]! ^= 1 << (bit & 7);
  };
  const out = valid.slice();
  switch (kind) {
    case 'random':
      return [randomBytes(rand(valid.length + 64))];
    case 'truncated':
      return [valid.slice(0, rand(valid.length))];
    case 'extended': {
      const longer = new Uint8Array(valid.length + 1 + rand(64));
      longer.set(valid);
      return [longer];
    }
    case 'bit-flips':
      for (let i = 0, k = 1 + rand(8); i < k; i++) flip(out, rand(out.length * 8));
      return [out];
    case 'header-flip':
      flip(out, rand(DATA * 8));
      return [out];
    case 'coefficient-flip':
      flip(out, DATA * 8 + rand((out.length - DATA) * 8));
      return [out];
    case 'random-body':
      out.set(randomBytes(out.length - DATA), DATA);
      return [out];
    case 'overwrite': {
      const at = rand(out.length);
      out.set(randomBytes(Math.min(1 + rand(256), out.length - at)), at);
      return [out];
    }
    case 'wrong-count':
      return rand(2) === 0 ? [] : [valid, valid];
  }
}

describe('isolated HE fuzz', () => {
  it(`${CASES} random, truncated and bit-flipped contributions: typed errors, no crash, flat RSS`, async () => {
    const seed =
      process.env['FEDSTAT_FUZZ_SEED'] !== undefined
        ? BigInt(process.env['FEDSTAT_FUZZ_SEED'])
        : (randomBytes(16).readBigUInt64LE() << 64n) | randomBytes(8).readBigUInt64LE();
    const rand = prng(seed);
    await using he = await IsolatedHe.create(INSECURE_BFV_N4096_T50, { secretKey: keys.secretKey });
    const pool = Array.from({ length: 8 }, (_, i) => enc.encrypt(BigUint64Array.from([BigInt(i), 1n])));
    const acc = await he.accumulator(1);
    const outcomes = new Map<string, number>();
    const count = (key: string): void => {
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    };
    let accepted = 0;
    let baseline = 0;
    const t0 = performance.now();

    /**
     * One case through the accumulator, its bytes moved to the worker as a coordinator hands over
     * payloads it owns; every tenth case first goes (copied) through decrypt, the key authority's path.
     */
    const runCase = async (i: number): Promise<void> => {
      const kind = KINDS[rand(KINDS.length)]!;
      const contribution = mutant(kind, pool[rand(pool.length)]!, rand);
      if (i % 10 === 0 && contribution.length === 1) {
        try {
          await he.decrypt(contribution);
          count('decrypt: decrypted');
        } catch (e) {
          if (!(e instanceof FedstatError))
            expect.unreachable(`decrypt case ${i} (${kind}, seed ${seed}) failed untyped: ${String(e)}`);
          count(`decrypt: ${e.code}`);
        }
      }
      try {
        await acc.add(contribution, { transfer: true });
        accepted++;
        count(`${kind}: accepted`);
      } catch (e) {
        if (!(e instanceof FedstatError) || !['BAD_MESSAGE', 'MESSAGE_TOO_LARGE'].includes(e.code)) {
          expect.unreachable(`case ${i} (${kind}, seed ${seed}) failed untyped: ${String(e)}`);
        }
        expect(e.message.length).toBeLessThan(400); // one line, no echoed bytes
        count(`${kind}: ${e.code}`);
      }
    };

    for (let i = 0; i < CASES + WARMUP; i += PIPELINE) {
      if (i === WARMUP) {
        // WARMUP is a multiple of PIPELINE
        globalThis.gc?.();
        baseline = process.memoryUsage().rss;
      }
      await Promise.all(Array.from({ length: PIPELINE }, (_, j) => runCase(i + j)));
    }
    globalThis.gc?.();
    const growth = process.memoryUsage().rss - baseline;
    const seconds = (performance.now() - t0) / 1000;
    const table = [...outcomes]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `  ${k}: ${n}`)
      .join('\n');
    console.log(
      `isolated fuzz (seed ${seed}): ${CASES + WARMUP} cases in ${seconds.toFixed(1)} s, ${accepted} accepted, RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB\n${table}`,
    );

    // Only a flip or overwrite inside the coefficients can leave a structurally valid ciphertext
    // (coefficients still below their primes): accepted, and garbage once decrypted. Every other
    // kind of damage is caught by the header and layout checks, every time.
    for (const kind of ['random', 'truncated', 'extended', 'header-flip', 'random-body', 'wrong-count'] as const) {
      expect(outcomes.has(`${kind}: accepted`), kind).toBe(false);
    }
    expect(accepted).toBeGreaterThan(0);
    expect(acc.contributions).toBe(accepted);
    expect(await he.stats()).toMatchObject({ restarts: 0, sealExceptions: 0 }); // SEAL never refused a byte
    expect(growth).toBeLessThan(MAX_GROWTH_BYTES);
    // Still serving: a fresh sum of valid contributions, with a mask removed, decrypts exactly.
    using fresh = await he.accumulator(1);
    for (const ct of pool) await fresh.add([ct]);
    await fresh.subtractPlain([BigUint64Array.from([0n, 3n])]);
    const [slots] = await he.decrypt(await fresh.sum());
    expect(Array.from(slots!.slice(0, 3))).toEqual([28n, 5n, 0n]);
    acc.dispose();
  }, 180_000);
});
