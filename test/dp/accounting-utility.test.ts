import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { rational } from '../../src/dp/rational.js';
import { ci95, interval95, noiseStddev, noiseVariance, skellamHalfWidth, skellamPmf } from '../../src/dp/utility.js';
import { skellamLogPmf } from './accounting-reference.js';

/** Reference half-width from the convolution pmf: smallest q with P(|K| ≤ q) ≥ 0.95. */
function referenceHalfWidth(lambda: number): { q: number; coverage: (q: number) => number } {
  const range = Math.ceil(12 * Math.sqrt(2 * lambda) + 40);
  const lp = skellamLogPmf(lambda, range);
  const coverage = (q: number): number => {
    let s = 0;
    for (let k = -q; k <= q; k++) s += Math.exp(lp.get(k)!);
    return s;
  };
  let q = 0;
  while (coverage(q) < 0.95) q++;
  return { q, coverage };
}

describe('noise scale of the released sum', () => {
  it('variance is 2μ·s/t exactly; stddev its square root', () => {
    expect(noiseVariance(rational(100n), 4, 6)).toEqual(rational(300n));
    expect(noiseStddev(rational(100n), 4, 6)).toBeCloseTo(Math.sqrt(300), 12);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 ** 6 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        (mu, t, s) => {
          const sd = noiseStddev(rational(BigInt(mu)), t, s);
          return (
            Math.abs(sd - Math.sqrt((2 * mu * s) / t)) <= 1e-9 * (1 + sd) &&
            sd >= Math.sqrt((2 * mu * s) / t) * (1 - 1e-15)
          );
        },
      ),
    );
  });
});

describe('exact Skellam quantile', () => {
  it('the recurrence pmf equals the Poisson-convolution pmf', () => {
    for (const lambda of [0.3, 2, 10, 75.5, 400]) {
      const p = skellamPmf(lambda);
      const lp = skellamLogPmf(lambda, 30);
      for (let k = 0; k <= 30; k++) {
        const ref = Math.exp(lp.get(k)!);
        expect(Math.abs(p[k]! - ref)).toBeLessThanOrEqual(1e-12 + 1e-9 * ref);
      }
    }
  });

  it('half-width is the smallest integer covering ≥ 95 % (checked against the convolution pmf)', () => {
    for (const lambda of [0.05, 0.5, 1, 2.5, 10, 33, 100, 250, 1000]) {
      const ref = referenceHalfWidth(lambda);
      const h = skellamHalfWidth(lambda);
      expect(h).toBe(ref.q);
      expect(ref.coverage(h)).toBeGreaterThanOrEqual(0.95);
      if (h > 0) expect(ref.coverage(h - 1)).toBeLessThan(0.95);
    }
  });

  it('approaches 1.96σ for large λ and switches to the normal quantile past 1e9 seamlessly', () => {
    for (const lambda of [1e4, 1e6, 1e8]) {
      const sigma = Math.sqrt(2 * lambda);
      const h = skellamHalfWidth(lambda);
      expect(Math.abs(h - 1.959964 * sigma)).toBeLessThanOrEqual(2);
    }
    const near = skellamHalfWidth(1e9);
    const far = skellamHalfWidth(1.0000001e9);
    expect(far - near).toBeGreaterThanOrEqual(0);
    expect(far - near).toBeLessThanOrEqual(4);
  });

  it('interval95 and ci95 for s survivors of threshold t', () => {
    const i = interval95(rational(20n), 4, 5); // λ = 25
    expect(i.stderr).toBeCloseTo(Math.sqrt(50), 12);
    expect(i.halfWidth).toBe(referenceHalfWidth(25).q);
    expect(ci95(100n, rational(20n), 4, 5)).toEqual([100n - BigInt(i.halfWidth), 100n + BigInt(i.halfWidth)]);
    expect(interval95(rational(20n), 4, 0)).toEqual({ stderr: 0, halfWidth: 0 });
    expect(() => skellamHalfWidth(10, 1)).toThrow(RangeError);
    expect(() => noiseVariance(rational(1n), 0, 1)).toThrow(RangeError);
  });
});
