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

export interface AgencyNodeOptions {
  readonly federationFile: string;
  readonly keyFile: string;
  /** Dataset name → CSV file to load; a dataset with `null` is served from the existing store. */
  readonly datasets: Readonly<Record<string, string | null>>;
  /** DuckDB file; default in memory. */
  readonly dbPath?: string;
  readonly host?: string;
  /** Default: the port of the agency's endpoint in the federation file. */
  readonly port?: number;
  readonly onInvalid?: 'reject' | 'skip';
  readonly allowPlaintextMode?: boolean;
  /** Plain TCP instead of mTLS; refused unless the bind address is loopback. */
  readonly insecure?: boolean;
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

export interface AgencyNode {
  readonly agency: Agency;
  readonly port: number;
  readonly loads: readonly LoadReport[];
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

export async function startAgencyNode(options: AgencyNodeOptions): Promise<AgencyNode> {
  const material = loadAgencyMaterial(options.federationFile, options.keyFile);
  const { federation, secrets } = material;
  const me = party(federation, secrets.party);
  const insecure = options.insecure === true;
  // Before any data is loaded: a missing certificate or a refused --insecure fails fast.
  const credentials = agencyCredentials(material, { insecure, ...(options.host === undefined ? {} : { host: options.host }) });
  const budgets = options.budgets ?? {};
  for (const dataset of Object.keys(budgets)) datasetSchemaOf(federation, dataset);
  if (Object.keys(budgets).length > 0 && options.ledgerFile === undefined) {
    throw new FedstatError('CONFIG_INVALID', 'a privacy budget needs a ledger to record what is spent; add --ledger FILE');
  }
  // Before any data is loaded: a witness file of another federation fails fast.
  const logWitness = await LogWitness.open(federation, `agency ${me.id}`, options.logWitnessFile);
  const ledger = options.ledgerFile === undefined ? undefined : await BudgetLedger.open(options.ledgerFile, { budgets });
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
          throw new FedstatError('NOT_FOUND', `dataset ${dataset} is not in ${options.dbPath ?? 'the store'}; load it with --dataset ${dataset}=FILE.csv`);
        }
        continue;
      }
      loads.push(await store.loadCsv(dataset, schema, file, {
        onInvalid: options.onInvalid ?? 'reject',
        onProgress: (rows) => options.onLoadProgress?.(dataset, rows),
      }));
    }
    agency = await createAgency({
      ...material, store, allowPlaintextMode: options.allowPlaintextMode === true, logWitness,
      ...(ledger === undefined ? {} : { ledger }),
      audit: allSinks(
        ...(options.auditLog === undefined ? [] : [new JsonlAuditSink(options.auditLog)]),
        ...(options.onEvent === undefined ? [] : [options.onEvent]),
      ),
    });
    server = await serveAgency(agency, material, {
      credentials, insecure,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
    });
    const running = { agency, server };
    return {
      agency, loads, port: server.port,
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
