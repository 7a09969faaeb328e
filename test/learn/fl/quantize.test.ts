/**
 * Update quantization (src/learn/fl/quantize.ts): randomized rounding is unbiased and exact in its
 * probabilities, every value lands within 1 of x·2^f, agencies' quantized sums dequantize to the
 * float sum within A·2^−f, clipping never exceeds c, and bad inputs are refused by index.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RandomSource } from '../../../src/dp/random.js';
import { dequantize, l2Clip, l2Norm, quantizeUnbiased } from '../../../src/learn/fl/quantize.js';

/** A RandomSource replaying fixed 32-bit words, so a rounding decision can be checked exactly. */
function replay(words: number[]): RandomSource {
  let i = 0;
  const next = (): number => {
    const w = words[i++];
    if (w === undefined) throw new Error('replay ran out of words');
    return w;
  };
  return { uint32: next, belowNumber: () => next(), below: () => BigInt(next()) };
}

const bits = fc.integer({ min: 0, max: 40 });
const value = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const vector = (n: number) => fc.array(value, { minLength: n, maxLength: n }).map((a) => Float64Array.from(a));

describe('quantizeUnbiased', () => {
  it('rounds up with probability exactly frac: compares a lazily drawn uniform with its bits', () => {
    // 1.25·2^0: floor 1, frac 1/4 = 0x40000000/2^32, so up iff the first word < 0x40000000.
    expect(quantizeUnbiased(Float64Array.of(1.25), 0, replay([0x3fffffff]))[0]).toBe(2n);
    expect(quantizeUnbiased(Float64Array.of(1.25), 0, replay([0x40000000]))[0]).toBe(1n);
    // frac 2^−40: the first word must be 0 and the second below 2^24 (= 2^−40·2^64).
    expect(quantizeUnbiased(Float64Array.of(2 ** -40), 0, replay([0, 2 ** 24 - 1]))[0]).toBe(1n);
    expect(quantizeUnbiased(Float64Array.of(2 ** -40), 0, replay([0, 2 ** 24]))[0]).toBe(0n);
    expect(quantizeUnbiased(Float64Array.of(2 ** -40), 0, replay([1]))[0]).toBe(0n);
    // Negative: −1.25 = −2 + 0.75, so up (to −1) iff the first word < 0xc0000000.
    expect(quantizeUnbiased(Float64Array.of(-1.25), 0, replay([0xbfffffff]))[0]).toBe(-1n);
    expect(quantizeUnbiased(Float64Array.of(-1.25), 0, replay([0xc0000000]))[0]).toBe(-2n);
    // Integers at scale draw nothing.
    expect(quantizeUnbiased(Float64Array.of(3, -0.5), 1, replay([]))).toEqual(BigInt64Array.of(6n, -1n));
  });

  it('is unbiased: the mean of 4000 roundings is within 6σ (σ ≤ 0.5/√4000) of x·2^f', () => {
    const n = 4000;
    fc.assert(
      fc.property(value, bits, (x, f) => {
        const q = quantizeUnbiased(new Float64Array(n).fill(x), f);
        const low = BigInt(Math.floor(x * 2 ** f));
        let ups = 0;
        for (const v of q) ups += Number(v - low);
        const frac = x * 2 ** f - Math.floor(x * 2 ** f);
        expect(Math.abs(ups / n - frac)).toBeLessThanOrEqual((6 * 0.5) / Math.sqrt(n));
      }),
      { numRuns: 40 },
    );
  });

  it('puts every value within 1 of x·2^f', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -(2 ** 20), max: 2 ** 20, noNaN: true }), { maxLength: 50 }),
        bits,
        (xs, f) => {
          const q = quantizeUnbiased(Float64Array.from(xs), f);
          // x·2^f < 2^60 here, so its floor and ceil are doubles and the check is exact.
          xs.forEach((x, i) => expect(Math.abs(Number(q[i]) - x * 2 ** f)).toBeLessThan(1));
        },
      ),
    );
  });

  it('sums of A agencies dequantize to within A·2^−f of the float sum', () => {
    const agencies = fc.integer({ min: 1, max: 8 });
    const setup = fc.tuple(agencies, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 8, max: 32 }));
    fc.assert(
      fc.property(
        setup.chain(([a, n, f]) => fc.tuple(fc.array(vector(n), { minLength: a, maxLength: a }), fc.constant(f))),
        ([updates, f]) => {
          const n = (updates[0] as Float64Array).length;
          const sum = new BigInt64Array(n);
          const floatSum = new Float64Array(n);
          for (const u of updates) {
            const q = quantizeUnbiased(u, f);
            for (let i = 0; i < n; i++) {
              sum[i] = (sum[i] as bigint) + (q[i] as bigint);
              floatSum[i] = (floatSum[i] as number) + (u[i] as number);
            }
          }
          const back = dequantize(sum, f);
          const a = updates.length;
          // Rounding error < A·2^−f; the float sum itself is off by at most A ulps of 8e6 (≈ 1e-9·A).
          for (let i = 0; i < n; i++)
            expect(Math.abs((back[i] as number) - (floatSum[i] as number))).toBeLessThanOrEqual(a * 2 ** -f + a * 2e-9);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses non-finite values and magnitudes beyond 2^62 by index, and bad scales', () => {
    expect(() => quantizeUnbiased(Float64Array.of(1, 2, Number.NaN), 4)).toThrow(/values\[2\] is not finite/);
    expect(() => quantizeUnbiased(Float64Array.of(Number.POSITIVE_INFINITY), 4)).toThrow(/values\[0\]/);
    expect(() => quantizeUnbiased(Float64Array.of(0, 2 ** 55), 8)).toThrow(/values\[1\] exceeds 2\^62/);
    expect(() => quantizeUnbiased(Float64Array.of(0.5), 63)).toThrow(RangeError);
    expect(() => dequantize(new BigInt64Array(1), 1.5)).toThrow(RangeError);
    // The bound itself is accepted and fits an int64.
    expect(quantizeUnbiased(Float64Array.of(-(2 ** 62)), 0)[0]).toBe(-(2n ** 62n));
  });
});

