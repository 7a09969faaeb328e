import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import {
  checkParams,
  colludersTolerated,
  defaultThreshold,
  encodeExpiry,
  encodeId,
  isValidModulus,
  minimumThreshold,
  type SecAggParams,
} from '../../src/secagg/params.js';

const PRIMES = [3n, 97n, 65537n, 2n ** 31n - 1n, 2n ** 61n - 1n, 2n ** 63n - 25n];
const base: SecAggParams = {
  federationId: 'fed',
  queryId: 'q',
  participants: ['a', 'b', 'c', 'd'],
  threshold: 3,
  length: 8,
  modulus: 97n,
};

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof FedstatError ? e.code : (e as Error).name;
  }
  return 'ok';
}

describe('thresholds', () => {
  it('minimum: 2t ≥ n + 2 (a majority for even n, one more for odd n), 1 for n = 1', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10, 11, 64].map(minimumThreshold)).toEqual([1, 2, 3, 3, 4, 4, 5, 6, 7, 33]);
    for (let n = 2; n <= 200; n++) {
      const t = minimumThreshold(n);
      expect(2 * t).toBeGreaterThanOrEqual(n + 2);
      expect(2 * (t - 1)).toBeLessThan(n + 2);
    }
  });

  it('default: ⌈2n/3⌉, never below the minimum nor above n', () => {
    expect([1, 2, 3, 4, 6, 9, 10, 30, 64].map(defaultThreshold)).toEqual([1, 2, 3, 3, 4, 6, 7, 20, 43]);
    for (let n = 1; n <= 200; n++) {
      expect(defaultThreshold(n)).toBeGreaterThanOrEqual(minimumThreshold(n));
      expect(defaultThreshold(n)).toBeLessThanOrEqual(n);
    }
  });

  it('colluders tolerated against an equivocating coordinator: 2t − n − 2', () => {
    expect(colludersTolerated(10, defaultThreshold(10))).toBe(2);
    expect(colludersTolerated(64, defaultThreshold(64))).toBe(20);
    expect(colludersTolerated(10, 10)).toBe(8);
    expect(colludersTolerated(5, minimumThreshold(5))).toBe(1);
    expect(colludersTolerated(4, minimumThreshold(4))).toBe(0);
  });
});

describe('checkParams', () => {
  it('accepts valid parameters and freezes them', () => {
    const p = checkParams(base);
    expect(p).toEqual(base);
    expect(Object.isFrozen(p) && Object.isFrozen(p.participants)).toBe(true);
    expect(checkParams({ ...base, participants: ['Z', 'a', 'é', '中'], threshold: 3 }).participants).toEqual([
      'Z',
      'a',
      'é',
      '中',
    ]);
  });

  it('refuses malformed parameters with BAD_MESSAGE and unsafe thresholds with POLICY_REFUSED', () => {
    const cases: [Partial<SecAggParams> | Record<string, unknown>, string][] = [
      [{ participants: ['b', 'a', 'c', 'd'] }, 'BAD_MESSAGE'],
      [{ participants: ['a', 'a', 'c', 'd'] }, 'BAD_MESSAGE'],
      [{ participants: ['a', 'b', 'c', ''] }, 'BAD_MESSAGE'],
      [{ participants: ['a', 'b', 'c', 7] }, 'BAD_MESSAGE'],
      [{ participants: [] }, 'BAD_MESSAGE'],
      [{ participants: 'abcd' }, 'BAD_MESSAGE'],
      [{ queryId: '' }, 'BAD_MESSAGE'],
      [{ federationId: 'x'.repeat(257) }, 'BAD_MESSAGE'],
      [{ threshold: 2 }, 'POLICY_REFUSED'],
      [{ threshold: 5 }, 'POLICY_REFUSED'],
      [{ threshold: 3.5 }, 'BAD_MESSAGE'],
      [{ length: 0 }, 'BAD_MESSAGE'],
      [{ length: 32 * 8192 + 1 }, 'BAD_MESSAGE'],
      [{ modulus: 91n }, 'BAD_MESSAGE'],
      [{ modulus: 97 }, 'BAD_MESSAGE'],
    ];
    for (const [change, code] of cases)
      expect([change, codeOf(() => checkParams({ ...base, ...change }))]).toEqual([change, code]);
    expect(codeOf(() => checkParams({ ...base, length: 32 * 8192 }))).toBe('ok');
  });
});

describe('encodings', () => {
  it('length-prefixes ids and encodes expiries as 8 big-endian bytes', () => {
    expect([...encodeId('中', 'id')]).toEqual([0, 3, 0xe4, 0xb8, 0xad]);
    expect(() => encodeId('', 'id')).toThrow(RangeError);
    expect(() => encodeId('é'.repeat(129), 'id')).toThrow(RangeError); // 258 UTF-8 bytes
    expect([...encodeExpiry(0x0102030405)]).toEqual([0, 0, 0, 1, 2, 3, 4, 5]);
    expect(() => encodeExpiry(-1)).toThrow(RangeError);
  });
});

describe('modulus check', () => {
  it('accepts primes 2 < m < 2^63 and nothing else', () => {
    for (const p of PRIMES) expect(isValidModulus(p)).toBe(true);
    expect(isValidModulus(1152921504606830593n)).toBe(true); // SEAL's PlainModulus.Batching(8192, 60)
    expect(isValidModulus(1125899906826241n)).toBe(true); // SEAL's PlainModulus.Batching(4096, 50)
    // Carmichael numbers and strong pseudoprimes to small bases (the last one to every base up to 23) are composite.
    for (const c of [
      1n,
      2n,
      9n,
      561n,
      2047n,
      3215031751n,
      3825123056546413051n,
      2n ** 62n,
      (2n ** 31n - 1n) * (2n ** 31n - 19n),
    ]) {
      expect(isValidModulus(c)).toBe(false);
    }
    expect(isValidModulus(2n ** 63n + 29n)).toBe(false);
    expect(isValidModulus(97)).toBe(false);
  });
});
