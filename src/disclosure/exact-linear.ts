/**
 * Exact linear algebra over the rationals with bigint vectors: a row space kept in reduced
 * echelon form (each row scaled to coprime integers, so no fractions and no rounding), membership
 * tests and a kernel basis. Floating point would make "is this cell determined?" a guess.
 */

function abs(a: bigint): bigint {
  return a < 0n ? -a : a;
}

export function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Divides by the gcd of the entries and makes the first non-zero entry positive (in place). */
function normalize(v: bigint[]): bigint[] {
  let g = 0n;
  let lead = 0n;
  for (const x of v) {
    if (x === 0n) continue;
    if (lead === 0n) lead = x;
    g = gcd(g, x);
  }
  if (g === 0n) return v;
  const s = lead < 0n ? -g : g;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0n) / s;
  return v;
}

/** v := v·a − w·b, which clears v's entry at w's pivot when a = w[p], b = v[p]. */
function eliminate(v: bigint[], w: readonly bigint[], p: number): void {
  const a = w[p] ?? 0n;
  const b = v[p] ?? 0n;
  if (b === 0n) return;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0n) * a - (w[i] ?? 0n) * b;
  normalize(v);
}

/** The span of a set of integer vectors of one width, in fully reduced echelon form. */
export class RowSpace {
  private readonly rowsByPivot = new Map<number, bigint[]>();

  constructor(readonly width: number) {
    if (!Number.isSafeInteger(width) || width < 0) throw new RangeError('width must be a non-negative integer');
  }

  get rank(): number {
    return this.rowsByPivot.size;
  }

  /** `v` with every pivot column cleared; zero exactly when `v` lies in the span. */
  reduce(v: readonly bigint[]): bigint[] {
    if (v.length !== this.width) throw new RangeError('vector width mismatch');
    const r = [...v];
    for (const [p, row] of this.rowsByPivot) eliminate(r, row, p);
    return r;
  }

  contains(v: readonly bigint[]): boolean {
    return this.reduce(v).every((x) => x === 0n);
  }

  /** Adds `v` to the span; returns false when it was already in it. */
  add(v: readonly bigint[]): boolean {
    const r = normalize(this.reduce(v));
    const p = r.findIndex((x) => x !== 0n);
    if (p < 0) return false;
    for (const [q, row] of this.rowsByPivot) {
      eliminate(row, r, p);
      this.rowsByPivot.set(q, row);
    }
    this.rowsByPivot.set(p, r);
    return true;
  }

  /**
   * A basis of { x : row·x = 0 for every row }: one primitive integer vector per free column k,
   * equal to 1 (scaled) at k, 0 at the other free columns, and solved at the pivot columns.
   */
  kernelBasis(): bigint[][] {
    const basis: bigint[][] = [];
    for (let k = 0; k < this.width; k++) {
      if (this.rowsByPivot.has(k)) continue;
      let scale = 1n;
      for (const [p, row] of this.rowsByPivot) {
        const a = row[p] ?? 1n;
        if ((row[k] ?? 0n) !== 0n) scale = (scale / gcd(scale, a)) * a;
      }
      const v = new Array<bigint>(this.width).fill(0n);
      v[k] = scale;
      for (const [p, row] of this.rowsByPivot) v[p] = (-(row[k] ?? 0n) * scale) / (row[p] ?? 1n);
      basis.push(normalize(v));
    }
    return basis;
  }
}

/** Dot product of a 0/1 support (given as indices) with an integer vector. */
export function dotSupport(support: readonly number[], v: readonly bigint[]): bigint {
  let s = 0n;
  for (const k of support) s += v[k] ?? 0n;
  return s;
}