describe('dequantize', () => {
  it('is s·2^−f', () => {
    expect(Array.from(dequantize(BigInt64Array.of(3n, -5n, 0n), 2))).toEqual([0.75, -1.25, 0]);
  });
});

describe('l2Clip', () => {
  const vectors = fc.integer({ min: 1, max: 40 }).chain((n) => vector(n));
  const norms = fc.double({ min: 1e-6, max: 1e6, noNaN: true });

  it('never leaves a norm above c, and scales by min(1, c/norm)', () => {
    fc.assert(
      fc.property(vectors, norms, (v, c) => {
        const { clipped, norm, factor } = l2Clip(v, c);
        expect(l2Norm(clipped)).toBeLessThanOrEqual(c);
        expect(norm).toBe(l2Norm(v));
        expect(factor).toBeLessThanOrEqual(1);
        if (norm <= c) expect(Array.from(clipped)).toEqual(Array.from(v));
        else expect(factor).toBeCloseTo(c / norm, 12);
      }),
      { numRuns: 300 },
    );
  });

  it('handles huge and tiny vectors and refuses bad input', () => {
    const huge = l2Clip(Float64Array.of(1e300, -1e300), 1);
    expect(l2Norm(huge.clipped)).toBeLessThanOrEqual(1);
    expect(huge.norm).toBeCloseTo(Math.SQRT2 * 1e300, -290);
    expect(l2Clip(Float64Array.of(3e-200, 4e-200), 1).factor).toBe(1);
    expect(Array.from(l2Clip(Float64Array.of(3, 4), 1).clipped)).toEqual([
      expect.closeTo(0.6, 15),
      expect.closeTo(0.8, 15),
    ]);
    expect(() => l2Clip(Float64Array.of(1, Number.NaN), 1)).toThrow(/values\[1\]/);
    expect(() => l2Clip(Float64Array.of(1), 0)).toThrow(RangeError);
  });
});
