/**
 * Per-record bounds on what one row adds to a round's sums: the sensitivities the differentially
 * private rounds of issue 13 need (noise is scaled to them). They follow from the coding alone
 * (and, for gaussian, from the round's β, which is public: the coordinator signs it):
 *
 * - every design entry has |x_j| ≤ 1 (scaling.ts) and a row has at most k non-zero entries,
 *   k = number of terms + 1 for the intercept (each term is non-zero in one column at most), so
 *   ‖x‖₂ ≤ √k and ‖x·xᵀ‖_F = ‖x‖₂² ≤ k;
 * - the row's gradient is score·x and its information w·x·xᵀ, so per entry |score| and w bound
 *   them, in L2 |score|·√k and w·k.
 *
 * Per family (S = max |score|, W = max w, D = max deviance contribution):
 * - binomial: S = 1, W = 1/4, D = 2·log(1 + e^30) (η is clamped to ±30);
 * - poisson: η is clamped to [η_min, η_max] (the coding's `eta`), μ = e^η, so
 *   S = max(y_max - e^η_min, e^η_max - y_min), W = e^η_max, D at a corner of y × μ;
 * - gaussian: with B = |β'₀| + Σ_terms max_{j ∈ term} |β'_j| ≥ |η|, S = max(y_max + B, B - y_min),
 *   W = 1, D = S². Without β there is no bound: a gaussian round must clamp its residuals to use one.
 *
 * With β given, the poisson η range narrows to [-B + min offset, B + max offset] inside the clamp.
 */
import type { ModelCoding } from './design.js';
import { LOGIT_ETA_LIMIT } from './family.js';

/** Bounds on one row's contributions (see the file comment). */
export interface RecordBounds {
  /** k: non-zero design entries of a row, at most. */
  readonly nonZero: number;
  /** max |score|: bounds each gradient entry |score·x_j|. */
  readonly score: number;
  /** max w: bounds each information entry |w·x_j·x_k|. */
  readonly weight: number;
  /** ‖score·x‖₂ ≤ score·√k. */
  readonly gradientL2: number;
  /** ‖w·x·xᵀ‖_F ≤ weight·k. */
  readonly informationFrobenius: number;
  /** max deviance contribution. */
  readonly deviance: number;
}

/** B ≥ |xᵀβ'|: the intercept plus each term's largest |coefficient| (|x_j| ≤ 1, one column per term). */
function linearPredictorBound(coding: ModelCoding, beta: readonly number[]): number {
  let b = coding.intercept ? Math.abs(beta[0] ?? 0) : 0;
  for (const t of coding.terms) {
    let m = 0;
    for (let j = t.firstColumn; j < t.firstColumn + t.columnCount; j++) m = Math.max(m, Math.abs(beta[j] ?? 0));
    b += m;
  }
  return b;
}

function poissonDeviance(y: number, mu: number): number {
  return 2 * ((y === 0 ? 0 : y * Math.log(y / mu)) - (y - mu));
}

function offsetRange(coding: ModelCoding): { min: number; max: number } {
  const o = coding.offset;
  if (o === null) return { min: 0, max: 0 };
  return o.log ? { min: Math.log(o.min), max: Math.log(o.max) } : { min: o.min, max: o.max };
}

/** The bounds for `coding`, at the round's internal-scale β when given (required for gaussian). */
export function recordBounds(coding: ModelCoding, beta?: readonly number[]): RecordBounds {
  const k = coding.terms.length + (coding.intercept ? 1 : 0);
  const out = (score: number, weight: number, deviance: number): RecordBounds =>
    Object.freeze({
      nonZero: k,
      score,
      weight,
      gradientL2: score * Math.sqrt(k),
      informationFrobenius: weight * k,
      deviance,
    });
  const r = coding.response;
  const yMin = r.kind === 'integer' ? r.min : 0;
  const yMax = r.kind === 'integer' ? r.max : 1;
  if (coding.family === 'binomial') return out(1, 0.25, 2 * (LOGIT_ETA_LIMIT + Math.log1p(Math.exp(-LOGIT_ETA_LIMIT))));
  if (coding.family === 'gaussian') {
    if (beta === undefined) throw new RangeError("recordBounds: a gaussian bound needs the round's coefficients");
    const b = linearPredictorBound(coding, beta);
    const s = Math.max(yMax + b, b - yMin);
    return out(s, 1, s * s);
  }
  const clamp = coding.eta ?? { min: -Infinity, max: Infinity };
  let lo = clamp.min;
  let hi = clamp.max;
  if (beta !== undefined) {
    const b = linearPredictorBound(coding, beta);
    const off = offsetRange(coding);
    lo = Math.max(lo, -b + off.min);
    hi = Math.min(hi, b + off.max);
  }
  const [muLo, muHi] = [Math.exp(lo), Math.exp(hi)];
  const score = Math.max(yMax - muLo, muHi - yMin);
  // The unit deviance is convex in y and in μ, so its maximum over the box is at a corner.
  const deviance = Math.max(...[yMin, yMax].flatMap((y) => [muLo, muHi].map((mu) => poissonDeviance(y, mu))));
  return out(score, muHi, deviance);
}
