/**
 * Cholesky factorisation A = L·Lᵀ of a symmetric d×d matrix (row-major, d ≤ 120 here, so the
 * plain O(d³/3) algorithm is instant), with the failure located: the first column whose pivot is
 * not clearly positive is linearly dependent (to 1e-10) on the columns before it, or has no
 * weight at all. newton.ts turns that column into the term to blame.
 */

/** A pivot counts as zero when it is at most this fraction of the column's diagonal entry. */
const PIVOT_TOLERANCE = 1e-10;

/** The factor, or where it failed: `column` (its diagonal `diagonal`, 0 when the column is all zero). */
export type CholeskyResult =
  | { readonly ok: true; readonly l: Float64Array; readonly d: number }
  | {
      readonly ok: false;
      readonly column: number;
      readonly diagonal: number;
      readonly l: Float64Array;
      readonly d: number;
    };

/** Factors `a` (row-major d×d, symmetric; only its lower triangle is read). */
export function cholesky(a: Float64Array, d: number): CholeskyResult {
  const l = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const diagonal = a[j * d + j] as number;
    let s = diagonal;
    for (let k = 0; k < j; k++) s -= (l[j * d + k] as number) ** 2;
    if (!(diagonal > 0) || !(s > PIVOT_TOLERANCE * diagonal))
      return { ok: false, column: j, diagonal: Number.isFinite(diagonal) ? diagonal : 0, l, d };
    const ljj = Math.sqrt(s);
    l[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j] as number;
      for (let k = 0; k < j; k++) t -= (l[i * d + k] as number) * (l[j * d + k] as number);
      l[i * d + j] = t / ljj;
    }
  }
  return { ok: true, l, d };
}

/** Solves L·y = b for the leading `n`×`n` block of L (forward substitution). */
function forward(l: Float64Array, d: number, b: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * d + k] as number) * (y[k] as number);
    y[i] = s / (l[i * d + i] as number);
  }
  return y;
}

/** Solves Lᵀ·x = y for the leading `n`×`n` block of L (back substitution). */
function backward(l: Float64Array, d: number, y: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < n; k++) s -= (l[k * d + i] as number) * (x[k] as number);
    x[i] = s / (l[i * d + i] as number);
  }
  return x;
}

/** Solves A·x = b given A's factor L (d×d). */
export function choleskySolve(l: Float64Array, d: number, b: ArrayLike<number>): Float64Array {
  return backward(l, d, forward(l, d, b, d), d);
}

/** A⁻¹ (row-major d×d) given A's factor L, column by column. */
export function choleskyInverse(l: Float64Array, d: number): Float64Array {
  const inv = new Float64Array(d * d);
  const e = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    e.fill(0);
    e[j] = 1;
    const col = choleskySolve(l, d, e);
    for (let i = 0; i < d; i++) inv[i * d + j] = col[i] as number;
  }
  return inv;
}

/**
 * For a failed factorisation at `column` = c: the coefficients of column c's best combination of
 * the columns before it, solving A[0..c)·z = A[0..c, c] with the factor of the leading block.
 */
export function dependency(failed: Extract<CholeskyResult, { ok: false }>, a: Float64Array): Float64Array {
  const { l, d, column: c } = failed;
  const rhs = new Float64Array(c);
  for (let i = 0; i < c; i++) rhs[i] = a[c * d + i] as number;
  return backward(l, d, forward(l, d, rhs, c), c);
}
