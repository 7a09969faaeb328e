/**
 * The table a query releases, before any policy: one cell per group of the GROUP BY (interior)
 * plus the margins a ROLLUP or CUBE asks for, each holding its count and its (offset-shifted) sums
 * as decrypted. Margins are sums of interior cells computed here, after decryption: agencies
 * only ever compute the interior, and a noisy margin is the sum of noisy interiors (post-processing,
 * no extra privacy cost, and always consistent with the cells it totals).
 */
import type { DatasetSchema, CategoryColumn } from '../federation/schema.js';
import type { Cell, MarginsReleased } from '../disclosure/table.js';
import type { PlanCells } from '../protocol/cells.js';
import { marginsOf, type QueryPlan } from '../query/plan.js';

export interface TableCell {
  /** The cell in the disclosure module's coordinates. */
  readonly cell: Cell;
  /** Per GROUP BY column: the category value, or null where this cell totals over the column. */
  readonly groupValues: readonly (string | null)[];
  /** Interior groups this cell sums (one for an interior cell). */
  readonly members: number;
  readonly interior: boolean;
  /** COUNT(*) as decrypted (exact, or exact plus noise). */
  readonly count: bigint;
  /** Per measure j ≥ 1 of the plan's cells: Σ(x − offset_j), as decrypted. */
  readonly shiftedSums: readonly bigint[];
}

export interface ReleaseTable {
  readonly dims: readonly [number] | readonly [number, number] | readonly [];
  readonly margins: MarginsReleased;
  /** Interior cells row-major, then row totals, column totals, grand total (disclosure order). */
  readonly cells: readonly TableCell[];
}

export function buildReleaseTable(
  plan: QueryPlan,
  schema: DatasetSchema,
  cells: PlanCells,
  totals: readonly bigint[],
): ReleaseTable {
  const m = cells.measures.length;
  if (totals.length !== cells.groupCount * m) throw new RangeError('buildReleaseTable: totals do not match the plan');
  const values = plan.groupBy.map((g) => (schema.columns[g] as CategoryColumn).values);
  const label = (col: number, pos: number | null): string | null =>
    pos === null ? null : (values[col]?.[pos] ?? null);
  const interior = (g: number): { count: bigint; sums: bigint[] } => ({
    count: totals[g * m] ?? 0n,
    sums: Array.from({ length: m - 1 }, (_, j) => totals[g * m + j + 1] ?? 0n),
  });
  const sumOver = (groups: readonly number[]): { count: bigint; sums: bigint[] } => {
    const out = { count: 0n, sums: new Array<bigint>(m - 1).fill(0n) };
    for (const g of groups) {
      const c = interior(g);
      out.count += c.count;
      c.sums.forEach((s, j) => {
        out.sums[j] = (out.sums[j] ?? 0n) + s;
      });
    }
    return out;
  };
  const margins = marginsOf(plan);
  const out: TableCell[] = [];
  const push = (
    cell: Cell,
    positions: readonly (number | null)[],
    groups: readonly number[],
    isInterior: boolean,
  ): void => {
    const v = sumOver(groups);
    out.push(
      Object.freeze({
        cell,
        groupValues: Object.freeze(positions.map((p, i) => label(i, p))),
        members: groups.length,
        interior: isInterior,
        count: v.count,
        shiftedSums: Object.freeze(v.sums),
      }),
    );
  };
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  if (plan.groupBy.length === 0) {
    push({ row: 0 }, [], [0], true);
    return Object.freeze({ dims: [] as const, margins, cells: Object.freeze(out) });
  }
  const rows = cells.radices[0] ?? 1;
  if (plan.groupBy.length === 1) {
    for (const i of range(rows)) push({ row: i }, [i], [i], true);
    if (margins.total === true) push({ row: 'total' }, [null], range(rows), false);
    return Object.freeze({ dims: [rows] as const, margins, cells: Object.freeze(out) });
  }
  const cols = cells.radices[1] ?? 1;
  for (const i of range(rows)) for (const j of range(cols)) push({ row: i, col: j }, [i, j], [i * cols + j], true);
  if (margins.rows === true)
    for (const i of range(rows))
      push(
        { row: i, col: 'total' },
        [i, null],
        range(cols).map((j) => i * cols + j),
        false,
      );
  if (margins.cols === true)
    for (const j of range(cols))
      push(
        { row: 'total', col: j },
        [null, j],
        range(rows).map((i) => i * cols + j),
        false,
      );
  if (margins.total === true) push({ row: 'total', col: 'total' }, [null, null], range(rows * cols), false);
  return Object.freeze({ dims: [rows, cols] as const, margins, cells: Object.freeze(out) });
}
