import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { x25519PublicKey, x25519SharedSecret } from '../../src/crypto/x25519.js';
import {
  addMaskInto,
  expandMask,
  pairwiseCommitment,
  pairwiseSeed,
  selfMaskCommitment,
  selfMaskSeed,
} from '../../src/secagg/masks.js';

interface Kat {
  chacha20ZeroKeyZeroNonceCounter0: string;
  expandZeroSeed: { modulus: string; first: string[] }[];
  pairwiseSeed: {
    shared: string;
    federationId: string;
    queryId: string;
    expiresAt: number;
    a: string;
    b: string;
    seed: string;
    commitment: string;
  };
  selfMaskSeed: { b: string; federationId: string; queryId: string; party: string; seed: string; commitment: string };
}

const kat = JSON.parse(readFileSync(new URL('../vectors/secagg-masks.json', import.meta.url), 'utf8')) as Kat;
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const PRIMES = [3n, 97n, 65537n, 2n ** 31n - 1n, 1152921504606830593n, 2n ** 61n - 1n, 2n ** 63n - 25n];
const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Reference expansion with BigInt and DataView: slow, obviously following the definition. */
function referenceExpand(seed: Uint8Array, length: number, modulus: bigint): bigint[] {
  const bits = BigInt(modulus.toString(2).length);
  const cipher = createCipheriv('chacha20', seed, new Uint8Array(16));
  const out: bigint[] = [];
  while (out.length < length) {
    const block = cipher.update(new Uint8Array(64));
    const view = new DataView(block.buffer, block.byteOffset, 64);
    for (let off = 0; off < 64 && out.length < length; off += 8) {
      const v = view.getBigUint64(off, true) & ((1n << bits) - 1n);
      if (v < modulus) out.push(v);
    }
  }
  return out;
}

