/**
 * A complete agency node from files, as `fedstat agency serve` runs it: read the federation file,
 * the agency's key file and the HE public key (`loadAgencyMaterial`), the ledger and the log
 * witness file, open the stores (DuckDB: CSV files loaded and validated, Parquet files read in
 * place; PostgreSQL: live tables), and serve over gRPC on the endpoint's port. This is where the
 * agency's files are read: `createAgency` takes values.
 */
import { JsonlAuditSink, allSinks, type AuditSink } from '../transparency/events.js';
import { FedstatError } from '../errors.js';
import type pg from 'pg';
import { datasetSchemaOf, loadFederation, party, readHePublicKey, type Federation } from '../federation/federation.js';
import { loadKeyFile } from '../federation/key-file.js';
import { openDuckDbStore } from '../store/duckdb-store.js';
import type { InvalidRowsReport, OnInvalidRows } from '../store/invalid-rows.js';
import { pgPoolConfig } from '../store/pg-connection.js';
import { openPostgresStore, type PostgresDataset } from '../store/postgres-store.js';
import { routeStores } from '../store/routed-store.js';
import type { AgencyStore, DuckDbAgencyStore, LoadReport } from '../store/store.js';
import { BudgetLedger } from '../dp/budget-ledger.js';
import type { RunningServer } from '../transport/listen.js';
import { LogWitness } from '../transparency/log-witness.js';
import { createAgency, type Agency, type AgencyMaterial } from './agency.js';
import { agencyCredentials, serveAgency } from './serve.js';

/**
 * Where an agency node reads one dataset (`fedstat agency serve --dataset NAME=SOURCE`): a CSV
 * file loaded into the DuckDB store; the DuckDB store's table from an earlier run; a live
 * PostgreSQL table or view; Parquet files read in place.
 */
export type DatasetSource =
  | { readonly kind: 'csv'; readonly file: string }
  | { readonly kind: 'stored' }
  | { readonly kind: 'postgres'; readonly table: string }
  | { readonly kind: 'parquet'; readonly files: string };

/** What `startAgencyNode` reads and how it serves; the options of `fedstat agency serve`. */
export interface AgencyNodeOptions {
  /** The federation file (federation.json); the HE public key is read from beside it. */
  readonly federationFile: string;
  /** The agency's own key file. */
  readonly keyFile: string;
  /**
   * Dataset name → where it is read. A string is a CSV file to load, `null` the DuckDB store's
   * table (as `{kind: 'csv'}` and `{kind: 'stored'}`).
   */
  readonly datasets: Readonly<Record<string, DatasetSource | string | null>>;
  /**
   * For `postgres` datasets: a postgres:// URL without a password (host, port, user, database,
   * sslmode, sslrootcert); default libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE,
   * PGPASSWORD or ~/.pgpass, PGSSLMODE, PGSSLROOTCERT). A URL with a password is refused.
   */
  readonly postgres?: string;
  /** Per-statement limit on PostgreSQL, ms (default 300,000). */
  readonly statementTimeoutMs?: number;
  /** DuckDB file; default in memory. */
  readonly dbPath?: string;
  /** Bind address; default the host of the agency's endpoint in the federation file, else 127.0.0.1. */
  readonly host?: string;
  /** Default: the port of the agency's endpoint in the federation file. */
  readonly port?: number;
  /**
   * Invalid rows. CSV: `reject` (default) fails the start, `skip` leaves them out (see
   * `LoadOptions`). PostgreSQL and Parquet, checked on every read: `reject` refuses the query
   * naming how many rows of which column, `skip` answers without them and tells `onInvalidRows`.
   */
  readonly onInvalid?: OnInvalidRows;
  /** Told of the out-of-domain rows each statement over a live source skipped (counts and columns). */
  readonly onInvalidRows?: InvalidRowsReport;
  /** Answer `plaintext` and `encrypted-unmasked` queries (benchmarks only; see `AgencyOptions`). */
  readonly allowPlaintextMode?: boolean;
  /** Plain TCP instead of mTLS; refused unless the bind address is loopback. */
  readonly insecure?: boolean;
  /** Called with the rows of `dataset` processed so far while its CSV file loads. */
  readonly onLoadProgress?: (dataset: string, rows: number) => void;
  /**
   * This agency's zCDP budget per dataset ("0.5", "1/4"); DP queries on a dataset without one are
   * refused. Needs `ledgerFile`.
   */
  readonly budgets?: Readonly<Record<string, string>>;
  /** The durable, hash-chained ledger of every ρ this agency spent (created 0600 if missing). */
  readonly ledgerFile?: string;
  /**
   * Where the agency keeps the last transparency-log head it accepted, so that a restart cannot
   * be shown a forked or shortened log (default: in memory, trusting the first head after a start).
   */
  readonly logWitnessFile?: string;
  /** Append every contribution and refusal to this JSON-lines file. */
  readonly auditLog?: string;
  /** Also told of every contribution and refusal (the CLI prints them). */
  readonly onEvent?: AuditSink;
}

