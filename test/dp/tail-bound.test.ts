/**
 * The noise bound the packing reserves: ⌈√·⌉ is exact, and for Poisson(μ) the tail beyond half
 * the Skellam bound, computed exactly in log space, is below 2·e^−72 (so |Skellam(μ)| exceeds
 * the bound with probability below 4·e^−72 < 2^−100, as tail-bound.ts derives).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rational } from '../../src/dp/rational.js';
import { ceilSqrt, skellamTailBound, TAIL_EXPONENT } from '../../src/dp/tail-bound.js';
import { drawNoise, noiseParts, MAX_NOISE_PARTS } from '../../src/dp/noise-vector.js';
import { POISSON_MAX_MEAN } from '../../src/dp/poisson.js';

/** log P(X = k) for X ~ Poisson(μ). */
function logPmf(mu: number, k: number): number {
  let lgamma = 0;
  for (let i = 2; i <= k; i++) lgamma += Math.log(i);
  return -mu + k * Math.log(mu) - lgamma;
}

/** P(|X − μ| > x) for X ~ Poisson(μ), summed in log space (enough terms that the rest is negligible). */
function poissonTwoSidedTail(mu: number, x: number): number {
  let p = 0;
  const hi = Math.ceil(mu + x + 1e-9);
  for (let k = hi; k < hi + 2000; k++) p += Math.exp(logPmf(mu, k));
  for (let k = Math.floor(mu - x - 1e-9); k >= 0; k--) p += Math.exp(logPmf(mu, k));
  return p;
}

describe('Skellam tail bound', () => {
  it('ceilSqrt is the least integer whose square reaches num/den', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 120n }), fc.bigInt({ min: 1n, max: 1n << 40n }), (num, den) => {
        const r = ceilSqrt(num, den);
        expect(r * r * den >= num).toBe(true);
        if (r > 0n) expect((r - 1n) * (r - 1n) * den < num).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('each Poisson half stays within B/2 of its mean except with probability below 2·e^−c', () => {
    for (const mu of [0.5, 1, 3, 10, 50, 200, 1000]) {
      const b = Number(skellamTailBound(rational(BigInt(Math.round(mu * 2)), 2n)));
      const tail = poissonTwoSidedTail(mu, b / 2);
      expect(tail).toBeLessThan(2 * Math.exp(-Number(TAIL_EXPONENT)));
    }
    expect(skellamTailBound(rational(0n))).toBe(0n);
  });

  it("splits a mean beyond the Poisson sampler's range into exact parts and keeps every draw within the bound", () => {
    expect(noiseParts(rational(POISSON_MAX_MEAN * 3n))).toBe(6);
    const big = rational(POISSON_MAX_MEAN);
    expect(noiseParts(big)).toBe(2);
    const draws = drawNoise(big, 3);
    const bound = skellamTailBound(big);
    // Within the bound, and spread like Skellam(2^40) (sd 2^20.5), not like one part (sd 2^20).
    for (const d of draws) expect(d <= bound && d >= -bound).toBe(true);
    expect(draws.some((d) => d !== 0n)).toBe(true);
    expect(() => drawNoise(rational(POISSON_MAX_MEAN * BigInt(MAX_NOISE_PARTS + 1)), 1)).toThrow(/too large to sample/);
  });
});
