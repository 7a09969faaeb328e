/**
 * Cells: the exact non-negative integers one agency contributes for a plan, one per
 * (group × measure). Bounds come from the schema alone (rows bound × value bound), so the packing
 * layer can prove that no total wraps the plain modulus before any data is touched. SUM cells are
 * shifted by the column minimum when it is negative (Σ(x − min) = Σx − min·COUNT), which keeps
 * them non-negative and the decoded totals exact.
 */
import { FedstatError } from '../errors.js';
import type { CategoryColumn, DatasetSchema, IntegerColumn } from '../federation/schema.js';
import { planMeasures, type Measure, type QueryPlan } from '../query/plan.js';
import type { LocalAggregate } from '../store/store.js';

export interface PlanCells {
  /** Number of groups: the product of the GROUP BY columns' domain sizes (1 without GROUP BY). */
  readonly groupCount: number;
  /** Domain sizes of the GROUP BY columns, most significant first. */
  readonly radices: readonly number[];
  readonly measures: readonly Measure[];
  /** Per measure, the value subtracted from each row before summing (0 or a negative minimum). */
  readonly offsets: readonly bigint[];
  /** Largest value each cell can take at one agency; index = group × measures.length + measure. */
  readonly cellBounds: readonly bigint[];
}

const MAX_GROUPS = 1 << 20;

export function planCells(plan: QueryPlan, schema: DatasetSchema): PlanCells {
  const radices = plan.groupBy.map((g) => (schema.columns[g] as CategoryColumn).values.length);
  const groupCount = radices.reduce((a, b) => a * b, 1);
  if (groupCount > MAX_GROUPS) {
    throw new FedstatError(
      'PLAN_UNSAFE',
      `GROUP BY ${plan.groupBy.join(', ')} has ${groupCount} groups, more than ${MAX_GROUPS}; group by fewer or smaller columns`,
    );
  }
  const measures = planMeasures(plan);
  const maxRows = BigInt(schema.maxRows);
  const offsets: bigint[] = [];
  const perMeasure: bigint[] = [];
  for (const m of measures) {
    if (m.kind === 'count') {
      offsets.push(0n);
      perMeasure.push(maxRows);
    } else {
      const col = schema.columns[m.column ?? ''] as IntegerColumn;
      const offset = col.min < 0 ? BigInt(col.min) : 0n;
      offsets.push(offset);
      perMeasure.push(maxRows * (BigInt(col.max) - offset));
    }
  }
  const cellBounds: bigint[] = [];
  for (let g = 0; g < groupCount; g++) cellBounds.push(...perMeasure);
  return Object.freeze({
    groupCount,
    measures,
    radices: Object.freeze(radices),
    offsets: Object.freeze(offsets),
    cellBounds: Object.freeze(cellBounds),
  });
}

/** The agency's cell vector for its local aggregate (absent groups are zero). */
export function encodeCells(cells: PlanCells, local: LocalAggregate): bigint[] {
  const m = cells.measures.length;
  const out = new Array<bigint>(cells.groupCount * m).fill(0n);
  for (const [group, values] of local.groups) {
    if (!Number.isInteger(group) || group < 0 || group >= cells.groupCount || values.length !== m) {
      throw new FedstatError(
        'INTERNAL',
        `store returned group ${group} with ${values.length} measures for a plan with ${cells.groupCount} groups and ${m} measures`,
      );
    }
    const count = values[0] ?? 0n;
    for (let j = 0; j < m; j++) out[group * m + j] = (values[j] ?? 0n) - (cells.offsets[j] ?? 0n) * count;
  }
  return out;
}
