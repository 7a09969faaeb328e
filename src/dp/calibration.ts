/**
 * Calibration: the least Skellam μ that meets a ρ-zCDP target, and each agency's share of it.
 * Exact: ρ(μ) is compared as a rational at every step, so the answer is the true minimum on the
 * grid (1/granularity)·ℤ, never one rounding step too small.
 */
import { skellamRho, type Sensitivity } from './accountant.js';
import { compare, rational, type Rational } from './rational.js';

/** How finely `calibrateMu` searches for μ. */
export interface CalibrateOptions {
  /** μ is searched on the grid (1/granularity)·ℤ₊; default 1 (integer μ). */
  readonly granularity?: bigint;
}

/**
 * The smallest μ on the grid with skellamRho(μ, sens) ≤ target. A zero-sensitivity query needs
 * no noise and gets μ = 0.
 * @throws RangeError for a non-positive target (a programmer error: parse user input with parseRho).
 */
export function calibrateMu(target: Rational, sens: Sensitivity, options: CalibrateOptions = {}): Rational {
  const q = options.granularity ?? 1n;
  if (q < 1n) throw new RangeError('granularity must be ≥ 1');
  if (target.num <= 0n) throw new RangeError('target ρ must be positive');
  if (sens.l1 === 0n && sens.l2Squared === 0n) return rational(0n);
  const meets = (m: bigint): boolean => compare(skellamRho(rational(m, q), sens), target) <= 0;
  let hi = 1n;
  while (!meets(hi)) hi *= 2n;
  let lo = hi / 2n; // lo fails (or is 0), hi meets
  if (lo >= 1n && meets(lo)) throw new Error('calibrateMu: ρ(μ) not monotone (bug)');
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (meets(mid)) hi = mid;
    else lo = mid;
  }
  return rational(hi, q);
}

/**
 * What each agency adds so that any `threshold` or more survivors together add at least
 * Skellam(μ): every agency draws Skellam(μ/threshold); s ≥ threshold survivors sum to
 * Skellam(μ·s/threshold) ⊇ Skellam(μ) in noise, and ρ only falls as μ grows.
 * Against agencies that collude and subtract their own noise, only the honest survivors' share
 * counts: the guarantee is the one of Skellam(μ·honest/threshold) (see distributedRho).
 */
export function perAgencyMu(mu: Rational, threshold: number): Rational {
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new RangeError('threshold must be a positive integer');
  if (mu.num < 0n) throw new RangeError('μ must be non-negative');
  return rational(mu.num, mu.den * BigInt(threshold));
}