/** A running agency node (`startAgencyNode`). */
export interface AgencyNode {
  /** The agency the node serves. */
  readonly agency: Agency;
  /** The port it listens on (the one picked when 0 was asked for). */
  readonly port: number;
  /** One report per CSV file loaded at the start (datasets given a file), in the order given. */
  readonly loads: readonly LoadReport[];
  /** Stops the server, then closes the agency with its ledger and store. */
  close(): Promise<void>;
}

/**
 * Reads what `createAgency` takes as values from an agency's files: the federation file, the
 * agency's key file, and the BFV public key beside the federation file (checked against its hash).
 */
export function loadAgencyMaterial(federationFile: string, keyFile: string): AgencyMaterial {
  const federation = loadFederation(federationFile);
  const secrets = loadKeyFile(keyFile, federation);
  return { federation, secrets, hePublicKey: readHePublicKey(federation) };
}

function sourceOf(spec: DatasetSource | string | null): DatasetSource {
  if (spec === null) return { kind: 'stored' };
  if (typeof spec === 'string') return { kind: 'csv', file: spec };
  return spec;
}

type Sources = readonly (readonly [string, DatasetSource])[];

/** The PostgreSQL store of the `postgres` datasets (checked against their schemas), or undefined. */
async function openLiveTables(
  options: AgencyNodeOptions,
  federation: Federation,
  sources: Sources,
  connection: pg.PoolConfig,
): Promise<AgencyStore | undefined> {
  const datasets: Record<string, PostgresDataset> = {};
  for (const [name, source] of sources) {
    if (source.kind !== 'postgres') continue;
    datasets[name] = {
      table: source.table,
      schema: datasetSchemaOf(federation, name),
      onInvalid: onInvalidOf(options),
    };
  }
  if (Object.keys(datasets).length === 0) return undefined;
  return openPostgresStore({
    datasets,
    connection,
    ...(options.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: options.statementTimeoutMs }),
    ...(options.onInvalidRows === undefined ? {} : { onInvalidRows: options.onInvalidRows }),
  });
}

/** Loads the CSV files, checks the stored tables and attaches the Parquet files of the DuckDB store. */
async function fillDuckDb(
  store: DuckDbAgencyStore,
  options: AgencyNodeOptions,
  federation: Federation,
  sources: Sources,
): Promise<LoadReport[]> {
  const loads: LoadReport[] = [];
  for (const [dataset, source] of sources) {
    const schema = datasetSchemaOf(federation, dataset);
    if (source.kind === 'stored') {
      if (!(await store.datasets()).includes(dataset)) {
        throw new FedstatError(
          'NOT_FOUND',
          `dataset ${dataset} is not in ${options.dbPath ?? 'the store'}; load it with --dataset ${dataset}=FILE.csv`,
        );
      }
    } else if (source.kind === 'parquet') {
      await store.attachParquet(dataset, schema, source.files, {
        onInvalid: onInvalidOf(options),
        ...(options.onInvalidRows === undefined ? {} : { onInvalidRows: options.onInvalidRows }),
      });
    } else if (source.kind === 'csv') {
      loads.push(
        await store.loadCsv(dataset, schema, source.file, {
          onInvalid: onInvalidOf(options),
          onProgress: (rows) => options.onLoadProgress?.(dataset, rows),
        }),
      );
    }
  }
  return loads;
}

