/**
 * The lazily revealed uniform behind the fast exact Poisson sampler: its comparisons are exact at
 * the boundaries (scripted bits), the float estimate never decides a case it cannot certify (the
 * exact fallback is exercised on purpose), and the Bernoulli-product and geometric draws have
 * exactly the intended laws (frequencies within Hoeffding bounds, chi-square and KS at 1e-6).
 */
import { describe, expect, it } from 'vitest';
import { bernoulliProduct, geometricLazy, LazyUniform, type FactorRun } from '../../src/dp/lazy-uniform.js';
import { poisson } from '../../src/dp/poisson.js';
import { CryptoRandom, type RandomSource } from '../../src/dp/random.js';
import { rational } from '../../src/dp/rational.js';
import { chiSquareTest, draw, ksTest, poissonDistNearMode, type Discrete } from './stats.js';

/** Hands out the given 32-bit words, then fails the test if more are asked for. */
function scripted(words: readonly number[]): RandomSource {
  let i = 0;
  const next = (): number => {
    const w = words[i++];
    if (w === undefined) throw new Error('the scripted source ran out of words');
    return w;
  };
  return {
    uint32: next,
    belowNumber: () => {
      throw new Error('unused');
    },
    below: () => {
      throw new Error('unused');
    },
  };
}

/** Words whose first 53 bits are x53 (as LazyUniform reads them: 21 high bits, then 32). */
function wordsFor(x53: bigint): number[] {
  return [(Number(x53 >> 32n) << 11) >>> 0, Number(x53 & 0xffffffffn)];
}

const run = (num: number, den: number, count = 1): FactorRun => ({ count, num, numStep: 0, den, denStep: 0 });

describe('LazyUniform', () => {
  it('compares exactly at the boundaries, drawing more bits only when the first 53 cannot decide', () => {
    const half = 1n << 52n;
    expect(new LazyUniform(scripted(wordsFor(half - 1n))).lessThan(1n, 2n)).toBe(true); // U < 1/2
    expect(new LazyUniform(scripted(wordsFor(half))).lessThan(1n, 2n)).toBe(false); // U ≥ 1/2 exactly at the boundary
    // 1/3 = 0.010101…₂: the first 53 bits of 1/3 leave U's interval straddling 1/3; more bits decide.
    const third53 = ((1n << 53n) - 1n) / 3n;
    expect(new LazyUniform(scripted([...wordsFor(third53), 0x00000000])).lessThan(1n, 3n)).toBe(true);
    expect(new LazyUniform(scripted([...wordsFor(third53), 0xffffffff])).lessThan(1n, 3n)).toBe(false);
  });

  it('bernoulliProduct falls back to the exact fraction where the float estimate is not certain', () => {
    // P = 1/2 and U's first 53 bits at exactly 1/2: the estimate cannot decide, the fraction says U ≥ P.
    expect(bernoulliProduct([run(1, 2)], scripted(wordsFor(1n << 52n)))).toBe(false);
    expect(bernoulliProduct([run(1, 2)], scripted(wordsFor((1n << 52n) - 1n)))).toBe(true);
    // P = (2/3)^3 = 8/27 just above a 53-bit boundary: decided exactly after more bits.
    const x = ((1n << 53n) * 8n) / 27n;
    expect(bernoulliProduct([run(2, 3, 3)], scripted([...wordsFor(x), 0, 0]))).toBe(true);
    expect(bernoulliProduct([run(2, 3, 3)], scripted([...wordsFor(x + 1n)]))).toBe(false);
    // No factors: P = 1, no randomness used.
    expect(bernoulliProduct([run(1, 2, 0)], scripted([]))).toBe(true);
  });

  it('bernoulliProduct accepts with probability exactly Π nᵢ/dᵢ (frequencies within a 1e-6 Hoeffding bound)', () => {
    const rng = new CryptoRandom();
    const n = 200_000;
    const tol = Math.sqrt(Math.log(2 / 1e-6) / (2 * n));
    const cases: { runs: FactorRun[]; p: number }[] = [
      { runs: [run(1, 3)], p: 1 / 3 },
      {
        runs: [{ count: 5, num: 10, numStep: 0, den: 11, denStep: 1 }],
        p: (10 / 11) * (10 / 12) * (10 / 13) * (10 / 14) * (10 / 15),
      },
      {
        runs: [{ count: 4, num: 9, numStep: -1, den: 10, denStep: 0 }, run(7, 8, 2)],
        p: ((9 * 8 * 7 * 6) / 1e4) * (49 / 64),
      },
      { runs: [run(1, 2, 90)], p: 0 }, // below 2^-80: the truncated path
    ];
    for (const c of cases) {
      let hits = 0;
      for (let i = 0; i < n; i++) if (bernoulliProduct(c.runs, rng)) hits++;
      expect(Math.abs(hits / n - c.p)).toBeLessThanOrEqual(tol);
    }
  });

  it('geometricLazy has P(r = n) = ρⁿ(1 − ρ) (chi-square and KS at 1e-6; 30 % off is caught)', () => {
    const rng = new CryptoRandom();
    for (const [num, den] of [
      [7, 9],
      [999, 1000],
      [1, 3],
    ] as const) {
      const rho = num / den;
      const hi = Math.ceil(Math.log(1e-12) / Math.log(rho));
      const probs = Array.from({ length: hi + 1 }, (_, k) => rho ** k * (1 - rho));
      const dist: Discrete = { lo: 0, probs, below: 0, above: rho ** (hi + 1) };
      const samples = draw(120_000, () => geometricLazy(num, den, rng));
      expect(chiSquareTest(samples, dist).reject).toBe(false);
      expect(ksTest(samples, dist).reject).toBe(false);
      if (num > 1) {
        const off = draw(120_000, () => geometricLazy(Math.round(num * 0.7), den, rng));
        expect(chiSquareTest(off, dist).reject || ksTest(off, dist).reject).toBe(true);
      }
    }
  });

  it('the fast path keeps Poisson(λ) exact at large means (chi-square and KS at 1e-6)', () => {
    const rng = new CryptoRandom();
    for (const [num, den] of [
      [3_000_001n, 3n],
      [(1n << 30n) + 5n, 4n],
    ] as const) {
      const width = Math.ceil(14 * Math.sqrt(Number(num) / Number(den)));
      const dist = poissonDistNearMode(num, den, width);
      const samples = draw(120_000, () => poisson(rational(num, den), rng));
      expect(chiSquareTest(samples, dist).reject).toBe(false);
      expect(ksTest(samples, dist).reject).toBe(false);
    }
  });
});
