/**
 * Record positions ↔ line numbers. DuckDB's CSV reader yields records in file order but leaves out
 * some lines (blank lines, rows its parser rejects); given those lines, sorted, record r (0-based,
 * the first record after the header) sits on line r + 2 plus the number of left-out lines before it.
 */

/** Maps record positions to line numbers given the sorted lines DuckDB left out. */
export class LineMap {
  private readonly thresholds: number[];
  constructor(private readonly excluded: readonly number[]) {
    // Record r sits after every excluded line e_j with e_j − 1 − j ≤ r (j 1-based).
    this.thresholds = excluded.map((e, j) => e - 2 - j);
  }
  /** The line of the `record`-th record (0-based). */
  lineOf(record: number): number {
    return record + 2 + upperBound(this.thresholds, record);
  }
  /** The record on `line`, which must not be a left-out line. */
  recordOf(line: number): number {
    return line - 2 - upperBound(this.excluded, line - 1);
  }
}

/** How many items of the sorted `xs` are ≤ `v`. */
function upperBound(xs: readonly number[], v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] ?? Infinity) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The union of two sorted lists of distinct line numbers (the lists never share a line). */
export function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && (a[i] ?? 0) < (b[j] ?? 0))) out.push(a[i++] ?? 0);
    else out.push(b[j++] ?? 0);
  }
  return out;
}
