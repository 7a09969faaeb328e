/**
 * Sensitivities of fedstat's aggregates, from the schema's declared bounds.
 *
 * Neighbouring relation: D and D' differ by adding or removing ONE person's records at ONE agency
 * (the federation's union of datasets changes by that person's rows). A person has at most
 * `rowsPerPerson` rows in the dataset (1 by default: one registration per person). In a GROUP BY
 * with k cells the released vector is (measure × cell); one person's rows fall in at most
 * `rowsPerPerson` cells, so the bounds below do not grow with k.
 *
 *  - COUNT: each row moves one cell by 1 → Δ1 = m, Δ2 ≤ m (all m rows in one cell is the worst case).
 *  - SUM(col) with bounds [lo, hi]: each row moves one cell by at most B = max(|lo|, |hi|)
 *    → Δ1 = m·B, Δ2 ≤ m·B.
 * Several measures released together (one noise draw per coordinate, same μ) form one vector:
 * Δ1 adds and Δ2² adds across measures.
 */
import type { Sensitivity } from './accountant.js';

export type Measure =
  { readonly kind: 'count' } | { readonly kind: 'sum'; readonly min: bigint | number; readonly max: bigint | number };

export interface ShapeOptions {
  /** Most rows one person can have in the dataset; default 1. */
  readonly rowsPerPerson?: number;
}

function toBig(x: bigint | number, what: string): bigint {
  if (typeof x === 'bigint') return x;
  if (!Number.isSafeInteger(x)) throw new RangeError(`${what} must be a safe integer`);
  return BigInt(x);
}

function rows(options: ShapeOptions): bigint {
  const m = options.rowsPerPerson ?? 1;
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError('rowsPerPerson must be a positive integer');
  return BigInt(m);
}

/** Sensitivity of one measure's vector over all cells of a GROUP BY (any number of cells). */
export function measureSensitivity(measure: Measure, options: ShapeOptions = {}): Sensitivity {
  const m = rows(options);
  let per: bigint;
  if (measure.kind === 'count') per = 1n;
  else {
    const lo = toBig(measure.min, 'min');
    const hi = toBig(measure.max, 'max');
    if (lo > hi) throw new RangeError('min is greater than max');
    const a = lo < 0n ? -lo : lo;
    const b = hi < 0n ? -hi : hi;
    per = a > b ? a : b;
  }
  const l1 = m * per;
  return Object.freeze({ l1, l2Squared: l1 * l1 });
}

/** Sensitivity of several measures released together with one μ: Δ1 and Δ2² add. */
export function jointSensitivity(parts: readonly Sensitivity[]): Sensitivity {
  let l1 = 0n;
  let l2Squared = 0n;
  for (const p of parts) {
    l1 += p.l1;
    l2Squared += p.l2Squared;
  }
  return Object.freeze({ l1, l2Squared });
}

/** Joint sensitivity of a query shape: all its measures over all its cells. */
export function querySensitivity(measures: readonly Measure[], options: ShapeOptions = {}): Sensitivity {
  return jointSensitivity(measures.map((m) => measureSensitivity(m, options)));
}
