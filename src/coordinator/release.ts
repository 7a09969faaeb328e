/**
 * Turning decrypted totals into released rows, under the federation's policy.
 *
 * Exact release (allowed only by `policy.exactRelease`): empty groups are not rows (SQL
 * semantics; their zeros are public), a cell whose count is below `minGroupSize` is withheld
 * (primary suppression), and when the query also releases margins (ROLLUP / CUBE) more cells are
 * withheld so that none of the withheld ones can be recomputed or narrowed from the numbers
 * published alongside (complementary suppression, src/disclosure). SUM and AVG are withheld
 * with their cell's count. AVG is SUM / COUNT computed after decryption.
 *
 * Differentially private release: every cell carries noise, so nothing is known to be empty;
 * a cell is published when its noisy count, clamped at 0, reaches `minGroupSize` (a decision on
 * noisy numbers: post-processing, no privacy cost, and no complementary suppression is needed,
 * since linear combinations of noisy cells are as private as the cells). Every aggregate comes
 * with its noise stderr and a 95 % interval (noisy-values.ts).
 *
 * The result lists every withheld cell (no silent disappearance of groups) but not, per cell,
 * whether it was a primary or a complementary suppression: that label would tell a reader which
 * withheld counts are below `minGroupSize` and narrow them (statistical offices mark both alike).
 */
import { planSuppression } from '../disclosure/complementary-suppression.js';
import { cellKey } from '../disclosure/table.js';
import { formatRho } from '../dp/rho.js';
import { rhoToEpsilon } from '../dp/conversion.js';
import { ZERO, type Rational } from '../dp/rational.js';
import type { Policy } from '../federation/federation.js';
import type { DatasetSchema, IntegerColumn } from '../federation/schema.js';
import type { PlanCells } from '../protocol/cells.js';
import type { PrivacyTerms } from '../protocol/privacy-terms.js';
import type { QueryPlan } from '../query/plan.js';
import { NoiseModel, type Uncertainty } from './noisy-values.js';
import { buildReleaseTable, type ReleaseTable, type TableCell } from './release-table.js';

export type { Uncertainty } from './noisy-values.js';

/**
 * One value of a result row: a category (string) for a GROUP BY column, null where the row totals
 * over that column; a bigint for COUNT and SUM; a number for AVG (null for an empty group in an
 * exact release).
 */
export type CellValue = string | bigint | number | null;
/** One released row: a value per SELECT alias, in SELECT order. */
export type ResultRow = Readonly<Record<string, CellValue>>;
/** Per aggregate alias of a row: the noise's stderr and 95 % interval. */
export type RowUncertainty = Readonly<Record<string, Uncertainty>>;

/** One column of the result, in SELECT order. */
export interface ResultColumn {
  /** The SELECT alias: the key of this column in every row. */
  readonly name: string;
  /** A GROUP BY column, or the aggregate that fills the column. */
  readonly kind: 'group' | 'count' | 'sum' | 'avg';
}

/** Which cells the release withheld under the policy's minimum group size, and why. */
export interface SuppressionReport {
  /** The policy's smallest count a released cell may have (`policy.minGroupSize`). */
  readonly minGroupSize: number;
  /** Cells withheld for their own count: exact count, or noisy count, below minGroupSize. */
  readonly primary: number;
  /** Exact release with margins only: cells withheld so that no primary cell can be recomputed or narrowed. */
  readonly complementary: number;
  /** Every withheld cell by its group values (null where the cell totals over a column), in table order. */
  readonly withheld: readonly Readonly<Record<string, string | null>>[];
}

/** What a differentially private release spent and how noisy it is. */
export interface PrivacyReport {
  /** zCDP ρ charged at every contributing agency (exact decimal or fraction). */
  readonly rho: string;
  /** (ε, δ)-DP implied by ρ (Canonne–Kamath–Steinke), for display. */
  readonly epsilon: number;
  /** δ of that (ε, δ): `PrivacyOptions.delta`, default 1e-9. */
  readonly delta: number;
  /** The secure-aggregation threshold t the noise was sized for. */
  readonly threshold: number;
  /** Contributions summed: the noise is Skellam(μ·survivors/threshold) per cell. */
  readonly survivors: number;
  /** Per measure ('count' or the summed column): its share of ρ, its μ, its sensitivity and one interior cell's noise stderr. */
  readonly noise: readonly MeasureNoiseReport[];
}

