/**
 * The little dense linear algebra the inference tables need, on row-major d×d Float64Arrays
 * (d ≤ 120: plain loops are fast enough, and exact enough to match R to 1e-10).
 */

/** a·b for row-major d×d matrices. */
export function multiply(a: ArrayLike<number>, b: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k] as number;
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] = (out[i * d + j] as number) + aik * (b[k * d + j] as number);
    }
  }
  return out;
}

/** Mᵀ for a row-major d×d M. */
export function transpose(m: ArrayLike<number>, d: number): Float64Array {
  const t = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) t[j * d + i] = m[i * d + j] as number;
  return t;
}
