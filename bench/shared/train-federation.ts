/**
 * A federation for the `train` benchmark: K agencies, each an agency node (the same code
 * `fedstat agency serve` runs: its store, its keys, its gRPC server over mTLS on 127.0.0.1) in
 * this process, each with its own DuckDB file of N rows (train-data.ts), agreeing to the
 * plaintext benchmark mode; a coordinator connected to them over gRPC with the in-process key
 * authority and the transparency log the default policy requires; and beside them the pooled
 * table of all K·N rows for the single-process baseline. In one process so that 64 agencies fit
 * on a small machine (as separate processes each would carry its own Node and DuckDB).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startAgencyNode, type AgencyNode } from '../../src/agency/node.js';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { freePorts } from '../../src/demo/free-port.js';
import { datasetSchemaOf, type Federation } from '../../src/federation/federation.js';
import { initFederation } from '../../src/federation/init.js';
import { benchSchema, DATASET, openPooledTable, writeAgencyDb, type PooledTable } from './train-data.js';

/** A running benchmark federation (see the file comment). */
export interface TrainFederation {
  readonly federation: Federation;
  readonly coordinator: Coordinator;
  readonly pooled: PooledTable;
  /** Generating and writing the agencies' files, ms. */
  readonly loadMs: number;
  /** Copying them into the pooled table, ms. */
  readonly pooledLoadMs: number;
  close(): Promise<void>;
}

/**
 * Builds and starts the federation in `dir` (emptied first; removed by `close`). With `budget`,
 * every agency keeps a ledger with that zCDP budget for the dataset, so it answers DP rounds.
 */
export async function startTrainFederation(
  dir: string,
  agencies: number,
  rows: number,
  options: { readonly budget?: string } = {},
): Promise<TrainFederation> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ids = Array.from({ length: agencies }, (_, i) => `agency-${i + 1}`);
  const ports = await freePorts(ids.length);
  const init = await initFederation({
    outDir: join(dir, 'federation'),
    schema: benchSchema(rows),
    name: 'bench-train',
    agencies: ids.map((id, i) => ({ id, endpoint: `127.0.0.1:${ports[i]}` })),
    policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true },
  });
  const schema = datasetSchemaOf(init.federation, DATASET);
  const files = ids.map((id) => join(dir, `${id}.duckdb`));
  let t = performance.now();
  for (const [i, file] of files.entries()) await writeAgencyDb(file, join(dir, 'one-row.csv'), schema, i, rows);
  const loadMs = performance.now() - t;
  t = performance.now();
  const pooled = await openPooledTable(join(dir, 'pooled.duckdb'), files);
  const pooledLoadMs = performance.now() - t;
  const nodes: AgencyNode[] = [];
  const close = async (): Promise<void> => {
    for (const n of nodes) await n.close();
    pooled.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, id] of ids.entries()) {
      nodes.push(
        await startAgencyNode({
          federationFile: init.federationFile,
          keyFile: init.keyFiles[id] ?? '',
          dbPath: files[i] ?? '',
          datasets: { [DATASET]: null },
          allowPlaintextMode: true,
          ...(options.budget === undefined
            ? {}
            : { budgets: { [DATASET]: options.budget }, ledgerFile: join(dir, `${id}.ledger`) }),
        }),
      );
    }
    const coordinator = await connectCoordinator({ federation: init.federation });
    return {
      federation: init.federation,
      coordinator,
      pooled,
      loadMs,
      pooledLoadMs,
      close: async () => {
        await coordinator.close();
        await close();
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}
