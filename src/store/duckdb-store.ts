/**
 * The embedded default store: one DuckDB database (a file, or memory), one table per dataset in
 * schema `main` named after the dataset, category columns as USMALLINT codes, integers as BIGINT,
 * ids as VARCHAR. Beside them, `fedstat.datasets` records the schema each table was validated
 * against, so a store reopened under a changed schema refuses to answer instead of decoding codes
 * against the wrong value list. Parquet files are attached instead of loaded (for the life of the
 * store, not recorded): every statement reads them in place and checks each cell against the
 * schema's domains (store/live-source.ts, store/parquet-source.ts).
 *
 * Two connections: loads run on one (serially: they use its temp catalog and a transaction),
 * aggregates on the other, so an agency keeps answering from the old table while a new file loads
 * and sees the new one the moment the swap commits. A record scan (training at the agency) streams
 * on a third connection of its own for as long as its caller reads (store/record-scan.ts).
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { describeError, FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { ModelCoding } from '../learn/design.js';
import type { DataRecord } from '../learn/design-row.js';
import type { GlmSums } from '../learn/sums.js';
import type { Predicate, QueryPlan } from '../query/plan.js';
import { compileAggregate } from './compile-sql.js';
import { stageCsv } from './csv-load.js';
import { compileGlmSums, duckDbGlmSums } from './glm-sums.js';
import { applyCensus, censusOf, type InvalidRowsReport, type OnInvalidRows } from './invalid-rows.js';
import { checkedColumns, compileCensus, validRelation, type LiveSource } from './live-source.js';
import { answerLive } from './live-answer.js';
import { LinkInputsBuilder, type LinkRules } from './link-assemble.js';
import { compileLinkInputs, type LinkInputs, type LinkSideSpec } from './link-inputs.js';
import { readDuckDbLink } from './link-read.js';
import { toLocalAggregate } from './local-aggregate.js';
import { withinMaxRows } from './max-rows.js';
import { parquetError, parquetLabel, parquetSource } from './parquet-source.js';
import { compileRecordScan, streamRecords } from './record-scan.js';
import { DUCKDB_DIALECT, qualifiedDialect, quoteIdent } from './sql-dialect.js';
import type { SqlDialect } from './sql-dialect.js';
import type { DuckDbAgencyStore, LoadOptions, LoadReport, LocalAggregate, ParquetOptions } from './store.js';

const DATASET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const META_SCHEMA = 'fedstat';

/** Runs tasks one at a time, in call order, whatever each one's outcome. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
  idle(): Promise<unknown> {
    return this.tail;
  }
}

/**
 * The part of a dataset schema the stored table depends on, as a canonical string: column types,
 * category values in order (they are the codes), bounds, and maxRows (it bounds every sum).
 */
function schemaFingerprint(schema: DatasetSchema): string {
  const columns = Object.keys(schema.columns)
    .sort()
    .map((name) => {
      const c = schema.columns[name];
      if (c === undefined) return [name];
      if (c.type === 'category') return [name, c.type, [...c.values]];
      if (c.type === 'integer') return [name, c.type, c.min, c.max];
      return [name, c.type, c.format];
    });
  return JSON.stringify({ columns, maxRows: schema.maxRows });
}

/** Parquet files attached as a dataset. */
interface Attached {
  readonly source: LiveSource;
  readonly onInvalid: OnInvalidRows;
  readonly report: InvalidRowsReport | undefined;
  readonly label: string;
}

