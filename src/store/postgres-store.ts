/**
 * An agency's datasets answered from live PostgreSQL tables (or views) it already runs: nothing is
 * copied or loaded. Every statement is compiled by fedstat from a validated plan (identifiers from
 * the schema, literals bound), runs in a READ ONLY, REPEATABLE READ transaction with a statement
 * timeout, and aggregates in the database: only aggregates come back (a record scan for training
 * at the agency is the one statement that reads rows, and they stay in the agency's process).
 * A role with SELECT on the tables is enough (docs/postgres.md).
 *
 * Cells are checked on every read (store/live-source.ts): a row out of the schema's domains is
 * refused or skipped as the dataset's `onInvalid` says, never summed.
 *
 * Works with PostgreSQL-compatible servers that speak the extended query protocol and keep
 * PostgreSQL's catalogs (pg_attribute, to_regclass): Citus pushes the aggregate to its workers.
 */
import pg from 'pg';
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { ModelCoding } from '../learn/design.js';
import type { DataRecord } from '../learn/design-row.js';
import type { GlmSums } from '../learn/sums.js';
import type { Predicate, QueryPlan } from '../query/plan.js';
import { compileAggregate } from './compile-sql.js';
import { compileGlmSums, glmSumsOfRows } from './glm-sums.js';
import { applyCensus, censusOf, type InvalidRowsReport, type OnInvalidRows } from './invalid-rows.js';
import { checkedColumns, compileCensus, validRelation, type LiveSource } from './live-source.js';
import { answerLive } from './live-answer.js';
import { LinkInputsBuilder } from './link-assemble.js';
import { compileLinkInputs, type LinkInputs, type LinkSideSpec } from './link-inputs.js';
import { readPgLink } from './link-read.js';
import { checkRowCount, withinMaxRows } from './max-rows.js';
import { pgPoolConfig } from './pg-connection.js';
import { checkPgTable } from './pg-schema-check.js';
import { scanPgRecords } from './pg-record-scan.js';
import { parsePgTableName, quotePgTableName } from './pg-table-name.js';
import { readOnly } from './pg-transaction.js';
import { compileRecordScan } from './record-scan.js';
import { POSTGRES_DIALECT } from './sql-dialect.js';
import type { SqlDialect } from './sql-dialect.js';
import type { AgencyStore, LocalAggregate } from './store.js';

const DATASET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Default statement timeout: long enough for a 100M-row scan, short enough to free a stuck agency. */
const DEFAULT_STATEMENT_TIMEOUT_MS = 5 * 60_000;

/** One dataset served from a live table. */
export interface PostgresDataset {
  /** The table or view, as `SCHEMA.TABLE` or `TABLE` (PostgreSQL's quoting and case folding). */
  readonly table: string;
  /** The federation's schema of the dataset; checked against the table when the store opens. */
  readonly schema: DatasetSchema;
  /** Out-of-domain rows: `reject` (default) refuses the statement, `skip` answers without them. */
  readonly onInvalid?: OnInvalidRows;
}

/** How `openPostgresStore` connects and what it serves. */
export interface PostgresStoreOptions {
  /** Dataset name → its table. */
  readonly datasets: Readonly<Record<string, PostgresDataset>>;
  /**
   * A pool the host service already has; the store borrows clients and never ends it. Without one
   * the store opens its own from `connection` or libpq's environment (PGHOST, PGPORT, PGUSER,
   * PGDATABASE, PGPASSWORD or ~/.pgpass, PGSSLMODE), and ends it on close.
   */
  readonly pool?: pg.Pool;
  /** A connection string or settings for the store's own pool (ignored with `pool`). */
  readonly connection?: string | pg.PoolConfig;
  /** Per-statement limit, ms (default 300,000): a statement over it is cancelled by the server. */
  readonly statementTimeoutMs?: number;
  /** Told of every statement that skipped out-of-domain rows (`onInvalid: 'skip'`). */
  readonly onInvalidRows?: InvalidRowsReport;
}

interface Served {
  readonly source: LiveSource;
  readonly onInvalid: OnInvalidRows;
  readonly label: string;
}

