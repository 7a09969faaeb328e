/**
 * The released table as the disclosure checks see it: interior cells (one per group of a GROUP BY
 * over one or two category columns) and the margin cells the release also contains (row totals,
 * column totals, grand total). Every cell is a linear functional of the interior counts, and every
 * margin gives one additive equation ("line": margin = sum of its members) that an attacker can use.
 */

/** A row or column position, or `'total'` for the margin. */
type CellIndex = number | 'total';

/**
 * One cell of the extended table.
 * 2-D: interior `{row: i, col: j}`, row total `{row: i, col: 'total'}`,
 * column total `{row: 'total', col: j}`, grand total `{row: 'total', col: 'total'}`.
 * 1-D: `{row: i}` and the total `{row: 'total'}`.
 */
export interface Cell {
  /** Row position from 0, or `'total'` for a column total or the grand total. */
  readonly row: CellIndex;
  /** Column position from 0, or `'total'` for a row total; absent in a 1-D table. */
  readonly col?: CellIndex;
}

/** Which margins the same release contains (or lets anyone derive, e.g. an ungrouped total). */
export interface MarginsReleased {
  /** Row totals (2-D only): one per value of the first column. */
  readonly rows?: boolean;
  /** Column totals (2-D only): one per value of the second column. */
  readonly cols?: boolean;
  /** The grand total (1-D and 2-D). */
  readonly total?: boolean;
}

/** A table of non-negative counts: `dims` is `[rows]` or `[rows, cols]`; counts flat row-major or nested. */
export interface SuppressionTable {
  /** `[rows]` for a 1-D table, `[rows, cols]` for a 2-D one. */
  readonly dims: readonly [number] | readonly [number, number];
  /** The interior counts, non-negative: flat row-major, or one array per row. */
  readonly counts: readonly bigint[] | readonly (readonly bigint[])[];
  /** The margins the release also publishes; default none. */
  readonly marginsReleased?: MarginsReleased;
}

interface ModelCell {
  readonly cell: Cell;
  readonly count: bigint;
  /** Interior variable indices (row-major) whose sum is this cell. */
  readonly terms: readonly number[];
  readonly interior: boolean;
}

/** The normalized table: interior cells first (row-major), then row totals, column totals, total. */
export interface TableModel {
  readonly rows: number;
  readonly cols: number;
  readonly twoD: boolean;
  readonly cells: readonly ModelCell[];
  /** Each line lists the cell indices of one released equation: the margin and its members. */
  readonly lines: readonly (readonly number[])[];
}

/** The most interior cells a suppression plan takes (exact elimination grows with the table). */
export const MAX_SUPPRESSION_CELLS = 4096;

/** Validates once and builds the model; misuse is a programmer error (TypeError / RangeError). */
export function buildModel(table: SuppressionTable): TableModel {
  const dims: readonly number[] = table.dims;
  if (dims.length !== 1 && dims.length !== 2) throw new TypeError('dims must be [rows] or [rows, cols]');
  for (const d of dims)
    if (!Number.isSafeInteger(d) || d < 1) throw new RangeError('every dimension must be a positive integer');
  const twoD = dims.length === 2;
  const rows = dims[0] ?? 1;
  const cols = twoD ? (dims[1] ?? 1) : 1;
  if (rows * cols > MAX_SUPPRESSION_CELLS) throw new RangeError(`at most ${MAX_SUPPRESSION_CELLS} interior cells`);
  const m = table.marginsReleased ?? {};
  if (!twoD && (m.rows === true || m.cols === true))
    throw new TypeError('a 1-D table has only a total margin: set marginsReleased.total');
  const values = flatten(table.counts, rows, cols, twoD);

  const cells: ModelCell[] = [];
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      cells.push({ cell: twoD ? { row: i, col: j } : { row: i }, count: values[k] ?? 0n, terms: [k], interior: true });
    }
  const sumOf = (terms: readonly number[]): bigint => terms.reduce((s, k) => s + (values[k] ?? 0n), 0n);
  const margin = (cell: Cell, terms: number[]): number => {
    cells.push({ cell, count: sumOf(terms), terms, interior: false });
    return cells.length - 1;
  };
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const lines: number[][] = [];
  const rowTotals: number[] = [];
  const colTotals: number[] = [];
  if (twoD && m.rows === true)
    for (const i of range(rows)) {
      const members = range(cols).map((j) => i * cols + j);
      rowTotals.push(margin({ row: i, col: 'total' }, members));
      lines.push([...members, rowTotals[i] ?? -1]);
    }
  if (twoD && m.cols === true)
    for (const j of range(cols)) {
      const members = range(rows).map((i) => i * cols + j);
      colTotals.push(margin({ row: 'total', col: j }, members));
      lines.push([...members, colTotals[j] ?? -1]);
    }
  if (m.total === true) {
    const t = margin(twoD ? { row: 'total', col: 'total' } : { row: 'total' }, range(rows * cols));
    // The total's own lines: through the released margins where there are some, else the interior.
    if (rowTotals.length > 0) lines.push([...rowTotals, t]);
    if (colTotals.length > 0) lines.push([...colTotals, t]);
    if (rowTotals.length === 0 && colTotals.length === 0) lines.push([...range(rows * cols), t]);
  }
  return { rows, cols, twoD, cells, lines };
}

function flatten(counts: SuppressionTable['counts'], rows: number, cols: number, twoD: boolean): bigint[] {
  const nested = (c: SuppressionTable['counts']): c is readonly (readonly bigint[])[] =>
    c.some((r: unknown) => Array.isArray(r));
  let flat: readonly unknown[] = counts;
  if (nested(counts)) {
    if (!twoD || counts.length !== rows || counts.some((r) => r.length !== cols))
      throw new RangeError(`counts must be ${rows} rows of ${cols}`);
    flat = counts.flat();
  }
  if (flat.length !== rows * cols) throw new RangeError(`counts must hold ${rows * cols} cells`);
  const out: bigint[] = [];
  for (const v of flat) {
    if (typeof v !== 'bigint') throw new TypeError('counts must be bigints');
    if (v < 0n) throw new RangeError('counts must be non-negative');
    out.push(v);
  }
  return out;
}

/** A stable text key ("r2c1", "r2cT", "rT") for maps, sorting and messages. */
export function cellKey(cell: Cell): string {
  const part = (x: CellIndex): string => (x === 'total' ? 'T' : String(x));
  return cell.col === undefined ? `r${part(cell.row)}` : `r${part(cell.row)}c${part(cell.col)}`;
}

/** The model index of `cell`, or a RangeError if the release has no such cell. */
export function cellIndex(model: TableModel, cell: Cell): number {
  const key = cellKey(cell);
  const i = model.cells.findIndex((c) => cellKey(c.cell) === key);
  if (i < 0) throw new RangeError(`no cell ${key} in this release (is its margin released?)`);
  return i;
}
