/**
 * The agency's record store, behind one interface so an agency can keep its data where it already
 * lives: DuckDB embedded by default, PostgreSQL for agencies that run one. A store only ever runs
 * SQL it compiled itself from a validated plan, with every literal bound as a parameter.
 */
import type { DatasetSchema } from '../federation/schema.js';
import type { ModelCoding } from '../learn/design.js';
import type { DataRecord } from '../learn/design-row.js';
import type { GlmSums } from '../learn/sums.js';
import type { Predicate, QueryPlan } from '../query/plan.js';
import type { InvalidRowsReport, OnInvalidRows } from './invalid-rows.js';
import type { LinkInputs, LinkSideSpec } from './link-inputs.js';

/**
 * Exact local aggregates of one plan. `groups` maps a group index to the measures of
 * `planMeasures(plan)` in order: COUNT(*) first, then SUM(col) per distinct column.
 * The group index is mixed-radix over the GROUP BY columns' category positions
 * (first column most significant); with no GROUP BY there is one group, index 0.
 * Groups with no matching rows are absent.
 */
export interface LocalAggregate {
  /** Group index → the group's measures, in `planMeasures(plan)` order. */
  readonly groups: ReadonlyMap<number, readonly bigint[]>;
}

/** How `AgencyStore.loadCsv` treats invalid rows and reports progress. */
export interface LoadOptions {
  /** `reject` (default): the first invalid row aborts the load; `skip`: invalid rows are counted and left out. */
  readonly onInvalid?: 'reject' | 'skip';
  /** Called with rows processed so far (for progress bars); never with record values. */
  readonly onProgress?: (rowsDone: number) => void;
  /**
   * Told when a later statement leaves rows of the loaded table out (`skip`): a linked query's ids
   * over its maxRowsPerId (`AgencyStore.linkInputs`). `onInvalid` also decides those, for the life
   * of the store (a table stored by an earlier run is `reject`).
   */
  readonly onInvalidRows?: InvalidRowsReport;
}

/** What one `AgencyStore.loadCsv` loaded. */
export interface LoadReport {
  /** The dataset whose table the file replaced. */
  readonly dataset: string;
  /** The CSV file, as given. */
  readonly file: string;
  /** Rows now in the dataset's table. */
  readonly rowsLoaded: number;
  /** Invalid rows left out (`skip` mode); 0 in `reject` mode. */
  readonly rowsSkipped: number;
  /** Up to 10 invalid rows (file, line, column, reason) when rows were skipped. */
  readonly invalid: readonly InvalidRow[];
}

/** One invalid row of a CSV file, as a load reports it. */
export interface InvalidRow {
  /** Line number in the file, from 1 (the header is line 1). */
  readonly line: number;
  /**
   * The first column, in header order, whose cell is invalid; empty when the line itself is
   * (blank, unparsable, wrong number of fields).
   */
  readonly column: string;
  /** That cell as read, cut to its first 200 characters; empty when `column` is. */
  readonly value: string;
  /** Why the row is invalid, in words. */
  readonly reason: string;
}

/**
 * Where an agency's records are read: its own DuckDB store (`openDuckDbStore`: CSV files loaded into
 * tables, Parquet files read in place), live PostgreSQL tables (`openPostgresStore`), or several of
 * these routed by dataset (`routeStores`). Computes a plan's exact local aggregates, a GLM round's
 * sums and record scans. Closed by the agency that uses it.
 */
