import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import {
  FIELD_PRIME,
  combineShares,
  fieldFromBytes,
  fieldToBytes,
  lagrangeAtZero,
  randomFieldElement,
  splitSecret,
  type Share,
} from '../../src/secagg/shamir.js';

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

/** Miller–Rabin with the given bases: false means certainly composite. */
function probablyPrime(n: bigint, bases: readonly bigint[]): boolean {
  if (n < 4n) return n === 2n || n === 3n;
  if (n % 2n === 0n) return false;
  let d = n - 1n;
  let s = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    s++;
  }
  outer: for (const a of bases) {
    let x = modPow((a % (n - 3n)) + 2n, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) continue outer;
    }
    return false;
  }
  return true;
}

const SMALL_PRIMES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n, 43n, 47n, 53n, 59n, 61n, 67n, 71n];
const randomBases = (k: number): bigint[] =>
  Array.from({ length: k }, () => BigInt('0x' + randomBytes(40).toString('hex')));

function subsets(n: number, size: number): number[][] {
  const out: number[][] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    const members = [];
    for (let i = 0; i < n; i++) if (mask & (1 << i)) members.push(i);
    if (members.length === size) out.push(members);
  }
  return out;
}

const errorCode = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isFedstatError(e) ? e.code : (e as Error).name;
  }
  return undefined;
};

describe('shamir field', () => {
  it('p = 2^256 − 189 is prime (Miller–Rabin, 20 fixed and 44 random bases)', () => {
    expect(FIELD_PRIME).toBe(2n ** 256n - 189n);
    expect(probablyPrime(FIELD_PRIME, [...SMALL_PRIMES, ...randomBases(44)])).toBe(true);
  });

  it('p is the largest prime below 2^256, so random 32-byte strings are almost always field elements', () => {
    for (let k = 1n; k < 189n; k++) expect(probablyPrime(2n ** 256n - k, SMALL_PRIMES)).toBe(false);
  });

  it('encodes field elements as 32 big-endian bytes and rejects non-canonical ones', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: FIELD_PRIME - 1n }), (v) => {
        const bytes = fieldToBytes(v);
        expect(bytes.length).toBe(32);
        expect(BigInt('0x' + Buffer.from(bytes).toString('hex'))).toBe(v);
        expect(fieldFromBytes(bytes)).toBe(v);
      }),
    );
    expect(errorCode(() => fieldFromBytes(fieldToBytes(FIELD_PRIME - 1n).map((b, i) => (i === 31 ? b + 1 : b))))).toBe(
      'BAD_MESSAGE',
    );
    expect(errorCode(() => fieldFromBytes(new Uint8Array(32).fill(0xff)))).toBe('BAD_MESSAGE');
    expect(errorCode(() => fieldFromBytes(new Uint8Array(31)))).toBe('BAD_MESSAGE');
    expect(() => fieldToBytes(FIELD_PRIME)).toThrow(RangeError);
    expect(() => fieldToBytes(-1n)).toThrow(RangeError);
  });

  it('draws random field elements in range and without repeats', () => {
    const seen = new Set<bigint>();
    for (let i = 0; i < 200; i++) {
      const v = randomFieldElement();
      expect(v >= 0n && v < FIELD_PRIME).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(200);
  });
});

