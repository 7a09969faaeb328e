/**
 * zCDP accounting for the (distributed) Skellam mechanism, in exact rationals.
 *
 * Mechanism: release q(D) + Z with q integer-valued and Z ~ Sk(μ) = Poisson(μ) − Poisson(μ)
 * (variance 2μ) in every coordinate. Agarwal, Kairouz, Liu (NeurIPS 2021, Thm. 3.5) bound its
 * Rényi divergence for queries with L1 sensitivity Δ1 and L2 sensitivity Δ2 by
 *
 *   ε(α) = α·Δ2²/(4μ) + min( ((2α−1)·Δ2² + 6·Δ1) / (16μ²),  3·Δ1/(4μ) ).
 *
 * What we account in: plain ρ-zCDP (Bun & Steinke 2016: D_α ≤ ρ·α for every α > 1). For α ≥ 1,
 * (2α−1)Δ2² ≤ 2αΔ2² and 6Δ1 ≤ 6αΔ1, so the first branch of the min gives
 *
 *   ε(α) ≤ α · [ Δ2²/(4μ) + (Δ2² + 3Δ1)/(8μ²) ]  =:  α · ρ(μ).
 *
 * ρ(μ) is the Gaussian term Δ2²/(4μ) plus a correction of order 1/μ² (≈ 2/μ relative for a
 * COUNT), so folding the paper's additive slack into ρ costs almost nothing at useful μ while
 * keeping the ledger a single number that composes by addition (Bun & Steinke, Lemma 2.3) and
 * converts with Canonne–Kamath–Steinke. Everything here is exact: no float touches ρ.
 *
 * The noise is independent per coordinate, so D_α of the vector mechanism is the sum of the
 * per-coordinate divergences; ρ(μ) is additive in (Δ2², Δ1) in exactly the same way, so the 1-D
 * bound (checked numerically against the summed Rényi divergence at real orders 1.001…20 in
 * test/dp/accounting-rdp.test.ts) carries over to any integer vector with those norms.
 */
import { add, compare, div, min, mul, rational, sub, ZERO, type Rational } from './rational.js';

/** Sensitivity of an integer query vector between neighbouring datasets. l2 is kept squared so it stays an integer. */
export interface Sensitivity {
  /** Δ1 = max ‖q(D) − q(D')‖₁ over neighbours. */
  readonly l1: bigint;
  /** Δ2² = max ‖q(D) − q(D')‖₂² over neighbours (an integer for integer queries). */
  readonly l2Squared: bigint;
}

function checkSensitivity(s: Sensitivity): void {
  if (s.l1 < 0n || s.l2Squared < 0n) throw new RangeError('sensitivity must be non-negative');
  // For an integer vector v: ‖v‖₂² ≤ ‖v‖₁² and ‖v‖₁ ≤ ‖v‖₂² (each |v_i| ≤ v_i²).
  if (s.l2Squared > s.l1 * s.l1 || s.l1 > s.l2Squared) {
    throw new RangeError('sensitivity: need Δ1 ≤ Δ2² ≤ Δ1² for an integer query');
  }
}

function checkMu(mu: Rational): void {
  if (mu.num <= 0n) throw new RangeError('Skellam μ must be positive');
}

/**
 * The paper's RDP curve ε(α) for Skellam(μ) at order α > 1, exactly.
 * @param alpha Rényi order, a rational > 1.
 */
export function skellamRdp(alpha: Rational, mu: Rational, sens: Sensitivity): Rational {
  checkSensitivity(sens);
  checkMu(mu);
  if (compare(alpha, rational(1n)) <= 0) throw new RangeError('Rényi order α must be > 1');
  const l1 = rational(sens.l1);
  const l2sq = rational(sens.l2Squared);
  const gaussian = div(mul(alpha, l2sq), mul(rational(4n), mu));
  const twoAlphaMinus1 = sub(mul(rational(2n), alpha), rational(1n));
  const branchA = div(add(mul(twoAlphaMinus1, l2sq), mul(rational(6n), l1)), mul(rational(16n), mul(mu, mu)));
  const branchB = div(mul(rational(3n), l1), mul(rational(4n), mu));
  return add(gaussian, min(branchA, branchB));
}

/**
 * ρ such that adding Skellam(μ) to a query of sensitivity `sens` is ρ-zCDP:
 * ρ(μ) = Δ2²/(4μ) + (Δ2² + 3Δ1)/(8μ²). Strictly decreasing in μ; 0 for a zero-sensitivity query.
 */
export function skellamRho(mu: Rational, sens: Sensitivity): Rational {
  checkSensitivity(sens);
  if (sens.l1 === 0n) return ZERO;
  checkMu(mu);
  const gaussian = div(rational(sens.l2Squared), mul(rational(4n), mu));
  const correction = div(rational(sens.l2Squared + 3n * sens.l1), mul(rational(8n), mul(mu, mu)));
  return add(gaussian, correction);
}

/**
 * ρ of the distributed mechanism: each of `survivors` agencies adds Skellam(μ/threshold); their
 * sum is Skellam(μ·survivors/threshold) (Skellam is closed under addition). Refuses fewer
 * survivors than the threshold: the release would be under-noised.
 */
export function distributedRho(mu: Rational, threshold: number, survivors: number, sens: Sensitivity): Rational {
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new RangeError('threshold must be a positive integer');
  if (!Number.isSafeInteger(survivors) || survivors < threshold) {
    throw new RangeError('survivors must be an integer ≥ threshold');
  }
  return skellamRho(mul(mu, rational(BigInt(survivors), BigInt(threshold))), sens);
}

/** Sequential composition of ρ-zCDP mechanisms: the ρs add (Bun & Steinke 2016, Lemma 2.3). */
export function composeRho(rhos: Iterable<Rational>): Rational {
  let total = ZERO;
  for (const r of rhos) {
    if (r.num < 0n) throw new RangeError('ρ must be non-negative');
    total = add(total, r);
  }
  return total;
}

/** Budget left after `spent`; never negative (an overspent ledger has zero left). */
export function remaining(budget: Rational, spent: Rational): Rational {
  const left = sub(budget, spent);
  return left.num < 0n ? ZERO : left;
}

/** Whether a charge of `request` fits in `budget` given `spent`: exact `spent + request ≤ budget`. */
export function fitsBudget(budget: Rational, spent: Rational, request: Rational): boolean {
  return compare(add(spent, request), budget) <= 0;
}
