// Exact Poisson(λ) for rational λ: chi-square and KS at α = 1e-6 against the exact pmf, at means
// that exercise every branch (fraction with M = 1 and M = 2, integer part, both), plus power.
import { describe, expect, it } from 'vitest';
import { poisson, POISSON_MAX_MEAN } from '../../src/dp/poisson.js';
import { CryptoRandom } from '../../src/dp/random.js';
import { rational } from '../../src/dp/rational.js';
import { chiSquareTest, type Discrete, draw, ksTest, poissonDist, poissonDistNearMode } from './stats.js';

const N = 120_000;
const KMAX = 90; // P(Poisson(11.05) > 90) < 1e-40

describe('exact Poisson', () => {
  // 1/3: fraction, M = 1. 3/4: fraction, M = 2. 2: integer. 17/2 and 23/4: both parts.
  for (const [num, den] of [
    [1n, 3n],
    [3n, 4n],
    [2n, 1n],
    [17n, 2n],
    [23n, 4n],
  ] as const) {
    it(`Poisson(${num}/${den}) passes chi-square and KS against the exact pmf`, () => {
      const rng = new CryptoRandom();
      const lambda = rational(num, den);
      const samples = draw(N, () => poisson(lambda, rng));
      const dist = poissonDist(num, den, KMAX);
      const chi = chiSquareTest(samples, dist);
      const ks = ksTest(samples, dist);
      expect(chi.statistic, `chi-square ${chi.statistic} vs ${chi.critical} (df ${chi.df})`).toBeLessThanOrEqual(
        chi.critical,
      );
      expect(ks.statistic, `KS ${ks.statistic} vs ${ks.critical}`).toBeLessThanOrEqual(ks.critical);
    });
  }

  // Mode rejection (λ ≥ 16): at its threshold, a non-integer mean, a large one; (2^45 + 7)/2^40
  // has coin denominators above 2^32 (two-word draws), (2^60 + 1)/2^55 a numerator above 2^46
  // (the bigint path).
  for (const [num, den] of [
    [16n, 1n],
    [1001n, 3n],
    [4001n, 2n],
    [(1n << 45n) + 7n, 1n << 40n],
    [(1n << 60n) + 1n, 1n << 55n],
  ] as const) {
    it(`Poisson(${num}/${den}) (mode rejection) passes both tests; Poisson(1.3λ) fails both`, () => {
      const rng = new CryptoRandom();
      const width = Math.ceil(14 * Math.sqrt(Number(num) / Number(den)));
      const dist: Discrete = poissonDistNearMode(num, den, width);
      const samples = draw(N, () => poisson(rational(num, den), rng));
      const chi = chiSquareTest(samples, dist);
      const ks = ksTest(samples, dist);
      expect(chi.statistic, `chi-square ${chi.statistic} vs ${chi.critical} (df ${chi.df})`).toBeLessThanOrEqual(
        chi.critical,
      );
      expect(ks.statistic, `KS ${ks.statistic} vs ${ks.critical}`).toBeLessThanOrEqual(ks.critical);
      const off = draw(N, () => poisson(rational(13n * num, 10n * den), rng));
      expect(chiSquareTest(off, dist).reject).toBe(true);
      expect(ksTest(off, dist).reject).toBe(true);
    });
  }

  for (const [num, den] of [
    [1n, 3n],
    [2n, 1n],
    [17n, 2n],
  ] as const) {
    it(`power: Poisson(1.3 · ${num}/${den}) is rejected as Poisson(${num}/${den}) by both tests`, () => {
      const rng = new CryptoRandom();
      const off = rational(13n * num, 10n * den);
      const samples = draw(N, () => poisson(off, rng));
      const dist = poissonDist(num, den, KMAX);
      expect(chiSquareTest(samples, dist).reject).toBe(true);
      expect(ksTest(samples, dist).reject).toBe(true);
    });
  }

  it('Poisson(0) is 0; bad means are refused', () => {
    expect(poisson(rational(0n))).toBe(0);
    expect(() => poisson({ num: -1n, den: 1n })).toThrow(RangeError);
    expect(() => poisson({ num: 1n, den: 0n })).toThrow(RangeError);
    expect(() => poisson(rational(POISSON_MAX_MEAN + 1n))).toThrow(RangeError);
    expect(() => poisson({ num: 1, den: 2n } as unknown as { num: bigint; den: bigint })).toThrow(TypeError);
  });
});
