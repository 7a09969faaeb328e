/**
 * The sums one Newton (Fisher-scoring) round needs, at the round's coefficients β:
 *
 * - `gradient[j]` = Σ score·x_j, the gradient of the log-likelihood;
 * - `information` = Σ w·x·xᵀ, the Fisher information, packed: only the upper triangle, row by row,
 *   so entry (j, k) with j ≤ k is at `packedIndex(d, j, k)` = j·d - j(j-1)/2 + (k - j), and the
 *   array holds d(d+1)/2 numbers ((0,0) (0,1) … (0,d-1) (1,1) (1,2) … (d-1,d-1));
 * - `deviance` = Σ of the rows' deviance contributions;
 * - `saturated` = Σ of the rows' saturated log-likelihoods (for the AIC; independent of β);
 * - `n`, the number of rows.
 *
 * Every field is a sum over rows, so sums over a partition of the rows add up (`addSums`) to the
 * sums over all of them: this is what each agency computes in its store and what the coordinator
 * adds under encryption. Floating-point addition is not associative, so partitioned and pooled
 * sums agree to rounding (about 1e-15 relative), not bit for bit.
 */
import { clampEta, familyOf } from './family.js';
import type { ModelCoding } from './design.js';
import type { EncodedRow } from './design-row.js';

/** The sums of one round (see the file comment). */
export interface GlmSums {
  readonly gradient: Float64Array;
  readonly information: Float64Array;
  deviance: number;
  saturated: number;
  n: number;
}

/** The position of entry (j, k), j ≤ k, in a packed upper triangle of a d×d matrix. */
export function packedIndex(d: number, j: number, k: number): number {
  return j * d - (j * (j - 1)) / 2 + (k - j);
}

/** Zero sums for d coefficients. */
export function emptySums(d: number): GlmSums {
  if (!Number.isSafeInteger(d) || d < 0) throw new RangeError('emptySums: d must be a non-negative integer');
  return {
    gradient: new Float64Array(d),
    information: new Float64Array((d * (d + 1)) / 2),
    deviance: 0,
    saturated: 0,
    n: 0,
  };
}

/** Adds one coded row's contributions at β to `sums` (in place) and returns `sums`. */
export function accumulate(sums: GlmSums, coding: ModelCoding, row: EncodedRow, beta: ArrayLike<number>): GlmSums {
  accumulateEntries(sums, coding, row.index, row.value, 0, row.nnz, row.y, row.offset, beta);
  return sums;
}

/**
 * `accumulate` for a row whose non-zero entries are `index/value[from..to)` (a slice of a larger
 * array, as pooled-fit.ts keeps all rows), without allocating.
 */
export function accumulateEntries(
  sums: GlmSums,
  coding: ModelCoding,
  index: Int32Array,
  value: Float64Array,
  from: number,
  to: number,
  y: number,
  offset: number,
  beta: ArrayLike<number>,
): void {
  const family = familyOf(coding.family);
  let eta = offset;
  for (let a = from; a < to; a++) eta += (value[a] as number) * (beta[index[a] as number] as number);
  const t = family.rowTerms(y, clampEta(eta, coding.eta));
  const d = sums.gradient.length;
  for (let a = from; a < to; a++) {
    const j = index[a] as number;
    const xj = value[a] as number;
    sums.gradient[j] = (sums.gradient[j] as number) + t.score * xj;
    const wx = t.weight * xj;
    // Indexes ascend within a row (terms in design order), so (j, k) with k ≥ j is upper.
    for (let b = a; b < to; b++) {
      const p = packedIndex(d, j, index[b] as number);
      sums.information[p] = (sums.information[p] as number) + wx * (value[b] as number);
    }
  }
  sums.deviance += t.deviance;
  sums.saturated += family.saturatedLogLik(y);
  sums.n += 1;
}

/** a + b, as new sums. Throws RangeError when their sizes differ. */
export function addSums(a: GlmSums, b: GlmSums): GlmSums {
  if (a.gradient.length !== b.gradient.length || a.information.length !== b.information.length) {
    throw new RangeError('addSums: the sums are for different numbers of coefficients');
  }
  const out = emptySums(a.gradient.length);
  for (let j = 0; j < out.gradient.length; j++) out.gradient[j] = (a.gradient[j] as number) + (b.gradient[j] as number);
  for (let p = 0; p < out.information.length; p++)
    out.information[p] = (a.information[p] as number) + (b.information[p] as number);
  out.deviance = a.deviance + b.deviance;
  out.saturated = a.saturated + b.saturated;
  out.n = a.n + b.n;
  return out;
}

/** The information as a full symmetric d×d matrix (row-major). */
export function unpackInformation(sums: GlmSums): Float64Array {
  const d = sums.gradient.length;
  const m = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      const v = sums.information[packedIndex(d, j, k)] as number;
      m[j * d + k] = v;
      m[k * d + j] = v;
    }
  }
  return m;
}