function onInvalidOf(options: AgencyNodeOptions): OnInvalidRows {
  return options.onInvalid ?? 'reject';
}

/**
 * Starts an agency node from its files: reads the material, opens the ledger, the log witness and
 * the stores (PostgreSQL only when a dataset is served from it; DuckDB always), loads the CSV
 * files, attaches the Parquet files and serves the agency over gRPC (mTLS unless `insecure`).
 * Fails before anything is read with CONFIG_INVALID for a password in `postgres`; before loading
 * data with KEY_INVALID (key file, certificate) or CONFIG_INVALID (budgets without `ledgerFile`,
 * `insecure` off loopback, a witness file of another log); later with NOT_FOUND for a `stored`
 * dataset the store lacks, a missing table or Parquet files, DATA_INVALID for invalid CSV rows in
 * `reject` mode or a table or file that does not fit its schema, UNAVAILABLE for a port in use or
 * an unreachable PostgreSQL server. What was opened is closed on failure.
 */
export async function startAgencyNode(options: AgencyNodeOptions): Promise<AgencyNode> {
  const sources: Sources = Object.entries(options.datasets).map(([name, spec]) => [name, sourceOf(spec)] as const);
  // Before anything is read: a password on the command line is refused.
  const usesPostgres = sources.some(([, s]) => s.kind === 'postgres');
  const connection = usesPostgres || options.postgres !== undefined ? pgPoolConfig(options.postgres) : undefined;
  const material = loadAgencyMaterial(options.federationFile, options.keyFile);
  const { federation, secrets } = material;
  const me = party(federation, secrets.party);
  const insecure = options.insecure === true;
  // Before any data is loaded: a missing certificate or a refused --insecure fails fast.
  const credentials = agencyCredentials(material, {
    insecure,
    ...(options.host === undefined ? {} : { host: options.host }),
  });
  const budgets = options.budgets ?? {};
  for (const dataset of Object.keys(budgets)) datasetSchemaOf(federation, dataset);
  for (const [dataset] of sources) datasetSchemaOf(federation, dataset);
  if (Object.keys(budgets).length > 0 && options.ledgerFile === undefined) {
    throw new FedstatError(
      'CONFIG_INVALID',
      'a privacy budget needs a ledger to record what is spent; add --ledger FILE',
    );
  }
  // Before any data is loaded: a witness file of another federation fails fast.
  const logWitness = await LogWitness.open(federation, `agency ${me.id}`, options.logWitnessFile);
  const ledger =
    options.ledgerFile === undefined ? undefined : await BudgetLedger.open(options.ledgerFile, { budgets });
  const opened: AgencyStore[] = [];
  let agency: Agency | undefined;
  let server: RunningServer | undefined;
  try {
    const live = connection === undefined ? undefined : await openLiveTables(options, federation, sources, connection);
    if (live !== undefined) opened.push(live);
    const duck = await openDuckDbStore(options.dbPath ?? ':memory:');
    opened.push(duck);
    const loads = await fillDuckDb(duck, options, federation, sources);
    const routes = new Map<string, AgencyStore>();
    for (const [name, source] of sources) if (live !== undefined && source.kind === 'postgres') routes.set(name, live);
    const store = live === undefined ? duck : await routeStores(routes, duck);
    agency = await createAgency({
      ...material,
      store,
      allowPlaintextMode: options.allowPlaintextMode === true,
      logWitness,
      ...(ledger === undefined ? {} : { ledger }),
      audit: allSinks(
        ...(options.auditLog === undefined ? [] : [new JsonlAuditSink(options.auditLog)]),
        ...(options.onEvent === undefined ? [] : [options.onEvent]),
      ),
    });
    server = await serveAgency(agency, material, {
      credentials,
      insecure,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
    });
    const running = { agency, server };
    return {
      agency,
      loads,
      port: server.port,
      close: async () => {
        await running.server.close();
        await running.agency.close();
      },
    };
  } catch (e) {
    if (agency !== undefined) await agency.close();
    else {
      await Promise.allSettled(opened.map((s) => s.close()));
      await ledger?.close();
    }
    throw e;
  }
}
