import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededPrng } from '../../src/seed/prng.js';
import { WeightedChoice, clamp, irwinHallNormal, lognormalishInt, pick, portableExp } from '../../src/seed/samplers.js';

describe('WeightedChoice', () => {
  it('draws each value with probability weight/total (table and guide-table paths)', () => {
    // Small total → lookup table; huge total → guide table. Same relative weights.
    for (const scale of [1, 1_000_003]) {
      const weights = [5, 0, 20, 1, 74].map((w) => w * scale);
      const choice = new WeightedChoice(weights.map((w, i) => [i, w] as const));
      const p = SeededPrng.fromLabels('weighted', String(scale));
      const n = 100_000;
      const counts = [0, 0, 0, 0, 0];
      for (let i = 0; i < n; i++) counts[choice.sample(p)]!++;
      const total = weights.reduce((a, b) => a + b, 0);
      expect(counts[1]).toBe(0); // zero weight is never drawn
      let chi2 = 0;
      for (const i of [0, 2, 3, 4]) chi2 += (counts[i]! - (n * weights[i]!) / total) ** 2 / ((n * weights[i]!) / total);
      expect(chi2).toBeLessThan(16.27); // df 3, 0.1%
    }
  });

  it('maps every stream value to its cumulative interval on the guide-table path too (totals above 2^16, up to 2^32)', () => {
    const check = (weights: readonly number[], label: string): boolean => {
      const choice = new WeightedChoice(weights.map((w, i) => [i, w] as const));
      const total = weights.reduce((x, y) => x + y, 0);
      const a = SeededPrng.fromLabels(label);
      const b = SeededPrng.fromLabels(label);
      for (let k = 0; k < 200; k++) {
        const u = b.uniformInt(total);
        let acc = 0;
        const expected = weights.findIndex((w) => (acc += w) > u);
        if (choice.sample(a) !== expected) return false;
      }
      return true;
    };
    const big = fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 350_000_000 })), {
      minLength: 1,
      maxLength: 40,
    });
    fc.assert(
      fc.property(
        big.filter((w) => w.reduce((x, y) => x + y, 0) > 65_536),
        fc.string(),
        check,
      ),
    );
    // A total of exactly 2^32, as the arrival months have, with a tiny weight at each end.
    const exact = [1, 2 ** 31 - 3, 1, 2 ** 30, 2 ** 30, 1];
    expect(exact.reduce((x, y) => x + y, 0)).toBe(2 ** 32);
    expect(check(exact, 'exact')).toBe(true);
  });

  it('maps every stream value to the value whose cumulative interval contains it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 12 }).filter((w) => w.some((x) => x > 0)),
        fc.string(),
        (weights, label) => {
          const choice = new WeightedChoice(weights.map((w, i) => [i, w] as const));
          const total = weights.reduce((a, b) => a + b, 0);
          // Replay the same stream to know u, then find the index by the definition.
          const a = SeededPrng.fromLabels(label);
          const b = SeededPrng.fromLabels(label);
          for (let k = 0; k < 30; k++) {
            const u = b.uniformInt(total);
            let acc = 0;
            const expected = weights.findIndex((w) => (acc += w) > u);
            if (choice.sample(a) !== expected) return false;
          }
          return true;
        },
      ),
    );
  });

  it('rejects invalid weights with RangeError', () => {
    expect(() => new WeightedChoice([['a', 0]])).toThrow(RangeError);
    expect(() => new WeightedChoice([['a', -1]])).toThrow(RangeError);
    expect(() => new WeightedChoice([['a', 0.5]])).toThrow(RangeError);
  });
});

describe('portableExp', () => {
  it('agrees with Math.exp to 1e-13 relative', () => {
    fc.assert(
      fc.property(fc.double({ min: -50, max: 50, noNaN: true }), (x) => {
        const want = Math.exp(x);
        return Math.abs(portableExp(x) - want) <= 1e-13 * want;
      }),
    );
    expect(portableExp(0)).toBe(1);
  });

  it('refuses arguments outside its range', () => {
    expect(() => portableExp(51)).toThrow(RangeError);
    expect(() => portableExp(Number.NaN)).toThrow(RangeError);
  });
});

describe('lognormal-ish draws', () => {
  it('the Irwin-Hall deviate has mean 0, variance 1 and bounded tails', () => {
    const p = SeededPrng.fromLabels('ih');
    const n = 50_000;
    let sum = 0;
    let sq = 0;
    let maxAbs = 0;
    for (let i = 0; i < n; i++) {
      const z = irwinHallNormal(p);
      sum += z;
      sq += z * z;
      maxAbs = Math.max(maxAbs, Math.abs(z));
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.03);
    expect(maxAbs).toBeLessThanOrEqual(2 * Math.sqrt(3));
  });

  it('integer draws have the declared median and stay within their clamp', () => {
    const p = SeededPrng.fromLabels('ln');
    const xs = Array.from({ length: 20_001 }, () => lognormalishInt(p, 5000, 0.4, 1000, 20_000)).sort((a, b) => a - b);
    expect(xs.every((x) => Number.isInteger(x) && x >= 1000 && x <= 20_000)).toBe(true);
    expect(Math.abs(xs[10_000]! / 5000 - 1)).toBeLessThan(0.03);
    expect(xs[15_000]!).toBeGreaterThan(xs[10_000]! * 1.2); // right-skewed upper quartile
  });

  it('pick and clamp', () => {
    const p = SeededPrng.fromLabels('pick');
    const seen = new Set(Array.from({ length: 200 }, () => pick(p, ['a', 'b', 'c'])));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
    expect(() => pick(p, [])).toThrow(RangeError);
    expect([clamp(-1, 0, 9), clamp(5, 0, 9), clamp(10, 0, 9)]).toEqual([0, 5, 9]);
  });
});
