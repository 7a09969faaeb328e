/**
 * The coefficient table of a differentially private fit (dp-newton.ts), with standard errors and
 * 95 % intervals that include the noise, by the delta method on the last Newton step.
 *
 * The estimate is β̂ = β_{R−1} + Ã⁻¹·r̃, r̃ = g̃ − λDβ_{R−1}, from the last round's noisy sums
 * (g̃ = g + e_g, H̃ = H + E, Ã = H̃ + λD). To first order, β̂ − β̂_exact ≈ Ã⁻¹·(e_g − E·Δ) with Δ the
 * last step: the error of β_{R−1} itself is contracted by the Newton step to second order. The
 * entries of e_g are independent with variance σ_g², those of the symmetric E (each packed entry
 * drawn once) with σ_H², so Cov(E·Δ) = σ_H²·(‖Δ‖²·I + ΔΔᵀ − diag(Δ²)). Hence (internal scale)
 *
 *   Cov(β̂) = φ·S + Ã⁻¹·[σ_g²·I + σ_H²·(‖Δ‖²·I + ΔΔᵀ − diag(Δ²))]·Ã⁻¹,
 *
 * with S the sampling covariance as inference.ts computes it (Ã⁻¹, or Ã⁻¹·H̃·Ã⁻¹ under a ridge)
 * and φ = 1, or for gaussian the noisy residual deviance over n − p. The noisy Δ stands in for the
 * true step, which errs on the wide side. Mapped to the original scale by M as in inference.ts;
 * ci95 = β ± 1.96·se (z; t with n − p degrees of freedom for gaussian).
 *
 * Refused, never NaN: an Ã with an eigenvalue below the floor 3·σ_H·√d (the noise swamps what
 * the rows say about that direction; the error names its largest coefficient), a gaussian fit
 * whose noisy deviance or row count leaves no variance. The deviance, null deviance, AIC and n are
 * the noisy released ones (deviance at β_{R−1}).
 */
import { FedstatError } from '../errors.js';
import type { ModelCoding } from './design.js';
import { termOf } from './diagnostics.js';
import type { DpNewtonState } from './dp-newton.js';
import type { GlmEncodingPlan } from './fixed-point.js';
import { glmNoiseVariance, type GlmNoiseVariance } from './glm-noise.js';
import { glmTable, type GlmTable } from './inference.js';
import { multiply } from './matrix.js';
import type { GlmSums } from './sums.js';
import { unpackInformation } from './sums.js';
import { fromEigen, symmetricEigen, type SymmetricEigen } from './symmetric-eigen.js';

/** How the intervals of a DP fit include the noise (`ModelPrivacy.intervals`). */
export const DP_INTERVALS =
  'Wald 95 % intervals whose variance adds to the sampling variance the DP noise of the last round’s gradient and information, by the delta method on the last Newton step (docs/privacy.md, "Federated models")';

/** Floor on the eigenvalues of Ã, in units of σ_H·√d (dp-newton.ts lifts Ã's to it). */
const FLOOR_FACTOR = 3;
/** A last step beyond this many standard errors in some coefficient: not settled. */
const SETTLED_SE = 5;

/** Ã = H̃ + λD, full row-major d×d. */
export function penalisedInformation(coding: ModelCoding, sums: GlmSums, ridge: number): Float64Array {
  const d = sums.gradient.length;
  const a = unpackInformation(sums);
  for (let j = coding.intercept ? 1 : 0; j < d; j++) a[j * d + j] = (a[j * d + j] as number) + ridge;
  return a;
}

/** The eigenvalue floor 3·σ_H·√d, and never below 1e-12 of the largest |eigenvalue| (exact sums). */
export function informationFloor(noise: GlmNoiseVariance, d: number, largest: number): number {
  return Math.max(FLOOR_FACTOR * Math.sqrt(noise.information) * Math.sqrt(d), 1e-12 * largest);
}

function unidentified(coding: ModelCoding, eigen: SymmetricEigen, k: number): FedstatError {
  const d = eigen.values.length;
  let j = 0;
  for (let i = 1; i < d; i++)
    if (Math.abs(eigen.vectors[i * d + k] as number) > Math.abs(eigen.vectors[j * d + k] as number)) j = i;
  const name = coding.coefficients[j] ?? `#${j}`;
  const term = termOf(coding, j);
  return new FedstatError(
    'QUERY_INVALID',
    `the noisy information does not pin down ${name} (term ${term}): the privacy noise is as large as what the rows say about it; raise rho, announce fewer rounds, drop or merge the term ${term}, or fit with a ridge penalty (--ridge 1)`,
    { details: { reason: 'too-noisy', coefficient: name, term } },
  );
}

