import { describe, expect, it } from 'vitest';
import { minimumThreshold } from '../../src/secagg/params.js';
import { DENSE_UP_TO, defaultGraphFor, hypergeometricTail, sparseGraphFor } from '../../src/secagg/sparse-params.js';

function choose(a: number, b: number): number {
  if (b < 0 || b > a) return 0;
  let r = 1;
  for (let i = 0; i < b; i++) r = (r * (a - i)) / (i + 1);
  return r;
}

describe('SecAgg+ parameters', () => {
  it('computes hypergeometric tails exactly (small cases against direct counting)', () => {
    for (const [N, K, k] of [
      [10, 3, 4],
      [20, 7, 6],
      [30, 0, 5],
      [12, 12, 3],
    ] as const) {
      for (let a = 0; a <= k + 1; a++) {
        let direct = 0;
        for (let x = a; x <= Math.min(K, k); x++) direct += (choose(K, x) * choose(N - K, k - x)) / choose(N, k);
        expect(hypergeometricTail(N, K, k, a)).toBeCloseTo(direct, 12);
      }
    }
  });

  it('matches an independent implementation of the bounds (Python, lgamma) at the documented sizes', () => {
    // docs/threat-model.md, "SecAgg+ parameters": γ = 0.1, δ = 0.3, σ = 40, η = 20.
    expect(sparseGraphFor(128)).toEqual({ degree: 72, shareThreshold: 38 });
    expect(sparseGraphFor(256)).toEqual({ degree: 106, shareThreshold: 55 });
    expect(sparseGraphFor(1000)).toEqual({ degree: 174, shareThreshold: 89 });
    expect(sparseGraphFor(4096)).toEqual({ degree: 216, shareThreshold: 110 });
    expect(sparseGraphFor(256, { corruptFraction: 0.05, dropoutFraction: 0.1 })).toEqual({
      degree: 32,
      shareThreshold: 18,
    });
    expect(sparseGraphFor(64, { corruptFraction: 1 / 3, dropoutFraction: 1 / 3 })).toBeNull();
  });

  it('meets every bound it states, and no smaller degree does', () => {
    for (const n of [80, 128, 200, 256, 512, 1000]) {
      const g = sparseGraphFor(n)!;
      const { degree: k, shareThreshold: t } = g;
      const [C, D] = [Math.floor(0.1 * n), Math.floor(0.3 * n)];
      expect(k % 2).toBe(0);
      expect(k).toBeLessThanOrEqual(n - 2);
      expect(t).toBeGreaterThanOrEqual(minimumThreshold(k + 1));
      expect(t).toBeLessThanOrEqual(k + 1);
      expect(n * hypergeometricTail(n - 1, C, k, t - 1)).toBeLessThanOrEqual(2 ** -40);
      expect(n * hypergeometricTail(n - 1, D, k, k + 2 - t)).toBeLessThanOrEqual(2 ** -20);
      let run = n;
      for (let j = 0; j < k / 2; j++) run *= (C + D - j) / (n - j);
      expect(run).toBeLessThanOrEqual(2 ** -40);
      // k − 2 fails one of the bounds for every admissible t.
      const smaller = k - 2;
      const ok = (s: number): boolean =>
        s >= minimumThreshold(smaller + 1) &&
        n * hypergeometricTail(n - 1, C, smaller, s - 1) <= 2 ** -40 &&
        n * hypergeometricTail(n - 1, D, smaller, smaller + 2 - s) <= 2 ** -20;
      let runSmaller = n;
      for (let j = 0; j < smaller / 2; j++) runSmaller *= (C + D - j) / (n - j);
      const anyT = Array.from({ length: smaller + 1 }, (_, i) => i + 1).some(ok);
      expect(anyT && runSmaller <= 2 ** -40).toBe(false);
    }
  });

  it('grows like log n: doubling n from 256 to 4096 adds a bounded amount to k', () => {
    const ks = [256, 512, 1024, 2048, 4096].map((n) => sparseGraphFor(n)!.degree);
    for (let i = 1; i < ks.length; i++) {
      expect(ks[i]!).toBeGreaterThanOrEqual(ks[i - 1]!);
      expect(ks[i]! - ks[i - 1]!).toBeLessThanOrEqual(40);
    }
  });

  it('picks dense up to 64 agencies and sparse above', () => {
    for (const n of [1, 2, 10, 64]) expect(defaultGraphFor(n)).toBeNull();
    expect(DENSE_UP_TO).toBe(64);
    expect(defaultGraphFor(65)).toEqual(sparseGraphFor(65));
    expect(defaultGraphFor(256)).toEqual({ degree: 106, shareThreshold: 55 });
  });

  it('refuses impossible assumptions', () => {
    expect(() => sparseGraphFor(0)).toThrow(RangeError);
    expect(() => sparseGraphFor(100, { corruptFraction: 1 })).toThrow(RangeError);
    expect(() => sparseGraphFor(100, { dropoutFraction: -0.1 })).toThrow(RangeError);
  });
});