describe('mask seeds', () => {
  it('match the known answers computed with an independent HKDF', () => {
    const p = kat.pairwiseSeed;
    expect(toHex(pairwiseSeed(hex(p.shared), p))).toBe(p.seed);
    expect(toHex(pairwiseSeed(hex(p.shared), { ...p, a: p.b, b: p.a }))).toBe(p.seed);
    const s = kat.selfMaskSeed;
    expect(toHex(selfMaskSeed(BigInt(s.b), s))).toBe(s.seed);
  });

  it('have commitments that match the known answers and are equal on both sides of a pair', () => {
    const p = kat.pairwiseSeed;
    expect(toHex(pairwiseCommitment(hex(p.seed), p))).toBe(p.commitment);
    expect(toHex(pairwiseCommitment(hex(p.seed), { ...p, a: p.b, b: p.a }))).toBe(p.commitment);
    expect(toHex(pairwiseCommitment(hex(p.seed), { ...p, queryId: 'other' }))).not.toBe(p.commitment);
    const s = kat.selfMaskSeed;
    expect(toHex(selfMaskCommitment(BigInt(s.b), s))).toBe(s.commitment);
    expect(toHex(selfMaskCommitment(BigInt(s.b) + 1n, s))).not.toBe(s.commitment);
    expect(toHex(selfMaskCommitment(BigInt(s.b), { ...s, party: 'other' }))).not.toBe(s.commitment);
  });

  it('both sides of a pair derive the same pairwise seed from their own keys', () => {
    fc.assert(
      fc.property(seedArb, seedArb, fc.string({ minLength: 1, maxLength: 20 }), (ska, skb, queryId) => {
        const ctx = { federationId: 'fed', queryId, expiresAt: 1000, a: 'agency-a', b: 'agency-b' };
        const seenByA = pairwiseSeed(x25519SharedSecret(ska, x25519PublicKey(skb)), ctx);
        const seenByB = pairwiseSeed(x25519SharedSecret(skb, x25519PublicKey(ska)), { ...ctx, a: ctx.b, b: ctx.a });
        expect(toHex(seenByA)).toBe(toHex(seenByB));
      }),
      { numRuns: 30 },
    );
  });

  it('differ for another query, federation or party', () => {
    const shared = new Uint8Array(randomBytes(32));
    const base = { federationId: 'fed', queryId: 'q1', expiresAt: 1000, a: 'a', b: 'b' };
    const variants = [
      base,
      { ...base, queryId: 'q2' },
      { ...base, expiresAt: 1001 },
      { ...base, federationId: 'fed2' },
      { ...base, b: 'c' },
      { ...base, a: 'c' },
      // Length prefixes keep the encoding injective: moving a character between fields changes the seed.
      { ...base, queryId: 'q1a', a: 'b', b: 'c' },
      { ...base, queryId: 'q1', a: 'ab', b: 'c' },
    ];
    const seeds = new Set(variants.map((v) => toHex(pairwiseSeed(shared, v))));
    expect(seeds.size).toBe(variants.length);
    const selfBase = { federationId: 'fed', queryId: 'q1', party: 'a' };
    const selfVariants = [
      selfBase,
      { ...selfBase, queryId: 'q2' },
      { ...selfBase, federationId: 'f' },
      { ...selfBase, party: 'b' },
    ];
    const selfSeeds = new Set(selfVariants.map((v) => toHex(selfMaskSeed(7n, v))));
    selfSeeds.add(toHex(selfMaskSeed(8n, selfBase)));
    expect(selfSeeds.size).toBe(selfVariants.length + 1);
  });

  it('reject malformed arguments', () => {
    const shared = new Uint8Array(32);
    expect(() =>
      pairwiseSeed(new Uint8Array(31), { federationId: 'f', queryId: 'q', expiresAt: 0, a: 'a', b: 'b' }),
    ).toThrow(TypeError);
    expect(() => pairwiseSeed(shared, { federationId: 'f', queryId: 'q', expiresAt: 0, a: 'a', b: 'a' })).toThrow(
      RangeError,
    );
    expect(() => pairwiseSeed(shared, { federationId: 'f', queryId: '', expiresAt: 0, a: 'a', b: 'b' })).toThrow(
      RangeError,
    );
    expect(() =>
      pairwiseSeed(shared, { federationId: 'f', queryId: 'x'.repeat(257), expiresAt: 0, a: 'a', b: 'b' }),
    ).toThrow(RangeError);
    expect(() => pairwiseSeed(shared, { federationId: 'f', queryId: 'q', expiresAt: -1, a: 'a', b: 'b' })).toThrow(
      RangeError,
    );
    expect(() => pairwiseSeed(shared, { federationId: 'f', queryId: 'q', expiresAt: 1.5, a: 'a', b: 'b' })).toThrow(
      RangeError,
    );
    expect(() => selfMaskSeed(-1n, { federationId: 'f', queryId: 'q', party: 'a' })).toThrow(RangeError);
  });
});