function noVariance(): FedstatError {
  return new FedstatError(
    'QUERY_INVALID',
    'the noisy residual deviance or row count of the last round leaves no variance to estimate; raise rho or use more rows',
    { details: { reason: 'too-noisy' } },
  );
}

/** φ: 1, or the gaussian's noisy deviance / (n − p). */
function dispersionOf(coding: ModelCoding, sums: GlmSums, d: number): number {
  if (coding.family !== 'gaussian') return 1;
  if (!(sums.n > d + 1) || !(sums.deviance > 0)) throw noVariance();
  return sums.deviance / (sums.n - d);
}

/** Ã⁻¹·[σ_g²·I + σ_H²·(‖Δ‖²·I + ΔΔᵀ − diag(Δ²))]·Ã⁻¹. */
function noiseCovariance(inverse: Float64Array, step: readonly number[], noise: GlmNoiseVariance): Float64Array {
  const d = step.length;
  const norm2 = step.reduce((s, x) => s + x * x, 0);
  const middle = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const si = step[i] as number;
      const sj = step[j] as number;
      middle[i * d + j] = i === j ? noise.gradient + noise.information * norm2 : noise.information * si * sj;
    }
  }
  return multiply(multiply(inverse, middle, d), inverse, d);
}

/** Cov(β̂) on the internal scale (the file comment). */
function internalCovariance(
  coding: ModelCoding,
  state: DpNewtonState,
  sums: GlmSums,
  ridge: number,
  noise: GlmNoiseVariance,
  phi: number,
): Float64Array {
  const d = sums.gradient.length;
  const eigen = symmetricEigen(penalisedInformation(coding, sums, ridge), d);
  const largest = Math.max(0, ...Array.from(eigen.values, Math.abs));
  const floor = informationFloor(noise, d, largest);
  let weakest = 0;
  for (let k = 1; k < d; k++) if ((eigen.values[k] as number) < (eigen.values[weakest] as number)) weakest = k;
  if (!((eigen.values[weakest] as number) >= floor)) throw unidentified(coding, eigen, weakest);
  const inverse = fromEigen(eigen, (v) => 1 / v);
  const sampling = ridge === 0 ? inverse : multiply(multiply(inverse, unpackInformation(sums), d), inverse, d);
  const noisy = noiseCovariance(inverse, state.lastStep ?? [], noise);
  return sampling.map((s, i) => phi * s + (noisy[i] as number));
}

/** Whether the last step is within SETTLED_SE standard errors in every coefficient and was not cut. */
function settled(state: DpNewtonState, cov: Float64Array, d: number): boolean {
  const step = state.lastStep ?? [];
  const cut = state.history.at(-1)?.capped ?? false;
  return !cut && step.every((s, j) => Math.abs(s) <= SETTLED_SE * Math.sqrt(cov[j * d + j] as number));
}

/**
 * The table of a finished DP fit: `state` done, `lastSums` the noisy sums of its last round (at
 * `state.evaluated`), `ridge` the fit's λ, `noise` the last round's `glmNoiseVariance(plan, s)`
 * for the s agencies whose noise the sums carry, or its plan (then s = the threshold, the least).
 * QUERY_INVALID with the fix when the noise leaves a coefficient or the variance unknown.
 */
export function dpInferenceTable(
  coding: ModelCoding,
  state: DpNewtonState,
  lastSums: GlmSums,
  ridge: number,
  noiseOrPlan: GlmNoiseVariance | GlmEncodingPlan,
): GlmTable {
  const noise = 'kinds' in noiseOrPlan ? glmNoiseVariance(noiseOrPlan) : noiseOrPlan;
  if (state.phase !== 'done' || state.lastStep === null || state.nullDeviance === null)
    throw new RangeError('dpInferenceTable: the fit is not done');
  const d = coding.columns.length;
  if (lastSums.gradient.length !== d) throw new RangeError('dpInferenceTable: the sums are for another model');
  const phi = dispersionOf(coding, lastSums, d);
  const internal = internalCovariance(coding, state, lastSums, ridge, noise, phi);
  const n = Math.max(0, Math.round(lastSums.n));
  const converged = settled(state, internal, d);
  const warnings = converged
    ? state.warnings
    : [
        ...state.warnings,
        `the last step moved a coefficient by more than ${SETTLED_SE} standard errors; announce more rounds`,
      ];
  // φ is inside `internal` already (the noise's part of the covariance is not scaled by it).
  return glmTable(coding, {
    beta: state.beta,
    covariance: internal,
    covarianceScale: 1,
    dispersion: phi,
    sums: lastSums,
    n,
    tDf: Math.max(1, n - d),
    nullDeviance: state.nullDeviance,
    ridge,
    iterations: state.round,
    converged,
    warnings,
  });
}
