/**
 * The coefficient table of a finished fit, as R's `summary(glm())` gives it, from the sums at the
 * final coefficients:
 *
 * - covariance (internal scale) = φ·I⁻¹, the inverse information at the optimum (R uses the
 *   weights of its last iteration instead, a difference far below its own tolerance); with a
 *   ridge penalty, the sandwich φ·A⁻¹·I·A⁻¹ with A = I + λD, the covariance of the penalised
 *   estimator (its bias is not in it);
 * - dispersion φ = 1 for binomial and poisson; for gaussian the residual deviance over n - p,
 *   as R estimates it;
 * - back to the original scale by the linear map of scaling.ts: β = Mᵀβ', Cov = Mᵀ·Cov'·M;
 * - z = β/se (t for gaussian, with n - p degrees of freedom), two-sided p, and ci95 = β ± 1.96·se
 *   (Wald, as R's `confint.default`, also for gaussian);
 * - AIC as R computes it: deviance - 2·Σ ℓ_saturated + 2p for binomial and poisson,
 *   n·(log(2π·deviance/n) + 1) + 2 + 2p for gaussian; p counts every coefficient, also under ridge.
 *
 * Nothing in the table is NaN: a fit that cannot give a number is refused with its reason.
 */
import { FedstatError } from '../errors.js';
import { cholesky, choleskyInverse } from './cholesky.js';
import type { ModelCoding } from './design.js';
import { scalingOf } from './design.js';
import { divergenceError } from './diagnostics.js';
import { Z_975, normalTwoSidedP, studentTwoSidedP } from './distributions.js';
import type { FamilyName, LinkName } from './family.js';
import type { NewtonState } from './newton.js';
import { multiply, transpose } from './matrix.js';
import type { GlmSums } from './sums.js';
import { unpackInformation } from './sums.js';

/** One row of the table, on the original scale of the columns. */
export interface CoefficientRow {
  /** R's coefficient name, e.g. `sector建筑业`. */
  readonly term: string;
  /** The maximum-likelihood (or penalised) estimate. */
  readonly estimate: number;
  /** Its standard error (with the DP noise in a private fit). */
  readonly stderr: number;
  /** The Wald statistic: z, or t for gaussian (`GlmTable.statistic` says which). */
  readonly z: number;
  /** Two-sided p-value of the Wald statistic. */
  readonly p: number;
  /** The Wald 95 % confidence interval, estimate ± 1.96·stderr. */
  readonly ci95: readonly [number, number];
}

/** A fitted model's table and fit statistics. */
export interface GlmTable {
  /** The response distribution. */
  readonly family: FamilyName;
  /** The link of the family (logit, identity, log). */
  readonly link: LinkName;
  /** The formula, written back canonically. */
  readonly formula: string;
  /** `t` for gaussian (dispersion estimated), `z` otherwise. */
  readonly statistic: 'z' | 't';
  /** One row per coefficient, in the design's order (intercept first). */
  readonly terms: readonly CoefficientRow[];
  /** Category column → its reference level, for the columns coded by contrasts. */
  readonly referenceLevels: Readonly<Record<string, string>>;
  /** Covariance of the estimates, original scale, row-major d×d. */
  readonly covariance: readonly number[];
  /** φ: 1 for binomial and poisson, the residual variance estimate for gaussian. */
  readonly dispersion: number;
  /** Residual deviance at the estimate. */
  readonly deviance: number;
  /** Deviance of the intercept-only model (or β = 0 without an intercept). */
  readonly nullDeviance: number;
  /** Akaike's information criterion, as R computes it. */
  readonly aic: number;
  /** Rows fitted. */
  readonly n: number;
  /** Residual degrees of freedom, n − coefficients. */
  readonly dfResidual: number;
  /** Degrees of freedom of the null model. */
  readonly dfNull: number;
  /** λ of the ridge penalty (0 for none). */
  readonly ridge: number;
  /** Rounds (sum evaluations) the fit took. */
  readonly iterations: number;
  /** Whether the fit met its convergence rule (a DP fit: whether its last step was small). */
  readonly converged: boolean;
  /** What the reader of the table should know (non-convergence, lost rounds), one line each. */
  readonly warnings: readonly string[];
}

/** Cov' (internal scale, before φ): I⁻¹, or A⁻¹·I·A⁻¹ under ridge. */
function internalCovariance(coding: ModelCoding, info: Float64Array, d: number, ridge: number): Float64Array {
  const a = Float64Array.from(info);
  for (let j = coding.intercept ? 1 : 0; j < d; j++) a[j * d + j] = (a[j * d + j] as number) + ridge;
  const f = cholesky(a, d);
  if (!f.ok) throw divergenceError(coding, [f.column], false);
  const inv = choleskyInverse(f.l, d);
  return ridge === 0 ? inv : multiply(multiply(inv, info, d), inv, d);
}

