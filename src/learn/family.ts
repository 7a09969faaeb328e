/**
 * The three GLM families, each with its canonical link: binomial/logit, gaussian/identity,
 * poisson/log. For one row with linear predictor η (offset included), `rowTerms` gives what a
 * Fisher-scoring (IRLS) round sums:
 *
 * - the score (y - μ)·μ'(η)/V(μ), which for canonical links is y - μ; the row adds score·x to the
 *   gradient of the log-likelihood;
 * - the working weight w = μ'(η)²/V(μ) (μ(1-μ), 1, μ); the row adds w·x·xᵀ to the information;
 * - its deviance contribution, 2·(ℓ_saturated - ℓ).
 *
 * η is clamped to the family's range before μ is computed, as R's `binomial()` does (|η| ≤ 30,
 * so μ never reaches 0 or 1 and the deviance stays finite). For poisson the clamp is
 * [log ε, η_max] (design.ts sets η_max from the schema): μ = exp(η) is unbounded otherwise.
 *
 * Per-record bounds (the DP sensitivities; record-bounds.ts computes them), with |x_j| ≤ 1 after
 * scaling and at most t non-zero entries of x (one per term, plus the intercept):
 * - binomial: |score| ≤ 1, 0 < w ≤ 1/4, deviance ≤ 2·log(1 + e^30) ≈ 60;
 * - poisson:  |score| ≤ max(y_max, e^η_max), 0 < w ≤ e^η_max;
 * - gaussian: |score| = |y - η| ≤ max|y| + ‖β'‖₁ (no clamp; the bound depends on the round's β), w = 1.
 * So each entry of the row's gradient is at most max|score|, of its information at most max w.
 */

/** The families fedstat fits. */
export type FamilyName = 'binomial' | 'gaussian' | 'poisson';

/** Each family's (canonical) link. */
export type LinkName = 'logit' | 'identity' | 'log';

/** What one row adds to a round's sums (see the file comment). */
export interface RowTerms {
  readonly score: number;
  readonly weight: number;
  readonly deviance: number;
}

/** A family's functions. `eta` ranges are applied by the caller's clamp (`clampEta`). */
export interface GlmFamily {
  readonly name: FamilyName;
  readonly link: LinkName;
  /** μ from (clamped) η. */
  linkinv(eta: number): number;
  /** The link at μ: the η that gives μ. */
  linkfun(mu: number): number;
  /** Score, weight and deviance of a row with response y at (clamped) η. */
  rowTerms(y: number, eta: number): RowTerms;
  /**
   * The row's saturated log-likelihood, independent of β: AIC = deviance - 2·Σ saturated + 2p for
   * binomial and poisson (gaussian's AIC comes from the deviance alone).
   */
  saturatedLogLik(y: number): number;
  /** True when the dispersion is estimated (gaussian) rather than fixed at 1. */
  readonly estimatedDispersion: boolean;
}

/** R's logit threshold (beyond |η| = 30 R holds μ near 0 or 1); fedstat holds η at ±30, so μ ∈ [1e-13, 1 - 1e-13]. */
export const LOGIT_ETA_LIMIT = 30;
/** R's floor for a Poisson mean: μ ≥ ε (so η ≥ log ε ≈ -36.04). */
export const POISSON_ETA_MIN = Math.log(Number.EPSILON);

/** y·log(y/μ) with 0·log 0 = 0, as R's `y_log_y`. */
function yLogY(y: number, logMu: number): number {
  return y === 0 ? 0 : y * (Math.log(y) - logMu);
}

const BINOMIAL: GlmFamily = {
  name: 'binomial',
  link: 'logit',
  linkinv: (eta) => 1 / (1 + Math.exp(-eta)),
  linkfun: (mu) => Math.log(mu / (1 - mu)),
  rowTerms(y, eta) {
    const mu = 1 / (1 + Math.exp(-eta));
    // log(1 + e^η) without overflow or cancellation: the deviance is 2·log(1 + e^{±η}).
    const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
    return { score: y - mu, weight: mu * (1 - mu), deviance: 2 * (y === 1 ? softplus(-eta) : softplus(eta)) };
  },
  saturatedLogLik: () => 0,
  estimatedDispersion: false,
};

const GAUSSIAN: GlmFamily = {
  name: 'gaussian',
  link: 'identity',
  linkinv: (eta) => eta,
  linkfun: (mu) => mu,
  rowTerms(y, eta) {
    const r = y - eta;
    return { score: r, weight: 1, deviance: r * r };
  },
  saturatedLogLik: () => 0,
  estimatedDispersion: true,
};

const POISSON: GlmFamily = {
  name: 'poisson',
  link: 'log',
  linkinv: (eta) => Math.exp(eta),
  linkfun: (mu) => Math.log(mu),
  rowTerms(y, eta) {
    const mu = Math.exp(eta);
    return { score: y - mu, weight: mu, deviance: 2 * (yLogY(y, eta) - (y - mu)) };
  },
  // y·log y - y - log(y!): the log-likelihood of μ = y.
  saturatedLogLik: (y) => (y === 0 ? 0 : y * Math.log(y) - y - logFactorial(y)),
  estimatedDispersion: false,
};

/** log(y!) for a non-negative integer y: exact sums for small y, Stirling's series beyond. */
function logFactorial(y: number): number {
  if (y < 2) return 0;
  if (y < 64) {
    let s = 0;
    for (let k = 2; k <= y; k++) s += Math.log(k);
    return s;
  }
  // Stirling with four correction terms: relative error below 1e-17 for y ≥ 64.
  const n = y + 1;
  const inv = 1 / n;
  const inv2 = inv * inv;
  return (
    (n - 0.5) * Math.log(n) -
    n +
    0.5 * Math.log(2 * Math.PI) +
    inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
  );
}

/** The family's functions by name. */
export function familyOf(name: FamilyName): GlmFamily {
  return name === 'binomial' ? BINOMIAL : name === 'poisson' ? POISSON : GAUSSIAN;
}

/** The family's link (each family here has its canonical link). */
export function linkOf(name: FamilyName): LinkName {
  return familyOf(name).link;
}

/** η held to `range` (null: no clamp). */
export function clampEta(eta: number, range: { readonly min: number; readonly max: number } | null): number {
  if (range === null) return eta;
  return eta < range.min ? range.min : eta > range.max ? range.max : eta;
}
