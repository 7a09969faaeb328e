/**
 * Turning exact totals into released rows: empty groups are not rows (SQL semantics), groups
 * whose count is below `minGroupSize` are withheld and counted — including the one row of an
 * ungrouped query that matched nothing, since a zero is a count like any other — and AVG is
 * SUM / COUNT computed after decryption. Rows follow the schema's category order.
 */
import type { CategoryColumn, DatasetSchema } from '../federation/schema.js';
import type { Policy } from '../federation/federation.js';
import type { QueryPlan } from '../query/plan.js';
import { groupPositions, type GroupTotals, type PlanCells } from '../protocol/cells.js';

export type CellValue = string | bigint | number;
export type ResultRow = Readonly<Record<string, CellValue>>;

export interface ResultColumn {
  readonly name: string;
  readonly kind: 'group' | 'count' | 'sum' | 'avg';
}

export interface Release {
  readonly columns: readonly ResultColumn[];
  readonly rows: readonly ResultRow[];
  /** Groups withheld because their count is below minGroupSize (empty GROUP BY groups are not groups). */
  readonly suppressed: number;
}

export function resultColumns(plan: QueryPlan): ResultColumn[] {
  return plan.select.map((s) => ({ name: s.alias, kind: s.kind === 'group' ? 'group' : s.fn }));
}

/** sum / count as a double, exact in its integer part up to 2^53 whatever the size of sum. */
export function average(sum: bigint, count: bigint): number {
  const q = sum / count;
  const r = sum % count;
  return Number(q) + Number(r) / Number(count);
}

export function release(plan: QueryPlan, schema: DatasetSchema, cells: PlanCells, totals: readonly GroupTotals[], policy: Policy): Release {
  const rows: ResultRow[] = [];
  let suppressed = 0;
  for (const t of totals) {
    if (t.count < BigInt(policy.minGroupSize)) {
      suppressed++;
      continue;
    }
    const positions = groupPositions(cells, t.group);
    const groupValue = (column: string): string => {
      const i = plan.groupBy.indexOf(column);
      return (schema.columns[column] as CategoryColumn).values[positions[i] ?? 0] ?? '';
    };
    const row: Record<string, CellValue> = {};
    for (const item of plan.select) {
      if (item.kind === 'group') row[item.alias] = groupValue(item.column);
      else if (item.fn === 'count') row[item.alias] = t.count;
      else {
        const sum = t.sums.get(item.column ?? '') ?? 0n;
        row[item.alias] = item.fn === 'sum' ? sum : average(sum, t.count);
      }
    }
    rows.push(Object.freeze(row));
  }
  return { columns: resultColumns(plan), rows, suppressed };
}