export interface AgencyStore extends AsyncDisposable {
  /** The database behind the store; `mixed` for stores routed by dataset. */
  readonly engine: 'duckdb' | 'postgres' | 'mixed';
  /** Datasets that hold a table here (loaded now or in an earlier run of a persistent store). */
  datasets(): Promise<readonly string[]>;
  /** Rows in the dataset's table; NOT_FOUND when the dataset is not loaded. */
  rowCount(dataset: string): Promise<number>;
  /** Runs the plan locally. The plan must already be validated against `schema`. */
  aggregate(plan: QueryPlan, schema: DatasetSchema): Promise<LocalAggregate>;
  /**
   * One GLM Newton round's sums at `beta` over the rows of `coding.dataset` that `where` keeps
   * (all rows when null), computed by the store's own SQL engine in one statement
   * (store/glm-sums.ts). They equal learn/sums.ts's sums over the same records to rounding.
   * NOT_FOUND when the dataset is not loaded; DATA_INVALID when it was loaded under a different
   * schema than `schema`; QUERY_INVALID when the coding does not match `schema`; RangeError when
   * `beta` does not hold one finite value per coefficient.
   */
  glmSums(
    coding: ModelCoding,
    schema: DatasetSchema,
    beta: readonly number[],
    where: Predicate | null,
  ): Promise<GlmSums>;
  /**
   * The rows of `dataset` that `where` keeps (all when null), `batchRows` at a time (the last batch
   * may be shorter, none is empty), in a stable order (the table's insertion order: the same table
   * gives the same sequence every call), as records keyed by column name, each value as
   * learn/design-row.ts `encodeRecord` expects it (a category's value, an integer as a number). Only
   * `columns` are read: for training at the agency, the rows stay here (store/record-scan.ts).
   * One scan reads one version of the table, even if a load replaces it meanwhile. Errors come from
   * the iteration: NOT_FOUND when the dataset is not loaded; DATA_INVALID when it was loaded under a
   * different schema than `schema`; QUERY_INVALID for no column, an unknown or `id` column, or a
   * predicate that does not fit `schema`; RangeError for a `batchRows` that is not a positive whole
   * number; UNAVAILABLE once the store closes.
   */
  scanRecords(
    dataset: string,
    schema: DatasetSchema,
    columns: readonly string[],
    where: Predicate | null,
    batchRows: number,
  ): AsyncIterable<readonly DataRecord[]>;
  /**
   * One side of a linked query (store/link-inputs.ts): one entry per distinct valid id of
   * `spec.dataset` with, per group, the rows of that id that pass `spec.where` and each measure's
   * sum over them, computed in one statement (one snapshot) by the store's engine.
   *
   * - Every row with a valid id makes its id present, even if the WHERE drops it (its components
   *   are then 0): the set of ids an agency blinds must not depend on the query's predicates.
   * - An id is valid when non-NULL, non-empty and, for `format: 'gb11643'`, an 18-character
   *   resident id with a real birth date and the right check character. A row with an invalid id,
   *   or a cell out of domain in a column the statement reads (groupBy, measures, WHERE), is an
   *   invalid row: `reject` refuses with DATA_INVALID naming how many rows of which column;
   *   `skip` leaves it out and reports it (CSV-loaded tables were validated at load).
   * - An id with more than `spec.maxRowsPerId` valid rows: `reject` refuses with DATA_INVALID;
   *   `skip` leaves all its rows out (its id is absent) and reports them as rows of the id column.
   *   The bound makes the join's sensitivity finite.
   * - The rows read must not exceed the schema's maxRows (DATA_INVALID).
   * - Components are exact and fit in int64 (INTERNAL if a store returned more).
   *
   * NOT_FOUND when the dataset is not here; DATA_INVALID when it was loaded under another schema;
   * QUERY_INVALID for an `id` that is not an id column, a groupBy that is not a category column,
   * a measure that is not an integer column, a bad bound or a predicate that does not fit
   * `schema`; UNAVAILABLE once the store closes.
   */
  linkInputs(spec: LinkSideSpec, schema: DatasetSchema): Promise<LinkInputs>;
  /** Waits for loads and queries in flight, then releases the database; later calls return the same promise. */
  close(): Promise<void>;
}

/** How `DuckDbAgencyStore.attachParquet` treats rows out of the schema's domains, checked on every read. */
export interface ParquetOptions {
  /** `reject` (default): a statement that meets one is refused; `skip`: it answers without them. */
  readonly onInvalid?: OnInvalidRows;
  /** Told of every statement that skipped out-of-domain rows (counts and columns, never values). */
  readonly onInvalidRows?: InvalidRowsReport;
}

/**
 * The DuckDB store: an AgencyStore that can also load CSV files into its own tables and read
 * Parquet files in place.
 */
export interface DuckDbAgencyStore extends AgencyStore {
  /** Replaces the dataset's table with the validated contents of a CSV file (and detaches its Parquet files). */
  loadCsv(dataset: string, schema: DatasetSchema, file: string, options?: LoadOptions): Promise<LoadReport>;
  /**
   * Serves `dataset` from the Parquet files `pattern` names (a file, or a glob such as
   * `data/2026-*.parquet`), read in place by every statement, never loaded; it takes the place of a
   * loaded table of that name for the life of the store. NOT_FOUND when no file matches;
   * DATA_INVALID naming every column missing or of a type that cannot hold the schema's values
   * (VARCHAR for a category, an integer type for an integer); RangeError for a bad name or NUL.
   */
  attachParquet(dataset: string, schema: DatasetSchema, pattern: string, options?: ParquetOptions): Promise<void>;
}