class PostgresStore implements AgencyStore {
  readonly engine = 'postgres' as const;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  private readonly dialect: SqlDialect;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
    private readonly served: ReadonlyMap<string, Served>,
    private readonly timeoutMs: number,
    private readonly report: InvalidRowsReport | undefined,
  ) {
    const base = POSTGRES_DIALECT;
    this.dialect = Object.freeze({
      ...base,
      table: (dataset: string) => validRelation(this.dataset(dataset).source, base, dataset),
    });
  }

  private dataset(name: string): Served {
    const found = this.served.get(name);
    if (found === undefined) {
      throw new FedstatError(
        'NOT_FOUND',
        `dataset ${name} is not served from PostgreSQL here; serve it with --dataset ${name}=postgres:SCHEMA.TABLE`,
        { details: { dataset: name } },
      );
    }
    return found;
  }

  private checkOpen(): void {
    if (this.closing !== undefined)
      throw new FedstatError('UNAVAILABLE', 'the agency store is closed; open it again to use it');
  }

  /** Runs `work` in one read-only snapshot on a pooled client; maps driver errors to FedstatErrors. */
  private read<T>(label: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    this.checkOpen();
    const task = readOnly(this.pool, this.timeoutMs, label, work);
    this.inFlight.add(task);
    void task.then(
      () => this.inFlight.delete(task),
      () => this.inFlight.delete(task),
    );
    return task;
  }

  datasets(): Promise<readonly string[]> {
    this.checkOpen();
    return Promise.resolve(Object.freeze([...this.served.keys()].sort()));
  }

  async rowCount(dataset: string): Promise<number> {
    const served = this.dataset(dataset);
    return this.read(served.label, async (client) => {
      const result = await client.query({ text: `SELECT COUNT(*) FROM ${served.source.from}`, rowMode: 'array' });
      return Number((result.rows[0] as unknown[] | undefined)?.[0] ?? 0);
    });
  }

  async aggregate(plan: QueryPlan, schema: DatasetSchema): Promise<LocalAggregate> {
    const served = this.dataset(plan.dataset);
    checkSameSchema(plan.dataset, served, schema);
    const compiled = compileAggregate(plan, schema, POSTGRES_DIALECT, served.source);
    // Both statements (optimistic, then checked if need be) read one snapshot.
    return this.read(served.label, (client) =>
      answerLive(
        plan.dataset,
        schema,
        compiled,
        async (text, values) =>
          (await client.query({ text, values: [...values], rowMode: 'array' })).rows as unknown[][],
        { onInvalid: served.onInvalid, report: this.report },
      ),
    );
  }

  async glmSums(
    coding: ModelCoding,
    schema: DatasetSchema,
    beta: readonly number[],
    where: Predicate | null,
  ): Promise<GlmSums> {
    const served = this.dataset(coding.dataset);
    checkSameSchema(coding.dataset, served, schema);
    const compiled = compileGlmSums(coding, schema, beta, this.dialect, where);
    const census = compileCensus(served.source, POSTGRES_DIALECT);
    const [censusRow, rows] = await this.read(served.label, async (client) => {
      const counted = await client.query({ text: census, rowMode: 'array' });
      const result = await client.query({ text: compiled.sql, values: [...compiled.params], rowMode: 'array' });
      return [counted.rows as unknown[][], result.rows as unknown[][]] as const;
    });
    applyCensus(censusOf(coding.dataset, checkedColumns(schema), censusRow), served.onInvalid, this.report);
    const sums = glmSumsOfRows(rows, compiled);
    checkRowCount(coding.dataset, schema, sums.n);
    return sums;
  }

  async linkInputs(spec: LinkSideSpec, schema: DatasetSchema): Promise<LinkInputs> {
    const served = this.dataset(spec.dataset);
    checkSameSchema(spec.dataset, served, schema);
    const compiled = compileLinkInputs(spec, schema, POSTGRES_DIALECT, served.source);
    // One statement, streamed through a cursor: the census comes with the data.
    const builder = new LinkInputsBuilder(compiled, schema);
    await this.read(served.label, (client) => readPgLink(client, compiled, builder));
    return builder.finish({ onInvalid: served.onInvalid, report: this.report });
  }

  async *scanRecords(
    dataset: string,
    schema: DatasetSchema,
    columns: readonly string[],
    where: Predicate | null,
    batchRows: number,
  ): AsyncGenerator<readonly DataRecord[], void, undefined> {
    const served = this.dataset(dataset);
    checkSameSchema(dataset, served, schema);
    const compiled = compileRecordScan(dataset, schema, columns, where, batchRows, this.dialect);
    this.checkOpen();
    const batches = scanPgRecords(this.pool, this.timeoutMs, served.label, compiled, {
      census: compileCensus(served.source, POSTGRES_DIALECT),
      onCensus: (row) => applyCensus(censusOf(dataset, checkedColumns(schema), row), served.onInvalid, this.report),
      stillOpen: () => this.checkOpen(),
    });
    yield* withinMaxRows(dataset, schema, batches);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inFlight]);
      if (this.ownsPool) await this.pool.end();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The schema a statement is compiled under must be the one the table was checked against at open. */
