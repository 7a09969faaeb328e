/**
 * How many of a fit's 95 % Wald intervals hold the truth, and how much that count varies when the
 * estimates are correlated. Under the normal approximation the intervals rest on, the z-scores
 * (β̂_j − β_j)/se_j of one fit are jointly normal with the fit's correlation matrix R, so interval
 * j covers with probability p = 0.95 and two intervals i, j cover together with probability
 * q(ρ_ij) = P(|Z_i| < c, |Z_j| < c), c = 1.96. The count of covering intervals then has
 *
 *   Var = Σ_j p(1 − p) + 2 Σ_{i<j} (q(ρ_ij) − p²),
 *
 * which is the binomial variance d·p(1 − p) when the estimates are uncorrelated and larger when they
 * are (district effects share their reference level). Fits of independent samples add variances.
 */
import { Z_975, normalTwoSidedP } from '../../src/learn/distributions.js';

/** The coverage of one 95 % interval. */
export const COVERAGE = 0.95;

/** Φ(x), the standard normal distribution function. */
function normalCdf(x: number): number {
  const tail = normalTwoSidedP(x) / 2;
  return x >= 0 ? 1 - tail : tail;
}

/** q(ρ) = ∫_{−c}^{c} φ(x)·P(|ρx + s·Z| < c) dx, s = √(1 − ρ²), by Simpson's rule on `n` panels. */
function jointCoverage(rho: number, n = 2000): number {
  const c = Z_975;
  if (rho >= 1) return COVERAGE;
  const s = Math.sqrt(1 - rho * rho);
  const h = (2 * c) / n;
  let sum = 0;
  for (let k = 0; k <= n; k++) {
    const x = -c + k * h;
    const density = Math.exp(-(x * x) / 2) / Math.sqrt(2 * Math.PI);
    const f = density * (normalCdf((c - rho * x) / s) - normalCdf((-c - rho * x) / s));
    sum += (k === 0 || k === n ? 1 : k % 2 === 1 ? 4 : 2) * f;
  }
  return (sum * h) / 3;
}

/** q on a grid of |ρ| (q is even in ρ), interpolated linearly: smooth, so 1/1000 steps are plenty. */
const GRID = 1000;
let table: Float64Array | null = null;
function jointCoverageAt(rho: number): number {
  table ??= Float64Array.from({ length: GRID + 1 }, (_, k) => jointCoverage(k / GRID));
  const at = Math.min(Math.abs(rho), 1) * GRID;
  const k = Math.min(Math.floor(at), GRID - 1);
  const t = at - k;
  return (1 - t) * (table[k] as number) + t * (table[k + 1] as number);
}

/** The variance of the count of covering intervals among `terms` of a fit with this covariance (row-major d×d). */
export function coverageCountVariance(covariance: readonly number[], d: number, terms: readonly number[]): number {
  const p = COVERAGE;
  let v = terms.length * p * (1 - p);
  for (const [a, i] of terms.entries()) {
    for (const j of terms.slice(a + 1)) {
      const rho =
        (covariance[i * d + j] as number) /
        Math.sqrt((covariance[i * d + i] as number) * (covariance[j * d + j] as number));
      v += 2 * (jointCoverageAt(rho) - p * p);
    }
  }
  return v;
}