describe('shamir sharing', () => {
  it('exhaustively for n ≤ 10: every t-subset reconstructs, every (t−1)-subset does not', () => {
    let checked = 0;
    for (let n = 1; n <= 10; n++) {
      for (let t = 1; t <= n; t++) {
        const secret = randomFieldElement();
        const shares = splitSecret(secret, n, t);
        expect(shares.map((s) => s.x)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        for (const subset of subsets(n, t)) {
          expect(
            combineShares(
              subset.map((i) => shares[i]!),
              t,
            ),
          ).toBe(secret);
          checked++;
        }
        for (const subset of subsets(n, t - 1)) {
          const known = subset.map((i) => shares[i]!);
          expect(errorCode(() => combineShares(known, t))).toBe('UNAVAILABLE');
          // Padded with a guessed share at a missing x, or read as a lower-degree sharing: wrong.
          const missing = Array.from({ length: n }, (_, i) => i + 1).find((x) => !known.some((s) => s.x === x))!;
          expect(combineShares([...known, { x: missing, y: randomFieldElement() }], t)).not.toBe(secret);
          if (t > 1) expect(combineShares(known, t - 1)).not.toBe(secret);
          checked++;
        }
      }
    }
    expect(checked).toBe(2 * (2 ** 11 - 2 - 10)); // Σ_{n≤10} [(2^n − 1) t-subsets + (2^n − 1) (t−1)-subsets]
  });

  it('reconstructs from any threshold-many shares in any order (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: FIELD_PRIME - 1n }),
        fc.integer({ min: 1, max: 40 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.integer({ min: 1, max: n }),
            fc.shuffledSubarray(
              Array.from({ length: n }, (_, i) => i),
              { minLength: n, maxLength: n },
            ),
          ),
        ),
        (secret, [n, t, order]) => {
          const shares = splitSecret(secret, n, t);
          const picked = order.map((i) => shares[i]!);
          expect(combineShares(picked.slice(0, t), t)).toBe(secret);
          expect(combineShares(picked, t)).toBe(secret);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is linear: share-wise sums reconstruct the sum of secrets (independent check of the polynomial arithmetic)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: FIELD_PRIME - 1n }),
        fc.bigInt({ min: 0n, max: FIELD_PRIME - 1n }),
        fc.integer({ min: 1, max: 12 }),
        (a, b, n) => {
          const t = Math.ceil(n / 2);
          const sa = splitSecret(a, n, t);
          const sb = splitSecret(b, n, t);
          const sum: Share[] = sa.map((s, i) => ({ x: s.x, y: (s.y + sb[i]!.y) % FIELD_PRIME }));
          expect(combineShares(sum, t)).toBe((a + b) % FIELD_PRIME);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('Lagrange coefficients at 0 agree with a direct per-coefficient computation', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 12 }), (xs) => {
        const lambdas = lagrangeAtZero(xs);
        xs.forEach((xj, j) => {
          let num = 1n;
          let den = 1n;
          for (const xm of xs) {
            if (xm === xj) continue;
            num = (num * BigInt(xm)) % FIELD_PRIME;
            den = (den * (((BigInt(xm - xj) % FIELD_PRIME) + FIELD_PRIME) % FIELD_PRIME)) % FIELD_PRIME;
          }
          expect(lambdas[j]).toBe((num * modPow(den, FIELD_PRIME - 2n, FIELD_PRIME)) % FIELD_PRIME);
        });
      }),
      { numRuns: 50 },
    );
  });

  it('rejects malformed shares and arguments', () => {
    const shares = splitSecret(5n, 4, 2);
    expect(errorCode(() => combineShares([shares[0]!, shares[0]!], 2))).toBe('BAD_MESSAGE');
    expect(errorCode(() => combineShares([shares[0]!, { x: 0, y: 1n }], 2))).toBe('BAD_MESSAGE');
    expect(errorCode(() => combineShares([shares[0]!, { x: 1.5, y: 1n }], 2))).toBe('BAD_MESSAGE');
    expect(errorCode(() => combineShares([shares[0]!, { x: 2, y: FIELD_PRIME }], 2))).toBe('BAD_MESSAGE');
    expect(errorCode(() => combineShares([shares[0]!, { x: 2, y: -1n }], 2))).toBe('BAD_MESSAGE');
    expect(errorCode(() => combineShares([shares[0]!], 2))).toBe('UNAVAILABLE');
    expect(() => combineShares(shares, 0)).toThrow(RangeError);
    expect(() => splitSecret(5n, 3, 4)).toThrow(RangeError);
    expect(() => splitSecret(5n, 0, 0)).toThrow(RangeError);
    expect(() => splitSecret(FIELD_PRIME, 3, 2)).toThrow(RangeError);
  });
});
