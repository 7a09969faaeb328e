/**
 * A federation made with the built CLI (`fedstat init`) whose agencies serve the `workers` dataset
 * as real `fedstat agency serve` processes, each from its own CSV of workerRows (an `insured`
 * label that follows a known logistic model), with a budget ledger and a log witness each. For
 * end-to-end tests of the commands that run against agencies (`train`, `budget`, `audit`).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { freePorts } from '../../src/demo/free-port.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { WORKERS_DATASET_JSON, workerRows } from '../learn/workers.js';
import { runCli } from './run-cli.js';

/**
 * The schema file the federation is made from: the one `workers` dataset, with a row bound near
 * its size (the DP sums' allowance for float summation error grows with maxRows: at the default
 * 10^9 rows it swamps a few thousand rows' information).
 */
export const WORKERS_SCHEMA_JSON = { datasets: { workers: { ...WORKERS_DATASET_JSON, maxRows: 10_000 } } };
const HEADER = ['citizen_id', 'district', 'sex', 'age', 'income', 'insured', 'visits', 'months'] as const;

/** The CSV text of `rows` (workerRows' values hold no comma, quote or line break). */
export function workersCsv(rows: readonly DataRecord[]): string {
  return `${HEADER.join(',')}\n${rows.map((r) => HEADER.map((h) => String(r[h])).join(',')).join('\n')}\n`;
}

export interface WorkersFederation {
  readonly dir: string;
  readonly federationFile: string;
  readonly ids: readonly string[];
  /** The records each agency serves, by agency id. */
  readonly rows: Readonly<Record<string, readonly DataRecord[]>>;
  readonly csvFiles: Readonly<Record<string, string>>;
  readonly ledgers: Readonly<Record<string, string>>;
  readonly witnesses: Readonly<Record<string, string>>;
  /** The running agency processes, by id. */
  readonly processes: ReadonlyMap<string, AgencyProcess>;
  /** Starts agency `id` (again), with its CSV, its budget ledger and its log witness. */
  launch(id: string): Promise<void>;
  /** SIGKILLs agency `id` and waits until it is gone. */
  kill(id: string): Promise<void>;
  /** Stops every agency and removes the folder. */
  close(): Promise<void>;
}

export interface WorkersFederationOptions {
  readonly agencies: number;
  readonly rowsPerAgency: number;
  readonly minAgencies: number;
  /** Each agency's zCDP budget on `workers` (`--budget workers=RHO`). */
  readonly budget: string;
}

/** Waits until process `pid` no longer exists (a SIGKILLed process is gone within milliseconds). */
async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} is still running 5 s after SIGKILL`);
}

/** Runs `fedstat init` (exact releases allowed, transparency log required) and writes each agency's CSV. */
export async function createWorkersFederation(options: WorkersFederationOptions): Promise<WorkersFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-workers-'));
  const ids = Array.from({ length: options.agencies }, (_, i) => `agency-${i + 1}`);
  const ports = await freePorts(ids.length);
  writeFileSync(join(dir, 'schema.json'), JSON.stringify(WORKERS_SCHEMA_JSON));
  const init = await runCli([
    'init',
    '--out',
    join(dir, 'federation'),
    '--schema',
    join(dir, 'schema.json'),
    ...ids.flatMap((id, i) => ['--agency', `${id}=127.0.0.1:${ports[i]}`]),
    '--min-agencies',
    String(options.minAgencies),
    '--min-group-size',
    '1',
    '--exact-release',
    '--json',
  ]);
  if (init.code !== 0) throw new Error(`fedstat init failed (${init.code}): ${init.err}`);
  const keyFiles = (JSON.parse(init.out) as { keyFiles: Record<string, string> }).keyFiles;
  const at = (suffix: string) => Object.fromEntries(ids.map((id) => [id, join(dir, `${id}${suffix}`)]));
  const rows = Object.fromEntries(
    ids.map((id, i) => [id, workerRows(options.rowsPerAgency, 101 + i, (j) => `${id}-${j}`)]),
  );
  const csvFiles = at('.csv');
  for (const id of ids) writeFileSync(csvFiles[id]!, workersCsv(rows[id]!));
  const ledgers = Object.fromEntries(ids.map((id) => [id, join(dir, 'ledgers', `${id}.ledger`)]));
  mkdirSync(join(dir, 'ledgers'));
  const witnesses = at('.witness.json');
  const processes = new Map<string, AgencyProcess>();
  const federationFile = join(dir, 'federation', 'federation.json');
  const fed: WorkersFederation = {
    dir,
    federationFile,
    ids,
    rows,
    csvFiles,
    ledgers,
    witnesses,
    processes,
    async launch(id) {
      const p = await startAgencyProcess({
        id,
        federationFile,
        keyFile: keyFiles[id]!,
        datasets: { workers: csvFiles[id]! },
        extraArgs: [
          ...['--budget', `workers=${options.budget}`, '--ledger', ledgers[id]!],
          ...['--log-witness', witnesses[id]!],
        ],
      });
      processes.set(id, p);
    },
    async kill(id) {
      const p = processes.get(id);
      if (p === undefined) return;
      processes.delete(id);
      p.kill();
      await gone(p.pid);
    },
    async close() {
      await Promise.all([...processes.values()].map((p) => p.stop()));
      processes.clear();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fed;
}