class DuckDbStore implements DuckDbAgencyStore {
  readonly engine = 'duckdb' as const;
  private readonly loads = new Serial();
  private readonly queries = new Serial();
  /** Connections of record scans in progress (closed with the store). */
  private readonly scans = new Set<DuckDBConnection>();
  private readonly dialect: SqlDialect;
  /** `dialect`, but an attached dataset's table is its Parquet files' valid rows. */
  private readonly readDialect: SqlDialect;
  private readonly attached = new Map<string, Attached>();
  private readonly meta: string;
  private closing: Promise<void> | undefined;
  /** Dataset → the fingerprint its table was loaded under, as read from the catalog. */
  private readonly fingerprints = new Map<string, string>();
  /** Loads committed so far: a fingerprint read across one is not cached. */
  private loadsDone = 0;
  /** How each table loaded by this process treats rows a later statement leaves out. */
  private readonly loadRules = new Map<string, LinkRules>();

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly loadConn: DuckDBConnection,
    private readonly queryConn: DuckDBConnection,
    private readonly catalog: string,
  ) {
    this.dialect = qualifiedDialect(DUCKDB_DIALECT, [catalog, 'main']);
    const loaded = this.dialect;
    this.readDialect = Object.freeze({
      ...loaded,
      table: (dataset: string) => {
        const found = this.attached.get(dataset);
        return found === undefined ? loaded.table(dataset) : validRelation(found.source, DUCKDB_DIALECT, dataset);
      },
    });
    this.meta = `${quoteIdent(catalog)}.${quoteIdent(META_SCHEMA)}."datasets"`;
  }

  private checkOpen(): void {
    if (this.closing !== undefined)
      throw new FedstatError('UNAVAILABLE', 'the agency store is closed; open it again to use it');
  }

  private table(dataset: string, suffix = ''): string {
    return this.dialect.table(dataset + suffix);
  }

  /** The fingerprint a dataset was loaded under, or NOT_FOUND when it is not loaded here. */
  private async loadedFingerprint(dataset: string, conn = this.queryConn): Promise<string> {
    const found = await conn.runAndReadAll(
      `SELECT m.schema_json FROM ${this.meta} m JOIN duckdb_tables() t ON t.database_name = $1 AND t.schema_name = 'main' AND t.table_name = m.name WHERE m.name = $2`,
      [this.catalog, dataset],
    );
    const value = found.getRows()[0]?.[0];
    if (typeof value !== 'string') {
      throw new FedstatError(
        'NOT_FOUND',
        `dataset ${dataset} is not loaded in this store; load it first (fedstat agency serve --dataset ${dataset}=FILE.csv)`,
        {
          details: { dataset },
        },
      );
    }
    return value;
  }

  /** NOT_FOUND when the dataset is not loaded; DATA_INVALID when it was loaded under another schema. */
  private async checkLoadedUnder(dataset: string, schema: DatasetSchema, conn = this.queryConn): Promise<void> {
    // This process alone writes the file (DuckDB locks it) and only loadCsv changes a dataset's
    // table, so a fingerprint read once holds until the next load: the catalog query cost ~5 ms of
    // every aggregate (bench store).
    const loads = this.loadsDone;
    const stored = this.fingerprints.get(dataset) ?? (await this.loadedFingerprint(dataset, conn));
    // Read before a load committed meanwhile: not kept.
    if (loads === this.loadsDone) this.fingerprints.set(dataset, stored);
    if (stored !== schemaFingerprint(schema)) {
      throw new FedstatError(
        'DATA_INVALID',
        `dataset ${dataset} was loaded under a different schema than the federation's; reload its CSV file`,
        {
          details: { dataset },
        },
      );
    }
  }

  async loadCsv(dataset: string, schema: DatasetSchema, file: string, options: LoadOptions = {}): Promise<LoadReport> {
    this.checkOpen();
    if (!DATASET_NAME.test(dataset)) throw new RangeError(`invalid dataset name ${JSON.stringify(dataset)}`);
    return this.loads.run(async () => {
      this.checkOpen();
      const conn = this.loadConn;
      const loading = this.table(dataset, '$loading');
      await conn.run(`DROP TABLE IF EXISTS ${loading}`);
      const staged = await stageCsv(conn, loading, schema, file, options);
      try {
        await conn.run('BEGIN TRANSACTION');
        await conn.run(`DROP TABLE IF EXISTS ${this.table(dataset)}`);
        await conn.run(`ALTER TABLE ${loading} RENAME TO ${quoteIdent(dataset)}`);
        await conn.run(`DELETE FROM ${this.meta} WHERE name = $1`, [dataset]);
        await conn.run(`INSERT INTO ${this.meta} VALUES ($1, $2, $3, $4, current_timestamp)`, [
          dataset,
          schemaFingerprint(schema),
          file,
          staged.rowsLoaded,
        ]);
        await conn.run('COMMIT');
        this.loadsDone++;
        this.fingerprints.delete(dataset);
        this.attached.delete(dataset);
        this.loadRules.set(dataset, { onInvalid: options.onInvalid ?? 'reject', report: options.onInvalidRows });
      } catch (e) {
        await conn.run('ROLLBACK').catch(() => undefined);
        await conn.run(`DROP TABLE IF EXISTS ${loading}`).catch(() => undefined);
        throw new FedstatError('IO', `cannot store dataset ${dataset}: ${describeError(e)}`, {
          cause: e,
          details: { dataset },
        });
      }
      return Object.freeze({ dataset, file, ...staged, invalid: Object.freeze([...staged.invalid]) });
    });
  }

  async attachParquet(
    dataset: string,
    schema: DatasetSchema,
    pattern: string,
    options: ParquetOptions = {},
  ): Promise<void> {
    this.checkOpen();
    if (!DATASET_NAME.test(dataset)) throw new RangeError(`invalid dataset name ${JSON.stringify(dataset)}`);
    await this.queries.run(async () => {
      const source = await parquetSource(this.queryConn, dataset, schema, pattern);
      this.attached.set(dataset, {
        source,
        onInvalid: options.onInvalid ?? 'reject',
        report: options.onInvalidRows,
        label: parquetLabel(dataset, pattern),
      });
    });
  }

  /** The attached files of `dataset`, checked to be attached under `schema`; undefined when loaded instead. */
  private attachedUnder(dataset: string, schema: DatasetSchema): Attached | undefined {
    const found = this.attached.get(dataset);
    if (found !== undefined && schemaFingerprint(found.source.schema) !== schemaFingerprint(schema)) {
      throw new FedstatError(
        'DATA_INVALID',
        `dataset ${dataset} was attached under a different schema than the federation's; restart the agency`,
        { details: { dataset } },
      );
    }
    return found;
  }

  /** Runs a read of attached files; a DuckDB failure becomes IO naming them. */
  private async readAttached<T>(found: Attached, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      throw e instanceof FedstatError ? e : parquetError(e, found.label);
    }
  }

  async datasets(): Promise<readonly string[]> {
    this.checkOpen();
    return this.queries.run(async () => {
      const result = await this.queryConn.runAndReadAll(
        `SELECT m.name FROM ${this.meta} m JOIN duckdb_tables() t ON t.database_name = $1 AND t.schema_name = 'main' AND t.table_name = m.name ORDER BY m.name`,
        [this.catalog],
      );
      const loaded = result.getRows().map((r) => String(r[0]));
      return Object.freeze([...new Set([...loaded, ...this.attached.keys()])].sort());
    });
  }

  async rowCount(dataset: string): Promise<number> {
    this.checkOpen();
    return this.queries.run(async () => {
      const found = this.attached.get(dataset);
      const from = found === undefined ? this.table(dataset) : found.source.from;
      if (found === undefined) await this.loadedFingerprint(dataset);
      const count = async () => (await this.queryConn.runAndReadAll(`SELECT count(*) FROM ${from}`)).getRows();
      const rows = found === undefined ? await count() : await this.readAttached(found, count);
      return Number(rows[0]?.[0] ?? 0);
    });
  }

  async aggregate(plan: QueryPlan, schema: DatasetSchema): Promise<LocalAggregate> {
    this.checkOpen();
    const found = this.attachedUnder(plan.dataset, schema);
    if (found !== undefined) return this.aggregateAttached(plan, schema, found);
    // Compile first: a bad plan fails before touching the database.
    const compiled = compileAggregate(plan, schema, this.dialect);
    return this.queries.run(async () => {
      await this.checkLoadedUnder(plan.dataset, schema);
      const result = await this.queryConn.runAndReadAll(compiled.sql, [...compiled.params] as DuckDBValue[]);
      return toLocalAggregate(result.getRows(), compiled);
    });
  }

  /** One statement over the files: the measures of valid rows and the census of the others. */
  private async aggregateAttached(plan: QueryPlan, schema: DatasetSchema, found: Attached): Promise<LocalAggregate> {
    const compiled = compileAggregate(plan, schema, DUCKDB_DIALECT, found.source);
    const run = (sql: string, params: readonly (number | string)[]) =>
      this.queries.run(() =>
        this.readAttached(found, async () =>
          (await this.queryConn.runAndReadAll(sql, [...params] as DuckDBValue[])).getRows(),
        ),
      );
    return answerLive(plan.dataset, schema, compiled, run, { onInvalid: found.onInvalid, report: found.report });
  }

  async glmSums(
    coding: ModelCoding,
    schema: DatasetSchema,
    beta: readonly number[],
    where: Predicate | null,
  ): Promise<GlmSums> {
    this.checkOpen();
    const found = this.attachedUnder(coding.dataset, schema);
    // Compile first: a bad coding or β fails before touching the database.
    const compiled = compileGlmSums(coding, schema, beta, this.readDialect, where);
    return this.queries.run(async () => {
      if (found === undefined) {
        await this.checkLoadedUnder(coding.dataset, schema);
        return duckDbGlmSums(this.queryConn, compiled);
      }
      // The census and the sums in one transaction, as the PostgreSQL store reads them.
      const conn = this.queryConn;
      return this.readAttached(found, async () => {
        await conn.run('BEGIN TRANSACTION');
        try {
          const census = await conn.runAndReadAll(compileCensus(found.source, DUCKDB_DIALECT));
          applyCensus(
            censusOf(coding.dataset, checkedColumns(schema), census.getRows()),
            found.onInvalid,
            found.report,
          );
          const sums = await duckDbGlmSums(conn, compiled);
          await conn.run('COMMIT');
          return sums;
        } catch (e) {
          await conn.run('ROLLBACK').catch(() => undefined);
          throw e;
        }
      });
    });
  }

  async linkInputs(spec: LinkSideSpec, schema: DatasetSchema): Promise<LinkInputs> {
    this.checkOpen();
    const found = this.attachedUnder(spec.dataset, schema);
    // Compile first: a bad spec fails before touching the database.
    const compiled =
      found === undefined
        ? compileLinkInputs(spec, schema, this.dialect)
        : compileLinkInputs(spec, schema, DUCKDB_DIALECT, found.source);
    return this.queries.run(async () => {
      const builder = new LinkInputsBuilder(compiled, schema);
      if (found === undefined) {
        await this.checkLoadedUnder(spec.dataset, schema);
        await readDuckDbLink(this.queryConn, compiled, builder);
        return builder.finish(this.loadRules.get(spec.dataset) ?? { onInvalid: 'reject', report: undefined });
      }
      // One statement reads the files once: the census of invalid rows comes with the data.
      await this.readAttached(found, () => readDuckDbLink(this.queryConn, compiled, builder));
      return builder.finish({ onInvalid: found.onInvalid, report: found.report });
    });
  }

  async *scanRecords(
    dataset: string,
    schema: DatasetSchema,
    columns: readonly string[],
    where: Predicate | null,
    batchRows: number,
  ): AsyncGenerator<readonly DataRecord[], void, undefined> {
    this.checkOpen();
    const found = this.attachedUnder(dataset, schema);
    const compiled = compileRecordScan(dataset, schema, columns, where, batchRows, this.readDialect);
    // A connection of its own, outside the query queue: a training round may read for minutes
    // while the agency keeps answering queries, and a statement on the query connection would cut
    // a stream on it short. Its one transaction makes the schema check and every batch read the
    // same version of the table, even if a load swaps it meanwhile.
    const conn = await this.instance.connect();
    this.scans.add(conn);
    try {
      this.checkOpen(); // the store may have closed while connecting
      await conn.run('BEGIN TRANSACTION');
      if (found === undefined) {
        await this.checkLoadedUnder(dataset, schema, conn);
        yield* streamRecords(conn, compiled, () => this.checkOpen());
      } else {
        yield* this.scanAttached(conn, dataset, schema, compiled, found);
      }
    } finally {
      if (this.scans.delete(conn)) conn.closeSync();
    }
  }

  /** The census first (a refusal reads no row), then the valid rows of the files. */
  private async *scanAttached(
    conn: DuckDBConnection,
    dataset: string,
    schema: DatasetSchema,
    compiled: ReturnType<typeof compileRecordScan>,
    found: Attached,
  ): AsyncGenerator<readonly DataRecord[], void, undefined> {
    try {
      const census = await conn.runAndReadAll(compileCensus(found.source, DUCKDB_DIALECT));
      applyCensus(censusOf(dataset, checkedColumns(schema), census.getRows()), found.onInvalid, found.report);
      yield* withinMaxRows(
        dataset,
        schema,
        streamRecords(conn, compiled, () => this.checkOpen()),
      );
    } catch (e) {
      throw e instanceof FedstatError ? e : parquetError(e, found.label);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([this.loads.idle(), this.queries.idle()]);
      // Scans are not waited for (a caller may never finish one); their next batch says closed.
      for (const conn of this.scans) conn.closeSync();
      this.scans.clear();
      this.loadConn.closeSync();
      this.queryConn.closeSync();
      this.instance.closeSync();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Opens (creating if needed) the DuckDB store at `path`, or an in-memory one for `':memory:'`.
 * A file keeps its datasets across runs; DuckDB locks it, so one process opens it at a time.
 */
export async function openDuckDbStore(path: string): Promise<DuckDbAgencyStore> {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError('openDuckDbStore needs a file path or ":memory:"');
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path);
  } catch (e) {
    throw new FedstatError(
      'IO',
      `cannot open DuckDB database ${path}: ${describeError(e)}; check the path and that no other process holds it`,
      {
        cause: e,
        details: { path },
      },
    );
  }
  const conns: DuckDBConnection[] = [];
  try {
    conns.push(await instance.connect(), await instance.connect());
    const [loadConn, queryConn] = conns as [DuckDBConnection, DuckDBConnection];
    // Progress tracking feeds LoadOptions.onProgress; DuckDB must not print its own bar.
    await loadConn.run('SET enable_progress_bar = true');
    await loadConn.run('SET enable_progress_bar_print = false');
    const catalog = String((await loadConn.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0]);
    const schemaRef = `${quoteIdent(catalog)}.${quoteIdent(META_SCHEMA)}`;
    await loadConn.run(`CREATE SCHEMA IF NOT EXISTS ${schemaRef}`);
    await loadConn.run(
      `CREATE TABLE IF NOT EXISTS ${schemaRef}."datasets" (name VARCHAR NOT NULL, schema_json VARCHAR NOT NULL, source VARCHAR NOT NULL, rows BIGINT NOT NULL, loaded_at TIMESTAMP NOT NULL)`,
    );
    return new DuckDbStore(instance, loadConn, queryConn, catalog);
  } catch (e) {
    for (const c of conns) c.closeSync();
    instance.closeSync();
    throw new FedstatError('IO', `cannot initialise DuckDB database ${path}: ${describeError(e)}`, {
      cause: e,
      details: { path },
    });
  }
}
