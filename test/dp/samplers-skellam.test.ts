// Exact Skellam(μ) = Poisson(μ) − Poisson(μ): chi-square and KS at α = 1e-6 against the exact
// pmf, power against a 30 % scale error, and the closure under addition that distributed DP uses.
import { describe, expect, it } from 'vitest';
import { CryptoRandom } from '../../src/dp/random.js';
import { rational } from '../../src/dp/rational.js';
import { skellam, SKELLAM_MAX_LENGTH, skellamVector } from '../../src/dp/skellam.js';
import { chiSquareTest, type Discrete, draw, ksTest, skellamDist } from './stats.js';

const N = 120_000;
const KMAX = 150; // |Skellam(52)| (sd ≈ 10.2) > 150 has probability < 1e-40

function fits(samples: ArrayLike<number>, dist: Discrete): void {
  const chi = chiSquareTest(samples, dist);
  const ks = ksTest(samples, dist);
  expect(chi.statistic, `chi-square ${chi.statistic} vs ${chi.critical} (df ${chi.df})`).toBeLessThanOrEqual(
    chi.critical,
  );
  expect(ks.statistic, `KS ${ks.statistic} vs ${ks.critical}`).toBeLessThanOrEqual(ks.critical);
}

describe('exact Skellam', () => {
  // 1/2, 3, 25/4: one Poisson(2μ) + popcount (2μ = 6, 25/2 linear; 31/2: 2μ = 31 by mode
  // rejection). 40: two Poisson(40) draws (2μ ≥ 64).
  for (const [num, den] of [
    [1n, 2n],
    [3n, 1n],
    [25n, 4n],
    [31n, 2n],
    [40n, 1n],
  ] as const) {
    it(`Skellam(${num}/${den}) passes chi-square and KS; Skellam(1.3μ) is rejected by both`, () => {
      const rng = new CryptoRandom();
      const dist = skellamDist(num, den, KMAX);
      fits(
        draw(N, () => skellam(rational(num, den), rng)),
        dist,
      );
      const off = draw(N, () => skellam(rational(13n * num, 10n * den), rng));
      expect(chiSquareTest(off, dist).reject).toBe(true);
      expect(ksTest(off, dist).reject).toBe(true);
    });
  }

  it('skellamVector draws independent cells with the same law', () => {
    const v = skellamVector(rational(3n), N, new CryptoRandom());
    expect(v).toBeInstanceOf(BigInt64Array);
    expect(v.length).toBe(N);
    fits(Float64Array.from(v, Number), skellamDist(3n, 1n, KMAX));
    // Neighbouring cells are uncorrelated: the lag-1 product has mean 0 (sd of the mean ≈ 6/√N).
    let s = 0;
    for (let i = 1; i < N; i++) s += Number(v[i]! * v[i - 1]!);
    expect(Math.abs(s / N)).toBeLessThan(6 * (6 / Math.sqrt(N)));
  });

  it('distributed noise: three agencies adding Skellam(1/3), Skellam(1/2), Skellam(7/6) give Skellam(2)', () => {
    const rng = new CryptoRandom();
    const shares = [rational(1n, 3n), rational(1n, 2n), rational(7n, 6n)].map((mu) => skellamVector(mu, N, rng));
    const total = Float64Array.from({ length: N }, (_, i) => Number(shares[0]![i]! + shares[1]![i]! + shares[2]![i]!));
    fits(total, skellamDist(2n, 1n, KMAX));
  });

  it('throughput for thousands of cells (reported, not asserted)', () => {
    const rng = new CryptoRandom();
    for (const [num, den] of [
      [1n, 2n],
      [25n, 1n],
      [50n, 3n],
      [1000n, 1n],
      [100_000n, 1n],
    ] as const) {
      const cells = 8192;
      const t = performance.now();
      skellamVector(rational(num, den), cells, rng);
      const ms = performance.now() - t;
      console.log(
        `skellamVector μ=${num}/${den}: ${cells} cells in ${ms.toFixed(1)} ms (${Math.round((cells / ms) * 1000)} samples/s)`,
      );
    }
  });

  it('Skellam(0) is 0; bad arguments are refused', () => {
    expect(skellam(rational(0n))).toBe(0);
    expect(Array.from(skellamVector(rational(0n), 3))).toEqual([0n, 0n, 0n]);
    expect(skellamVector(rational(1n), 0).length).toBe(0);
    expect(() => skellamVector(rational(1n), -1)).toThrow(RangeError);
    expect(() => skellamVector(rational(1n), 1.5)).toThrow(RangeError);
    expect(() => skellamVector(rational(1n), SKELLAM_MAX_LENGTH + 1)).toThrow(RangeError);
    expect(() => skellam({ num: -3n, den: 1n })).toThrow(RangeError);
  });
});
