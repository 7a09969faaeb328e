/**
 * Exact Bernoulli samplers: Bernoulli(p) for rational p, and Bernoulli(exp(−γ)) for rational
 * γ ≥ 0 following Canonne, Kamath and Steinke 2020 ("The Discrete Gaussian for Differential
 * Privacy", Algorithm 1, after von Neumann). No floating point: only uniform integer draws and
 * integer comparisons, so the output probability is exactly the stated one.
 */
import { defaultRandom, type RandomSource } from './random.js';
import { checkNonNegative, type Rational } from './rational.js';

const TWO32 = 4294967296n;

/**
 * Bernoulli(num/den) for bigints 0 ≤ num ≤ den, den ≥ 1: true iff a uniform U ∈ [0, den) is
 * below num, which happens with probability exactly num/den.
 */
export function bernoulliFraction(num: bigint, den: bigint, rng: RandomSource = defaultRandom()): boolean {
  if (den < 1n || num < 0n || num > den) throw new RangeError('bernoulliFraction needs 0 ≤ num ≤ den and den ≥ 1');
  if (num === 0n) return false;
  if (num === den) return true;
  if (den <= TWO32) return rng.belowNumber(Number(den)) < Number(num);
  return rng.below(den) < num;
}

/** Bernoulli(p) for a rational p ∈ [0, 1]. */
export function bernoulli(p: Rational, rng: RandomSource = defaultRandom()): boolean {
  checkNonNegative(p, 'p');
  if (p.num > p.den) throw new RangeError('a Bernoulli probability must be at most 1');
  return bernoulliFraction(p.num, p.den, rng);
}

/**
 * Bernoulli(exp(−num/den)) for num/den ∈ [0, 1] (CKS Algorithm 1). Draw A_k ~ Bernoulli(γ/k)
 * for k = 1, 2, … until the first A_k = 0, and output 1 iff that k is odd. The first K draws all
 * succeed with probability γ^K/K!, so P(stop at k) = γ^(k−1)/(k−1)! − γ^k/k! and
 * P(k odd) = Σ_j (−γ)^j/j! = exp(−γ).
 */
function bernoulliExpNegUnit(num: bigint, den: bigint, rng: RandomSource): boolean {
  let k = 1n;
  while (bernoulliFraction(num, den * k, rng)) k++;
  return (k & 1n) === 1n;
}

/**
 * Bernoulli(exp(−γ)) for a rational γ ≥ 0, exactly. For γ > 1 it multiplies ⌊γ⌋ independent
 * Bernoulli(exp(−1)) draws with one Bernoulli(exp(−(γ − ⌊γ⌋))) draw (stopping at the first 0):
 * the product of independent indicators has probability exp(−1)^⌊γ⌋ · exp(−frac γ) = exp(−γ).
 * Cost is O(⌊γ⌋ + 1) expected draws.
 */
export function bernoulliExpNeg(gamma: Rational, rng: RandomSource = defaultRandom()): boolean {
  checkNonNegative(gamma, 'gamma');
  const whole = gamma.num / gamma.den;
  for (let i = 0n; i < whole; i++) {
    if (!bernoulliExpNegUnit(1n, 1n, rng)) return false;
  }
  const rest = gamma.num % gamma.den;
  return rest === 0n ? true : bernoulliExpNegUnit(rest, gamma.den, rng);
}
