/**
 * Exact Skellam(μ) := X − Y with X, Y independent Poisson(μ): mean 0, variance 2μ. This is the
 * noise of the distributed Skellam mechanism (Agarwal, Kairouz, Liu, NeurIPS 2021): each agency
 * adds Skellam(μ_i) to its integer aggregate, and the sum of independent Skellams is
 * Skellam(Σ μ_i), so the released total carries the full noise without anyone adding it alone.
 *
 * Sampling uses one Poisson draw instead of two: if N ~ Poisson(2μ) and, given N, B ~
 * Binomial(N, 1/2), then B and N − B are independent Poisson(μ) (Poisson splitting: thinning a
 * Poisson(2μ) count with probability 1/2 gives independent kept and dropped counts, each
 * Poisson(μ)). So X − Y has the law of B − (N − B) = 2B − N, and B is the popcount of N fair bits.
 * The popcount costs N/32 words, so from 2μ ≥ 64 on, X and Y are drawn directly (each O(√μ)).
 */
import { checkPoissonMean, poissonWithBits } from './poisson.js';
import { defaultRandom, RandomBits, type RandomSource } from './random.js';
import { checkNonNegative, type Rational } from './rational.js';

/** The largest length `skellamVector` accepts in one call. */
export const SKELLAM_MAX_LENGTH = 1 << 24;

function checkMu(mu: Rational): void {
  checkNonNegative(mu, 'mu');
  checkPoissonMean({ num: 2n * mu.num, den: mu.den }, '2·mu');
}

/** Below this 2μ one Poisson(2μ) plus a popcount beats two Poisson(μ) draws. */
const SPLIT_MAX_TWO_MU = 64n;

function skellamWithBits(num2: bigint, den: bigint, bits: RandomBits, rng: RandomSource): number {
  if (num2 >= SPLIT_MAX_TWO_MU * den) {
    return poissonWithBits(num2, 2n * den, bits, rng) - poissonWithBits(num2, 2n * den, bits, rng);
  }
  const n = poissonWithBits(num2, den, bits, rng);
  return 2 * bits.binomialHalf(n) - n;
}

/** One exact Skellam(μ) draw (variance 2μ) for a rational μ ≥ 0. Expected cost O(√μ + 1). */
export function skellam(mu: Rational, rng: RandomSource = defaultRandom()): number {
  checkMu(mu);
  return skellamWithBits(2n * mu.num, mu.den, new RandomBits(rng), rng);
}

/**
 * `length` independent exact Skellam(μ) draws, e.g. one per cell of an agency's aggregate before
 * it is masked and encrypted.
 */
export function skellamVector(mu: Rational, length: number, rng: RandomSource = defaultRandom()): BigInt64Array {
  checkMu(mu);
  if (!Number.isSafeInteger(length) || length < 0 || length > SKELLAM_MAX_LENGTH) {
    throw new RangeError(`length must be an integer in [0, ${SKELLAM_MAX_LENGTH}], got ${length}`);
  }
  const out = new BigInt64Array(length);
  const bits = new RandomBits(rng);
  const num2 = 2n * mu.num;
  for (let i = 0; i < length; i++) out[i] = BigInt(skellamWithBits(num2, mu.den, bits, rng));
  return out;
}