/** One measure's share of a differentially private release's noise. */
export interface MeasureNoiseReport {
  /** `count`, or the name of the summed column. */
  readonly measure: string;
  /** Its share of ρ (exact decimal or fraction). */
  readonly rho: string;
  /** Skellam μ any threshold-many survivors add together; each agency added μ/threshold. */
  readonly mu: string;
  /** L1 and squared-L2 sensitivity of the measure over all groups (decimal strings). */
  readonly l1: string;
  /** Squared-L2 sensitivity (decimal string). */
  readonly l2Squared: string;
  /** Standard deviation of the summed noise in one interior cell. */
  readonly cellStderr: number;
}

/** The released table: the rows the policy lets out, and what was withheld and spent. */
export interface Release {
  /** The result's columns, in SELECT order. */
  readonly columns: readonly ResultColumn[];
  /** The released rows (interior cells, then the margins of ROLLUP or CUBE); withheld cells are not rows. */
  readonly rows: readonly ResultRow[];
  /** Parallel to `rows` for a differentially private release; null for an exact one. */
  readonly uncertainty: readonly RowUncertainty[] | null;
  /** Number of withheld cells (primary + complementary). */
  readonly suppressed: number;
  /** Which cells were withheld. */
  readonly suppression: SuppressionReport;
  /** What a differentially private release spent and how noisy it is; null for an exact one. */
  readonly privacy: PrivacyReport | null;
}

export interface ReleaseInput {
  readonly plan: QueryPlan;
  readonly schema: DatasetSchema;
  readonly cells: PlanCells;
  /** Decrypted cell totals (group × measure), exact or noisy. */
  readonly totals: readonly bigint[];
  readonly policy: Policy;
  /** Present for a differentially private query. */
  readonly noise?: { readonly terms: PrivacyTerms; readonly survivors: number; readonly delta: number };
}

function resultColumns(plan: QueryPlan): ResultColumn[] {
  return plan.select.map((s) => ({ name: s.alias, kind: s.kind === 'group' ? 'group' : s.fn }));
}

/** sum / count as a double, exact in its integer part up to 2^53 whatever the size of sum. */
export function average(sum: bigint, count: bigint): number {
  const q = sum / count;
  const r = sum % count;
  return Number(q) + Number(r) / Number(count);
}

export function release(input: ReleaseInput): Release {
  const table = buildReleaseTable(input.plan, input.schema, input.cells, input.totals);
  return input.noise === undefined ? exactRelease(input, table) : noisyRelease(input, table, input.noise);
}

function groupOf(plan: QueryPlan, cell: TableCell): Record<string, string | null> {
  return Object.fromEntries(plan.groupBy.map((g, i) => [g, cell.groupValues[i] ?? null]));
}

/** The SELECT list of one published cell, from its count and a value per summed column. */
function row(
  plan: QueryPlan,
  cell: TableCell,
  count: CellValue,
  sumOf: (column: string) => CellValue,
  avgOf: (column: string) => CellValue,
): ResultRow {
  const out: Record<string, CellValue> = {};
  for (const item of plan.select) {
    if (item.kind === 'group') out[item.alias] = cell.groupValues[plan.groupBy.indexOf(item.column)] ?? null;
    else if (item.fn === 'count') out[item.alias] = count;
    else out[item.alias] = item.fn === 'sum' ? sumOf(item.column ?? '') : avgOf(item.column ?? '');
  }
  return Object.freeze(out);
}

function measureIndex(cells: PlanCells, column: string): number {
  return cells.measures.findIndex((m) => m.kind === 'sum' && m.column === column);
}

