// The reference side of the sampler tests: exact distributions and critical values are checked
// against closed forms and independent series before any sampler is judged by them.
import { describe, expect, it } from 'vitest';
import {
  bernoulliExpNegDist,
  chiSquareCritical,
  chiSquareTest,
  gammaQ,
  ksCritical,
  ksTest,
  moments,
  poissonDist,
  poissonDistNearMode,
  skellamDist,
} from './stats.js';

describe('critical values at α = 1e-6', () => {
  it('χ² quantile for df = 2 matches the closed form 2·ln(1/α)', () => {
    expect(chiSquareCritical(2)).toBeCloseTo(2 * Math.log(1e6), 8);
  });

  it('χ² quantile for df = 1 is the squared two-sided normal quantile z(5e-7) = 4.891638', () => {
    expect(chiSquareCritical(1)).toBeCloseTo(4.891638475699 ** 2, 5);
  });

  it('Q(a, x) matches the closed forms for even df (a = 2, 3) across the range', () => {
    for (const y of [0.5, 1, 3, 10, 20, 40]) {
      expect(gammaQ(2, y)).toBeCloseTo(Math.exp(-y) * (1 + y), 12);
      expect(gammaQ(3, y)).toBeCloseTo(Math.exp(-y) * (1 + y + (y * y) / 2), 12);
    }
  });

  it('χ² quantile agrees with Wilson–Hilferty for large df (z(1e-6) = 4.753424)', () => {
    for (const df of [30, 60, 120]) {
      const c = 2 / (9 * df);
      const wh = df * (1 - c + 4.753424 * Math.sqrt(c)) ** 3;
      expect(Math.abs(chiSquareCritical(df) / wh - 1)).toBeLessThan(0.01);
    }
  });

  it('KS critical value is the DKW–Massart ε = sqrt(ln(2e6)/(2n))', () => {
    expect(ksCritical(120_000)).toBeCloseTo(0.0077753, 6);
  });
});

describe('exact reference distributions', () => {
  it('Bernoulli(exp(−γ)) puts exp(−γ) on 1', () => {
    for (const [num, den] of [
      [1n, 10n],
      [1n, 1n],
      [5n, 2n],
      [7n, 1n],
    ] as const) {
      const d = bernoulliExpNegDist(num, den);
      expect(d.probs[1]).toBeCloseTo(Math.exp(-Number(num) / Number(den)), 15);
      expect(d.probs[0]! + d.probs[1]!).toBeCloseTo(1, 15);
    }
  });

  it('Poisson pmf: P(0) = e^−λ, mass 1, mean = variance = λ', () => {
    for (const [num, den] of [
      [1n, 3n],
      [2n, 1n],
      [17n, 2n],
    ] as const) {
      const lambda = Number(num) / Number(den);
      const d = poissonDist(num, den, 120);
      expect(d.probs[0]).toBeCloseTo(Math.exp(-lambda), 15);
      expect(d.probs.reduce((a, b) => a + b, 0) + d.above).toBeCloseTo(1, 14);
      const m = moments(d);
      expect(m.mean).toBeCloseTo(lambda, 12);
      expect(m.variance).toBeCloseTo(lambda, 10);
    }
  });

  it('Poisson pmf near the mode agrees with the e^−λ series and has mean = variance = λ', () => {
    const a = poissonDist(17n, 2n, 120);
    const b = poissonDistNearMode(17n, 2n, 100); // window 0..108
    for (let k = 0; k <= 60; k++) expect(b.probs[k]).toBeCloseTo(a.probs[k]!, 15);
    for (const [num, den] of [
      [1001n, 3n],
      [4001n, 2n],
    ] as const) {
      const lambda = Number(num) / Number(den);
      const m = moments(poissonDistNearMode(num, den, Math.ceil(14 * Math.sqrt(lambda))));
      expect(m.mean / lambda).toBeCloseTo(1, 12);
      expect(m.variance / lambda).toBeCloseTo(1, 10);
    }
  });

  it('Skellam pmf: P(0) = e^−2μ·I0(2μ), symmetric, mean 0, variance 2μ', () => {
    for (const [num, den] of [
      [1n, 2n],
      [3n, 1n],
      [25n, 4n],
    ] as const) {
      const mu = Number(num) / Number(den);
      const d = skellamDist(num, den, 90);
      let i0 = 0; // I0(2μ) = Σ μ^(2k)/(k!)²
      let term = 1;
      for (let k = 0; k < 200; k++) {
        i0 += term;
        term *= (mu * mu) / ((k + 1) * (k + 1));
      }
      expect(d.probs[90]).toBeCloseTo(Math.exp(-2 * mu) * i0, 14);
      expect(d.probs[80]).toBeCloseTo(d.probs[100]!, 15);
      const m = moments(d);
      expect(m.mean).toBeCloseTo(0, 12);
      expect(m.variance).toBeCloseTo(2 * mu, 10);
    }
  });
});

describe('the tests themselves', () => {
  it('accept exact expected counts and reject a distribution with a shifted mean', () => {
    // Samples laid out exactly in proportion (quantiles of the reference) must pass; shifted by one they must fail.
    const d = poissonDist(2n, 1n, 60);
    const n = 120_000;
    const exact = new Float64Array(n);
    let cdf = 0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      while (cdf + d.probs[k]! < (i + 0.5) / n) cdf += d.probs[k++]!;
      exact[i] = k;
    }
    expect(chiSquareTest(exact, d).reject).toBe(false);
    expect(ksTest(exact, d).statistic).toBeLessThan(1 / n + 1e-12);
    const shifted = exact.map((x) => x + 1);
    expect(chiSquareTest(shifted, d).reject).toBe(true);
    expect(ksTest(shifted, d).reject).toBe(true);
  });
});
