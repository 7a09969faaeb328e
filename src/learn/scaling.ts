/**
 * Internal scaling of integer columns, and the linear map back to the original scale.
 *
 * Every design entry must satisfy |x_j| ≤ 1 (the differential-privacy sensitivities rest on it,
 * and it keeps the Newton system well conditioned). An integer variable enters as
 * `(x - center) / scale`:
 *
 * - **centred**: center = (min + max) / 2, scale = (max - min) / 2, so values span [-1, 1]. This
 *   reparametrises the model only when the columns that absorb the shift exist: expanding
 *   `(a - c_a)(b - c_b)·dummy` needs the columns `a·dummy`, `b·dummy` and `dummy`. A term is centred
 *   when every such lower-order column is in the design (so with an intercept, `age` is always);
 * - **scaled only** otherwise: center = 0, scale = max(|min|, |max|), so values lie in [-1, 1] too,
 *   and the map is diagonal.
 *
 * Either way each scaled column is a fixed linear combination of original-scale columns:
 * x' = M·x. From η = β'ᵀx' = (Mᵀβ')ᵀx, the coefficients on the original scale are β = Mᵀβ', and
 * their covariance Mᵀ·Cov(β')·M. The intercept absorbs the centring (`(Intercept)` = β'₀ - Σ c·β'/s).
 */
import type { CodedTerm, DesignColumn } from './term-coding.js';

/** A column's identity as a monomial: its category levels and its integer variables. */
function keyOf(term: CodedTerm | undefined, levels: readonly number[], dropIntegers: ReadonlySet<string>): string {
  if (term === undefined) return '';
  const parts: string[] = [];
  term.factors.forEach((x, k) => {
    if (x.kind === 'category') parts.push(`${x.column}=${levels[k] ?? -1}`);
    else if (!dropIntegers.has(x.column)) parts.push(`${x.column}`);
  });
  return parts.sort().join('\u0000');
}

/** Every subset of `items` (including the empty one and `items` itself). */
function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((acc, x) => acc.concat(acc.map((s) => [...s, x])), [[]]);
}

function integerNames(term: CodedTerm): string[] {
  return term.factors.filter((x) => x.kind === 'integer').map((x) => x.column);
}

/**
 * The terms with their integer variables' centre and scale filled in, per the rule above.
 */
export function scaleTerms(terms: readonly CodedTerm[], columns: readonly DesignColumn[]): CodedTerm[] {
  const keys = new Set(columns.map((c) => keyOf(terms[c.term], c.levels, new Set())));
  return terms.map((term) => {
    const ints = integerNames(term);
    if (ints.length === 0) return term;
    const own = columns.filter((c) => terms[c.term] === term);
    // Every proper lower-order monomial (drop a non-empty subset of the integers) must be a column.
    const centred = own.every((c) =>
      subsets(ints).every((s) => s.length === 0 || keys.has(keyOf(term, c.levels, new Set(s)))),
    );
    const factors = term.factors.map((x) => {
      if (x.kind !== 'integer') return x;
      const { min, max } = x;
      const scale = centred ? (max - min) / 2 : Math.max(Math.abs(min), Math.abs(max));
      return { ...x, center: centred ? (min + max) / 2 : 0, scale };
    });
    return { ...term, factors, centred };
  });
}

/**
 * M (row-major d×d) with x' = M·x: scaled design columns from original-scale ones. Column j of a
 * centred term expands over the subsets S of its integer variables: the monomial without S gets
 * Π_{k∈S}(-c_k) / Π_k s_k.
 */
export function scalingMatrix(terms: readonly CodedTerm[], columns: readonly DesignColumn[]): Float64Array {
  const d = columns.length;
  const m = new Float64Array(d * d);
  const index = new Map(columns.map((c, j) => [keyOf(terms[c.term], c.levels, new Set()), j]));
  columns.forEach((c, j) => {
    const term = terms[c.term];
    if (term === undefined) {
      m[j * d + j] = 1;
      return;
    }
    const ints = term.factors.filter((x) => x.kind === 'integer');
    const denominator = ints.reduce((p, x) => p * x.scale, 1);
    for (const s of term.centred ? subsets(ints) : [[]]) {
      const target = index.get(keyOf(term, c.levels, new Set(s.map((x) => x.column))));
      if (target === undefined) throw new Error('scalingMatrix: a centred term lacks a lower-order column'); // scaleTerms checked
      m[j * d + target] = (m[j * d + target] ?? 0) + s.reduce((p, x) => p * -x.center, 1) / denominator;
    }
  });
  return m;
}