function checkSameSchema(dataset: string, served: Served, schema: DatasetSchema): void {
  if (served.source.schema !== schema && JSON.stringify(served.source.schema) !== JSON.stringify(schema)) {
    throw new FedstatError(
      'DATA_INVALID',
      `dataset ${dataset} was checked against a different schema than the federation's; restart the agency`,
      { details: { dataset } },
    );
  }
}

/**
 * Opens a store over live PostgreSQL tables and checks each against its schema (columns present
 * with compatible types, SELECT granted) before it answers anything: CONFIG_INVALID for a bad
 * option or table name, DATA_INVALID for a table that does not fit its schema (every mismatch
 * named), UNAVAILABLE when the server cannot be reached. The pool is ended on failure if it is the
 * store's own.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<AgencyStore> {
  const timeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2_147_483_647)
    throw new RangeError('statementTimeoutMs must be a whole number of milliseconds, 1 to 2^31 − 1');
  const entries = Object.entries(options.datasets);
  if (entries.length === 0) throw new FedstatError('CONFIG_INVALID', 'a PostgreSQL store needs at least one dataset');
  for (const [name] of entries)
    if (!DATASET_NAME.test(name)) throw new RangeError(`invalid dataset name ${JSON.stringify(name.slice(0, 64))}`);
  const names = entries.map(([name, d]) => [name, d, parsePgTableName(d.table)] as const);
  const owns = options.pool === undefined;
  const pool = options.pool ?? newPool(options.connection);
  // An idle client the server drops (a restart) emits 'error' on the pool: without a listener that
  // would end the process. The next statement gets a fresh client (readOnly retries once). Once
  // per pool: a host that opens many stores on its pool must not pile up listeners.
  if (!guarded.has(pool)) {
    guarded.add(pool);
    pool.on('error', () => undefined);
  }
  try {
    const served = new Map<string, Served>();
    for (const [dataset, d, name] of names) {
      const label = `PostgreSQL table ${quotePgTableName(name)} (dataset ${dataset})`;
      const from = await readOnly(pool, timeoutMs, label, (client) => checkPgTable(client, dataset, name, d.schema));
      served.set(dataset, { source: { from, schema: d.schema }, onInvalid: d.onInvalid ?? 'reject', label });
    }
    return new PostgresStore(pool, owns, served, timeoutMs, options.onInvalidRows);
  } catch (e) {
    if (owns) await pool.end().catch(() => undefined);
    throw e;
  }
}

/** Pools that already have the store's 'error' listener. */
const guarded = new WeakSet<pg.Pool>();

function newPool(connection: string | pg.PoolConfig | undefined): pg.Pool {
  // Nothing given: libpq's environment as libpq reads it (pg-connection.ts: the password file,
  // PGSSLMODE), not the driver's own partial reading. Given settings are the host's own.
  const config: pg.PoolConfig =
    connection === undefined
      ? pgPoolConfig(undefined)
      : typeof connection === 'string'
        ? { connectionString: connection }
        : { ...connection };
  return new pg.Pool({ max: 4, idleTimeoutMillis: 30_000, ...config, application_name: 'fedstat-agency' });
}