function dispersionOf(coding: ModelCoding, sums: GlmSums, d: number, nullDeviance: number): number {
  if (coding.family !== 'gaussian') return 1;
  if (sums.n <= d) {
    throw new FedstatError(
      'QUERY_INVALID',
      `${sums.n} rows cannot estimate ${d} coefficients and a variance; use more rows or fewer terms`,
      {
        details: { reason: 'too-few-rows', n: sums.n, coefficients: d },
      },
    );
  }
  // Rounding leaves ~1e-30 of the null deviance when the fit is exact (R's summary.lm uses 1e-30 too).
  if (!(sums.deviance > 1e-20 * nullDeviance)) {
    throw new FedstatError(
      'QUERY_INVALID',
      'a perfect fit: the terms reproduce every response exactly (residual deviance 0), so there is no error to estimate',
      {
        details: { reason: 'perfect-fit' },
      },
    );
  }
  return sums.deviance / (sums.n - d);
}

/** Akaike's information criterion as R's glm computes it (gaussian: with the ML variance, +1 parameter). */
function aicOf(coding: ModelCoding, sums: GlmSums, d: number): number {
  if (coding.family === 'gaussian') return sums.n * (Math.log((2 * Math.PI * sums.deviance) / sums.n) + 1) + 2 + 2 * d;
  return sums.deviance - 2 * sums.saturated + 2 * d;
}

/** What a finished fit's table is made of (exact or DP), β and covariance on the internal scale. */
export interface TableParts {
  readonly beta: readonly number[];
  /** Row-major d×d, internal scale; multiplied by `covarianceScale` once mapped to the original scale. */
  readonly covariance: ArrayLike<number>;
  readonly covarianceScale: number;
  readonly dispersion: number;
  /** The sums the table reads the deviance and the AIC from. */
  readonly sums: GlmSums;
  readonly n: number;
  /** Degrees of freedom of gaussian's t statistic. */
  readonly tDf: number;
  readonly nullDeviance: number;
  readonly ridge: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly warnings: readonly string[];
}

/** The table from its parts: estimates and covariance on the original scale, Wald rows, fit statistics. */
export function glmTable(coding: ModelCoding, parts: TableParts): GlmTable {
  const d = coding.columns.length;
  const m = scalingOf(coding);
  const cov = multiply(multiply(transpose(m, d), parts.covariance, d), m, d).map((v) => v * parts.covarianceScale);
  const beta = coding.columns.map((_, j) => parts.beta.reduce((s, b, i) => s + (m[i * d + j] as number) * b, 0));
  const t = coding.family === 'gaussian';
  const terms = coding.coefficients.map((term, j): CoefficientRow => {
    const estimate = beta[j] as number;
    const stderr = Math.sqrt(cov[j * d + j] as number);
    if (!(stderr > 0) || !Number.isFinite(stderr) || !Number.isFinite(estimate)) {
      throw new FedstatError('INTERNAL', `the standard error of ${term} is not a positive number; please report it`, {
        details: { coefficient: term },
      });
    }
    const z = estimate / stderr;
    return {
      term,
      estimate,
      stderr,
      z,
      p: t ? studentTwoSidedP(z, parts.tDf) : normalTwoSidedP(z),
      ci95: [estimate - Z_975 * stderr, estimate + Z_975 * stderr],
    };
  });
  const aic = aicOf(coding, parts.sums, d);
  if (![parts.sums.deviance, parts.nullDeviance, aic].every(Number.isFinite))
    throw new FedstatError('INTERNAL', 'a fit statistic is not finite; please report it');
  return {
    family: coding.family,
    link: coding.link,
    formula: coding.formula,
    statistic: t ? 't' : 'z',
    terms,
    referenceLevels: coding.referenceLevels,
    covariance: Array.from(cov),
    dispersion: parts.dispersion,
    deviance: parts.sums.deviance,
    nullDeviance: parts.nullDeviance,
    aic,
    n: parts.n,
    dfResidual: parts.n - d,
    dfNull: parts.n - (coding.intercept ? 1 : 0),
    ridge: parts.ridge,
    iterations: parts.iterations,
    converged: parts.converged,
    warnings: parts.warnings,
  };
}

/**
 * The table of a finished fit: `state` from newton.ts with `phase: 'done'`, `sums` computed at
 * `state.beta`, `ridge` the λ of the fit.
 */
export function inferenceTable(coding: ModelCoding, state: NewtonState, sums: GlmSums, ridge: number): GlmTable {
  if (state.phase !== 'done' || state.nullDeviance === null)
    throw new RangeError('inferenceTable: the fit is not done');
  const d = coding.columns.length;
  const phi = dispersionOf(coding, sums, d, state.nullDeviance);
  return glmTable(coding, {
    beta: state.beta,
    covariance: internalCovariance(coding, unpackInformation(sums), d, ridge),
    covarianceScale: phi,
    dispersion: phi,
    sums,
    n: sums.n,
    tDf: sums.n - d,
    nullDeviance: state.nullDeviance,
    ridge,
    iterations: state.round,
    converged: state.converged,
    warnings: state.warnings,
  });
}
