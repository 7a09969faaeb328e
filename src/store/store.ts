/**
 * The agency's record store, behind one interface so an agency can keep its data where it already
 * lives: DuckDB embedded by default, PostgreSQL for agencies that run one. A store only ever runs
 * SQL it compiled itself from a validated plan, with every literal bound as a parameter.
 */
import type { DatasetSchema } from '../federation/schema.js';
import type { QueryPlan } from '../query/plan.js';

/**
 * Exact local aggregates of one plan. `groups` maps a group index to the measures of
 * `planMeasures(plan)` in order: COUNT(*) first, then SUM(col) per distinct column.
 * The group index is mixed-radix over the GROUP BY columns' category positions
 * (first column most significant); with no GROUP BY there is one group, index 0.
 * Groups with no matching rows are absent.
 */
export interface LocalAggregate {
  readonly groups: ReadonlyMap<number, readonly bigint[]>;
}

export interface LoadOptions {
  /** `reject` (default): the first invalid row aborts the load; `skip`: invalid rows are counted and left out. */
  readonly onInvalid?: 'reject' | 'skip';
  /** Called with rows processed so far (for progress bars); never with record values. */
  readonly onProgress?: (rowsDone: number) => void;
}

export interface LoadReport {
  readonly dataset: string;
  readonly file: string;
  readonly rowsLoaded: number;
  readonly rowsSkipped: number;
  /** Up to 10 invalid rows (file, line, column, reason) when rows were skipped. */
  readonly invalid: readonly InvalidRow[];
}

export interface InvalidRow {
  readonly line: number;
  readonly column: string;
  readonly value: string;
  readonly reason: string;
}

export interface AgencyStore extends AsyncDisposable {
  readonly engine: 'duckdb' | 'postgres';
  /** Replaces the dataset's table with the validated contents of a CSV file. */
  loadCsv(dataset: string, schema: DatasetSchema, file: string, options?: LoadOptions): Promise<LoadReport>;
  /** Datasets that hold a table here (loaded now or in an earlier run of a persistent store). */
  datasets(): Promise<readonly string[]>;
  rowCount(dataset: string): Promise<number>;
  /** Runs the plan locally. The plan must already be validated against `schema`. */
  aggregate(plan: QueryPlan, schema: DatasetSchema): Promise<LocalAggregate>;
  close(): Promise<void>;
}
