/**
 * Eigenvalues and eigenvectors of a symmetric d×d matrix (row-major, d ≤ 120 here) by cyclic
 * Jacobi rotations: each rotation zeroes one off-diagonal entry, and sweeps over all of them
 * converge quadratically. O(d³) per sweep and a handful of sweeps: tens of milliseconds at d =
 * 120, once per round. The DP Newton step (dp-newton.ts) needs the spectrum itself, to lift a
 * noisy information's eigenvalues to a floor and to name the direction the noise leaves unknown.
 */

/** A = V·diag(values)·Vᵀ; column i of `vectors` (row-major d×d) is the eigenvector of values[i]. */
export interface SymmetricEigen {
  readonly values: Float64Array;
  readonly vectors: Float64Array;
}

const MAX_SWEEPS = 60;

/** Σ of squared off-diagonal entries, and of all squared entries. */
function offDiagonal(a: Float64Array, d: number): { off: number; all: number } {
  let off = 0;
  let all = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const v = (a[i * d + j] as number) ** 2;
      all += v;
      if (i !== j) off += v;
    }
  }
  return { off, all };
}

/** Applies the rotation in the (p, q) plane that zeroes a[p][q] to a (both sides) and to v. */
function rotate(a: Float64Array, v: Float64Array, d: number, p: number, q: number): void {
  const apq = a[p * d + q] as number;
  if (apq === 0) return;
  const theta = ((a[q * d + q] as number) - (a[p * d + p] as number)) / (2 * apq);
  // The smaller root of t² + 2θt − 1 = 0 (|t| ≤ 1: the rotation is by at most π/4).
  const t =
    Math.abs(theta) > 1e150
      ? 1 / (2 * theta)
      : (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < d; k++) {
    const akp = a[k * d + p] as number;
    const akq = a[k * d + q] as number;
    a[k * d + p] = c * akp - s * akq;
    a[k * d + q] = s * akp + c * akq;
  }
  for (let k = 0; k < d; k++) {
    const apk = a[p * d + k] as number;
    const aqk = a[q * d + k] as number;
    a[p * d + k] = c * apk - s * aqk;
    a[q * d + k] = s * apk + c * aqk;
  }
  for (let k = 0; k < d; k++) {
    const vkp = v[k * d + p] as number;
    const vkq = v[k * d + q] as number;
    v[k * d + p] = c * vkp - s * vkq;
    v[k * d + q] = s * vkp + c * vkq;
  }
}

/**
 * The eigen-decomposition of symmetric `a` (row-major d×d; only symmetric input is meaningful).
 * RangeError for a wrong size or a non-finite entry.
 */
export function symmetricEigen(a: ArrayLike<number>, d: number): SymmetricEigen {
  if (!Number.isSafeInteger(d) || d < 0 || a.length !== d * d)
    throw new RangeError('symmetricEigen: expected a d×d matrix');
  const m = Float64Array.from(a);
  if (!m.every(Number.isFinite)) throw new RangeError('symmetricEigen: the matrix has a non-finite entry');
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    const { off, all } = offDiagonal(m, d);
    if (off <= 1e-30 * all) break;
    for (let p = 0; p < d - 1; p++) for (let q = p + 1; q < d; q++) rotate(m, v, d, p, q);
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = m[i * d + i] as number;
  return { values, vectors: v };
}

/** V·diag(f(values))·Vᵀ (row-major d×d): a function of the matrix, e.g. its inverse with f = 1/λ. */
export function fromEigen(e: SymmetricEigen, f: (value: number) => number): Float64Array {
  const d = e.values.length;
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const g = f(e.values[k] as number);
    for (let i = 0; i < d; i++) {
      const vik = (e.vectors[i * d + k] as number) * g;
      if (vik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] = (out[i * d + j] as number) + vik * (e.vectors[j * d + k] as number);
    }
  }
  return out;
}
