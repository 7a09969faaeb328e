/**
 * Exact Poisson(λ) for rational λ = num/den, from fair bits and exact rational Bernoullis only.
 *
 * Derivation.
 * (1) Small means, 0 < λ ≤ 1, by rejection from Geometric(1/2). Propose k with probability
 *     2^−(k+1) (count 1-bits before the first 0) and accept with probability
 *         a(k) = (2λ)^k / (M · k!),   M = 1 if λ ≤ 1/2, else M = 2.
 *     a(k) ≤ 1 for every k: if 2λ ≤ 1 then (2λ)^k/k! ≤ 1; if 2λ ≤ 2 then (2λ)^k/k! ≤ 2^k/k! ≤ 2
 *     (the maximum of 2^k/k! is 2, at k = 1, 2). a(k) is rational — (2·num)^k over M·den^k·k! —
 *     so it is realised exactly by one uniform integer draw. A round proposes k and accepts with
 *     probability 2^−(k+1) · (2λ)^k/(M·k!) = λ^k/(2M·k!), which is proportional to the Poisson
 *     weight e^−λ λ^k/k!; rounds are independent, so the accepted k is exactly Poisson(λ). A round
 *     succeeds with probability e^λ/(2M) ≥ 1/2 (λ ≤ 1/2) or ≥ e^(1/2)/4 ≈ 0.41 (λ > 1/2).
 * (2) Any λ: write λ = n + f with n = ⌊λ⌋ and 0 ≤ f < 1. Sums of independent Poissons are Poisson
 *     with the summed mean, so Poisson(λ) = Σ_{i<n} Poisson(1) + Poisson(f), each from (1).
 *     For λ = 1 the acceptance is 2^(k−1)/k! (k ≥ 1) and 1/2 (k = 0): a table-free fast path.
 *     Cost is linear in λ (≈ 2.5 proposals per unit of mean), so it serves only λ < 16.
 * (3) λ ≥ 16: rejection around the mode with rational envelope and coins, O(√λ) expected work
 *     (derivation in poisson-mode-rejection.ts). The cap `POISSON_MAX_MEAN` bounds that cost.
 */
import { bernoulliFraction } from './bernoulli.js';
import { MODE_REJECTION_MIN_MEAN, poissonModeRejection } from './poisson-mode-rejection.js';
import { defaultRandom, RandomBits, type RandomSource } from './random.js';
import { checkNonNegative, type Rational } from './rational.js';

/**
 * The largest mean the samplers accept. Cost grows like √λ; measured on one core (Node 22):
 * 0.09 ms per draw at λ = 2^20, 1.1 ms at 2^30, 88 ms at the cap 2^40 ≈ 1.1·10^12.
 */
export const POISSON_MAX_MEAN = 1n << 40n;

/** k! for k ≤ 12 (all below 2^32, so the acceptance draw stays in 32-bit integers). */
const SMALL_FACTORIALS: readonly number[] = (() => {
  const f = [1];
  for (let k = 1; k <= 12; k++) f.push((f[k - 1] as number) * k);
  return f;
})();

function factorial(k: number): bigint {
  let f = 1n;
  for (let i = 2n; i <= BigInt(k); i++) f *= i;
  return f;
}

/** One Poisson(1) draw by (1) with λ = 1, M = 2: accept k with probability 2^(k−1)/k!. */
function poissonOne(bits: RandomBits, rng: RandomSource): number {
  for (;;) {
    const k = bits.geometricHalf();
    if (k === 0) {
      if (bits.bit() === 1) return 0;
      continue;
    }
    if (k <= 2) return k; // 2^(k−1)/k! = 1
    if (k <= 12) {
      if (rng.belowNumber(SMALL_FACTORIALS[k] as number) < 2 ** (k - 1)) return k;
      continue;
    }
    if (bernoulliFraction(1n << BigInt(k - 1), factorial(k), rng)) return k;
  }
}

/** One Poisson(num/den) draw for 0 < num/den < 1 by (1). */
function poissonFraction(num: bigint, den: bigint, bits: RandomBits, rng: RandomSource): number {
  const m = 2n * num <= den ? 1n : 2n;
  for (;;) {
    const k = bits.geometricHalf();
    const kb = BigInt(k);
    if (bernoulliFraction((2n * num) ** kb, m * den ** kb * factorial(k), rng)) return k;
  }
}

/** Poisson(num/den) drawn with a shared bit reader (used by the Skellam sampler). */
export function poissonWithBits(num: bigint, den: bigint, bits: RandomBits, rng: RandomSource): number {
  if (num / den >= MODE_REJECTION_MIN_MEAN) return Number(poissonModeRejection(num, den, rng));
  const whole = Number(num / den);
  const rest = num % den;
  let total = 0;
  for (let i = 0; i < whole; i++) total += poissonOne(bits, rng);
  if (rest !== 0n) total += poissonFraction(rest, den, bits, rng);
  return total;
}

/** Checks a Poisson/Skellam mean against the cost cap. */
export function checkPoissonMean(lambda: Rational, what: string): void {
  checkNonNegative(lambda, what);
  if (lambda.num > POISSON_MAX_MEAN * lambda.den) {
    throw new RangeError(`${what} must be at most ${POISSON_MAX_MEAN} (sampling cost grows with the mean)`);
  }
}

/**
 * One exact Poisson(λ) draw for a rational λ ∈ [0, POISSON_MAX_MEAN], fed only by `rng`
 * (the OS CSPRNG by default). Expected cost O(√λ + 1) random draws.
 */
export function poisson(lambda: Rational, rng: RandomSource = defaultRandom()): number {
  checkPoissonMean(lambda, 'lambda');
  return poissonWithBits(lambda.num, lambda.den, new RandomBits(rng), rng);
}
