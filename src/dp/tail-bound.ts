/**
 * A bound every Skellam draw stays within except with probability below 2^-100, so that the
 * packing layer can reserve room for the noise and prove that no noisy slot total wraps the plain
 * modulus.
 *
 * For X ~ Poisson(μ) Bernstein's inequality gives, in both tails,
 *   P(|X − μ| ≥ x) ≤ 2·exp(−x² / (2(μ + x/3))).
 * Take c = TAIL_EXPONENT, s = √(2μc) and x = s + c: then x² = 2μc + 2sc + c² ≥ c·(2μ + 2x/3),
 * so the exponent is at least c. |X − Y| > 2x needs |X − μ| > x or |Y − μ| > x, hence
 *   P(|Skellam(μ)| > 2(s + c)) ≤ 4·e^−c,  which is 2^−101.9 for c = 72.
 * An agency that ever drew beyond the bound fails its answer (after charging its budget) instead
 * of releasing, so the release is conditioned on an event of probability ≥ 1 − 2^−101.9; that
 * conditioning is the only way the bound touches the privacy guarantee (an additive δ ≤ 2^−100).
 */
import { checkNonNegative, type Rational } from './rational.js';

/** c: the bound fails with probability at most 4·e^−c. */
export const TAIL_EXPONENT = 72n;

/** ⌈√(num/den)⌉ for non-negative bigints. */
export function ceilSqrt(num: bigint, den = 1n): bigint {
  if (num < 0n || den <= 0n) throw new RangeError('ceilSqrt: need num ≥ 0 and den > 0');
  const target = (num + den - 1n) / den; // r² ≥ ⌈x⌉ ⇔ r² ≥ x for integer r
  if (target === 0n) return 0n;
  let r = BigInt(Math.floor(Math.sqrt(Number(target))));
  while (r * r > target) r--;
  while (r * r < target) r++;
  return r;
}

/** B(μ) = 2(⌈√(2μc)⌉ + c), so that `P(|Skellam(μ)| > B) < 2^−100`. B(0) = 0 (no noise, nothing to bound). */
export function skellamTailBound(mu: Rational): bigint {
  checkNonNegative(mu, 'mu');
  if (mu.num === 0n) return 0n;
  return 2n * (ceilSqrt(2n * TAIL_EXPONENT * mu.num, mu.den) + TAIL_EXPONENT);
}
