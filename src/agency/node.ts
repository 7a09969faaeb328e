/**
 * A complete agency node from files, as `fedstat agency serve` runs it: read the federation file,
 * the agency's key file and the HE public key (`loadAgencyMaterial`), the ledger and the log
 * witness file, open the DuckDB store, load and validate the CSV files, and serve over gRPC on the
 * endpoint's port. This is where the agency's files are read: `createAgency` takes values.
 */
import { JsonlAuditSink, allSinks, type AuditSink } from '../transparency/events.js';
import { FedstatError } from '../errors.js';
import { datasetSchemaOf, loadFederation, party, readHePublicKey } from '../federation/federation.js';
import { loadKeyFile } from '../federation/key-file.js';
import { openDuckDbStore } from '../store/duckdb-store.js';
import type { LoadReport } from '../store/store.js';
import { BudgetLedger } from '../dp/budget-ledger.js';
import type { RunningServer } from '../transport/listen.js';
import { LogWitness } from '../transparency/log-witness.js';
import { createAgency, type Agency, type AgencyMaterial } from './agency.js';
import { agencyCredentials, serveAgency } from './serve.js';

/** What `startAgencyNode` reads and how it serves; the options of `fedstat agency serve`. */
export interface AgencyNodeOptions {
  /** The federation file (federation.json); the HE public key is read from beside it. */
  readonly federationFile: string;
  /** The agency's own key file. */
  readonly keyFile: string;
  /** Dataset name → CSV file to load; a dataset with `null` is served from the existing store. */
  readonly datasets: Readonly<Record<string, string | null>>;
  /** DuckDB file; default in memory. */
  readonly dbPath?: string;
  /** Bind address; default the host of the agency's endpoint in the federation file, else 127.0.0.1. */
  readonly host?: string;
  /** Default: the port of the agency's endpoint in the federation file. */
  readonly port?: number;
  /** Invalid CSV rows: `reject` (default) fails the start, `skip` leaves them out (see `LoadOptions`). */
  readonly onInvalid?: 'reject' | 'skip';
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

/**
 * Starts an agency node from its files: reads the material, opens the ledger, the log witness and
 * the store, loads the CSV files and serves the agency over gRPC (mTLS unless `insecure`). Fails
 * before loading data with KEY_INVALID (key file, certificate) or CONFIG_INVALID (budgets without
 * `ledgerFile`, `insecure` off loopback, a witness file of another log); later with NOT_FOUND for
 * a `null` dataset the store lacks, DATA_INVALID for invalid rows in `reject` mode, UNAVAILABLE
 * for a port in use. What was opened is closed on failure.
 */
export async function startAgencyNode(options: AgencyNodeOptions): Promise<AgencyNode> {
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
  let store;
  try {
    store = await openDuckDbStore(options.dbPath ?? ':memory:');
  } catch (e) {
    await ledger?.close();
    throw e;
  }
  let agency: Agency | undefined;
  let server: RunningServer | undefined;
  try {
    const loads: LoadReport[] = [];
    for (const [dataset, file] of Object.entries(options.datasets)) {
      const schema = datasetSchemaOf(federation, dataset);
      if (file === null) {
        if (!(await store.datasets()).includes(dataset)) {
          throw new FedstatError(
            'NOT_FOUND',
            `dataset ${dataset} is not in ${options.dbPath ?? 'the store'}; load it with --dataset ${dataset}=FILE.csv`,
          );
        }
        continue;
      }
      loads.push(
        await store.loadCsv(dataset, schema, file, {
          onInvalid: options.onInvalid ?? 'reject',
          onProgress: (rows) => options.onLoadProgress?.(dataset, rows),
        }),
      );
    }
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
      await store.close();
      await ledger?.close();
    }
    throw e;
  }
}