function exactRelease(input: ReleaseInput, table: ReleaseTable): Release {
  const { plan, cells, policy } = input;
  const min = BigInt(policy.minGroupSize);
  const grouped = plan.groupBy.length > 0;
  // Zero cells are public in an exact release (SQL omits empty groups), except the grand total,
  // which SQL always returns and which is a count like any other.
  const isGrandTotal = (c: TableCell): boolean => c.groupValues.length > 0 && c.groupValues.every((v) => v === null);
  const isRow = (c: TableCell): boolean => !grouped || c.count !== 0n || isGrandTotal(c);
  let withheldKeys: Set<string>;
  let complementary = 0;
  let primary: number;
  if (table.dims.length > 0 && table.margins.total) {
    const interior = table.cells.filter((c) => c.interior).map((c) => c.count);
    const plan2 = planSuppression({
      dims: table.dims as readonly [number] | readonly [number, number],
      counts: interior,
      marginsReleased: table.margins,
      minGroupSize: min,
      knownZeros: true,
    });
    withheldKeys = new Set(plan2.withheld.map((w) => cellKey(w.cell)));
    primary = plan2.primary;
    complementary = plan2.complementary;
  } else {
    withheldKeys = new Set(table.cells.filter((c) => isRow(c) && c.count < min).map((c) => cellKey(c.cell)));
    primary = withheldKeys.size;
  }
  const rows: ResultRow[] = [];
  const withheld: Record<string, string | null>[] = [];
  for (const c of table.cells) {
    if (withheldKeys.has(cellKey(c.cell))) {
      withheld.push(groupOf(plan, c));
      continue;
    }
    if (!isRow(c)) continue;
    const sum = (column: string): bigint => {
      const j = measureIndex(cells, column);
      return (c.shiftedSums[j - 1] ?? 0n) + (cells.offsets[j] ?? 0n) * c.count;
    };
    rows.push(row(plan, c, c.count, sum, (column) => (c.count === 0n ? null : average(sum(column), c.count))));
  }
  return {
    columns: resultColumns(plan),
    rows,
    uncertainty: null,
    suppressed: withheld.length,
    suppression: { minGroupSize: policy.minGroupSize, primary, complementary, withheld },
    privacy: null,
  };
}

function noisyRelease(input: ReleaseInput, table: ReleaseTable, noise: NonNullable<ReleaseInput['noise']>): Release {
  const { plan, cells, policy, schema } = input;
  const { terms, survivors, delta } = noise;
  const model = new NoiseModel({ threshold: terms.threshold, survivors });
  const muOf = (j: number): Rational => terms.measures[j]?.mu ?? ZERO;
  const muCount = muOf(0);
  const min = BigInt(policy.minGroupSize);
  const rows: ResultRow[] = [];
  const uncertainty: RowUncertainty[] = [];
  const withheld: Record<string, string | null>[] = [];
  for (const c of table.cells) {
    const count = model.count({ count: c.count, shiftedSum: 0n, members: c.members }, muCount);
    if (count.value < min) {
      withheld.push(groupOf(plan, c));
      continue;
    }
    const u: Record<string, Uncertainty> = {};
    const sumNoise = (column: string): ReturnType<NoiseModel['sum']> => {
      const j = measureIndex(cells, column);
      return model.sum(
        { count: c.count, shiftedSum: c.shiftedSums[j - 1] ?? 0n, members: c.members },
        cells.offsets[j] ?? 0n,
        muOf(j),
        muCount,
      );
    };
    const avgNoise = (column: string): ReturnType<NoiseModel['average']> => {
      const j = measureIndex(cells, column);
      const col = schema.columns[column] as IntegerColumn;
      return model.average(
        { count: c.count, shiftedSum: c.shiftedSums[j - 1] ?? 0n, members: c.members },
        cells.offsets[j] ?? 0n,
        col.min,
        col.max,
        muOf(j),
        muCount,
      );
    };
    const r = row(
      plan,
      c,
      count.value,
      (column) => sumNoise(column).value,
      (column) => avgNoise(column).value,
    );
    for (const item of plan.select) {
      if (item.kind === 'group') continue;
      u[item.alias] =
        item.fn === 'count'
          ? count.uncertainty
          : item.fn === 'sum'
            ? sumNoise(item.column ?? '').uncertainty
            : avgNoise(item.column ?? '').uncertainty;
    }
    rows.push(r);
    uncertainty.push(Object.freeze(u));
  }
  return {
    columns: resultColumns(plan),
    rows,
    uncertainty,
    suppressed: withheld.length,
    suppression: { minGroupSize: policy.minGroupSize, primary: withheld.length, complementary: 0, withheld },
    privacy: {
      rho: formatRho(terms.rho),
      epsilon: rhoToEpsilon(terms.rho, delta),
      delta,
      threshold: terms.threshold,
      survivors,
      noise: terms.measures.map((m) => ({
        measure: m.measure,
        rho: formatRho(m.rho),
        mu: formatRho(m.mu),
        l1: m.sensitivity.l1.toString(),
        l2Squared: m.sensitivity.l2Squared.toString(),
        cellStderr: model.stddev(m.mu, 1),
      })),
    },
  };
}