describe('mask expansion', () => {
  it('uses the standard ChaCha20 keystream (RFC 8439 A.1 #1) and the documented word reading', () => {
    const ks = createCipheriv('chacha20', new Uint8Array(32), new Uint8Array(16)).update(new Uint8Array(64));
    expect(toHex(ks)).toBe(kat.chacha20ZeroKeyZeroNonceCounter0);
    for (const v of kat.expandZeroSeed) {
      const got = expandMask(new Uint8Array(32), v.first.length, BigInt(v.modulus));
      expect([...got].map(String)).toEqual(v.first);
    }
  });

  it('equals a BigInt reference expansion, is deterministic per seed, and stays below the modulus', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 0, max: 300 }), fc.constantFrom(...PRIMES), (seed, length, modulus) => {
        const mask = expandMask(seed, length, modulus);
        expect([...mask]).toEqual(referenceExpand(seed, length, modulus));
        expect([...expandMask(seed, length, modulus)]).toEqual([...mask]);
        expect(mask.every((v) => v < modulus)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('is a prefix-stable stream across chunk refills (long masks equal the reference too)', () => {
    const seed = new Uint8Array(randomBytes(32));
    const long = expandMask(seed, 20_000, 97n); // acceptance 97/128: several keystream chunks
    expect([...long.subarray(0, 5000)]).toEqual([...expandMask(seed, 5000, 97n)]);
    expect([...long]).toEqual(referenceExpand(seed, 20_000, 97n));
  });

  it('is uniform mod 97 (chi-square over 97,000 values from a fixed seed)', () => {
    const counts = new Array<number>(97).fill(0);
    for (const v of expandMask(new Uint8Array(32).fill(7), 97_000, 97n)) counts[Number(v)]!++;
    const chi2 = counts.reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
    // 96 degrees of freedom: mean 96, sd ≈ 13.9; a biased reduction (e.g. mod of 7-bit values) scores in the thousands.
    expect(chi2).toBeLessThan(180);
    expect(Math.min(...counts)).toBeGreaterThan(850);
  });

  it('rejects bad seeds, lengths and moduli', () => {
    expect(() => expandMask(new Uint8Array(16), 4, 97n)).toThrow(TypeError);
    expect(() => expandMask(new Uint8Array(32), -1, 97n)).toThrow(RangeError);
    expect(() => expandMask(new Uint8Array(32), 32 * 8192 + 1, 97n)).toThrow(RangeError);
    for (const m of [2n, 4n, 91n, 2n ** 63n + 29n, 2n ** 64n - 59n])
      expect(() => expandMask(new Uint8Array(32), 4, m)).toThrow(RangeError);
  });
});

describe('addMaskInto', () => {
  const vectorPair = (m: bigint): fc.Arbitrary<[bigint[], bigint[]]> =>
    fc
      .integer({ min: 0, max: 40 })
      .chain((n) =>
        fc.tuple(
          fc.array(fc.bigInt({ min: 0n, max: m - 1n }), { minLength: n, maxLength: n }),
          fc.array(fc.bigInt({ min: 0n, max: m - 1n }), { minLength: n, maxLength: n }),
        ),
      );

  it('adds and subtracts mod the modulus like BigInt arithmetic', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PRIMES).chain((m) => fc.tuple(fc.constant(m), vectorPair(m))),
        fc.constantFrom(1 as const, -1 as const),
        ([m, [a, b]], sign) => {
          const target = BigUint64Array.from(a);
          addMaskInto(target, BigUint64Array.from(b), sign, m);
          expect([...target]).toEqual(a.map((x, i) => (((x + BigInt(sign) * b[i]!) % m) + m) % m));
          addMaskInto(target, BigUint64Array.from(b), sign === 1 ? -1 : 1, m);
          expect([...target]).toEqual(a);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles the extremes of a 63-bit modulus', () => {
    const m = 2n ** 63n - 25n;
    const t = BigUint64Array.from([m - 1n, 0n, m - 1n, 2n ** 32n - 1n]);
    addMaskInto(t, BigUint64Array.from([m - 1n, m - 1n, 1n, 1n]), 1, m);
    expect([...t]).toEqual([m - 2n, m - 1n, 0n, 2n ** 32n]);
    addMaskInto(t, BigUint64Array.from([m - 1n, m - 1n, 1n, 2n ** 32n]), -1, m);
    expect([...t]).toEqual([m - 1n, 0n, m - 1n, 0n]);
  });

  it('refuses values at or above the modulus and mismatched lengths', () => {
    expect(() => addMaskInto(BigUint64Array.from([97n]), BigUint64Array.from([1n]), 1, 97n)).toThrow(RangeError);
    expect(() => addMaskInto(BigUint64Array.from([1n]), BigUint64Array.from([2n ** 40n]), -1, 97n)).toThrow(RangeError);
    expect(() => addMaskInto(new BigUint64Array(2), new BigUint64Array(3), 1, 97n)).toThrow(RangeError);
  });
});
