/**
 * The data of the `fedavg-quality` benchmark: the seed scenario (seeds/sichuan) generated as the
 * demo generates it, its social-insurance bureaus (one per city: 成都, 绵阳, 德阳, so the
 * partitions are non-IID by city, each holding only its own districts) started as agency nodes in
 * this process over gRPC with mTLS and their own budget ledgers, and a coordinator with its log;
 * beside them every record of the same files, pooled and coded once, for the in-process baselines.
 *
 * The records are kept as the agencies' stores give them to local training (the model's columns
 * only, integers as numbers, categories as strings), so `heldOut` splits them exactly as a run's
 * agencies do (learn/fl/local-round.ts `isHeldOut`, keyed by the run's seed).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startAgencyNode, type AgencyNode } from '../../src/agency/node.js';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { readTypedRows } from '../../src/demo/reference.js';
import { freePorts } from '../../src/demo/free-port.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { initFederation, readSchemaFile } from '../../src/federation/init.js';
import { codeModel, type ModelCoding } from '../../src/learn/design.js';
import { encodeRecord, newEncodedRow, type DataRecord } from '../../src/learn/design-row.js';
import { modelColumns } from '../../src/learn/fl/fl-model.js';
import { isHeldOut } from '../../src/learn/fl/local-round.js';
import { parseFormula } from '../../src/learn/formula.js';
import { generateScenario } from '../../src/seed/generate.js';

/** The dataset and the demo's formula (src/demo/model-showcase.ts). */
export const QUALITY_DATASET = 'social_insurance';
export const QUALITY_FORMULA = "insured == '是' ~ age + sex + sector + district + monthly_income + months_resident";
/** The bureaus serving the dataset in the sichuan scenario, one per city. */
const BUREAUS = ['cd-hrss', 'my-hrss', 'dy-hrss'];

/** Pooled records coded once: row-major design rows `x` (n × d) and responses `y`. */
export interface PooledData {
  readonly coding: ModelCoding;
  readonly records: readonly DataRecord[];
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly d: number;
  /** Records per agency, in BUREAUS order. */
  readonly perAgency: readonly { readonly id: string; readonly rows: number }[];
}

/** A running quality federation (see the file comment). */
export interface QualityFederation {
  readonly coordinator: Coordinator;
  readonly pooled: PooledData;
  readonly dir: string;
  close(): Promise<void>;
}

/** Reads the bureaus' files into coded, pooled records. */
async function pooledData(
  coding: ModelCoding,
  files: readonly { id: string; file: string }[],
  schema: Parameters<typeof readTypedRows>[0],
): Promise<PooledData> {
  const columns = modelColumns(coding);
  const records: DataRecord[] = [];
  const perAgency: { id: string; rows: number }[] = [];
  for (const f of files) {
    let rows = 0;
    for await (const row of readTypedRows(schema, [f.file])) {
      records.push(Object.fromEntries(columns.map((c) => [c, row[c] as string | number])));
      rows++;
    }
    perAgency.push({ id: f.id, rows });
  }
  const d = coding.columns.length;
  const x = new Float64Array(records.length * d);
  const y = new Float64Array(records.length);
  const enc = newEncodedRow(coding);
  records.forEach((r, i) => {
    encodeRecord(coding, r, enc);
    for (let k = 0; k < enc.nnz; k++) x[i * d + (enc.index[k] as number)] = enc.value[k] as number;
    y[i] = enc.y;
  });
  return { coding, records, x, y, d, perAgency };
}

/** The indexes of the training and held-out records of a run (keyed by its seed, as its agencies split). */
export function splitOf(data: PooledData, seed: number, validation: number): { train: number[]; held: number[] } {
  const key = String(seed); // agency/fl-contribution.ts: splitKey = String(plan.seed)
  const train: number[] = [];
  const held: number[] = [];
  data.records.forEach((r, i) => (isHeldOut(r, key, validation) ? held : train).push(i));
  return { train, held };
}

/**
 * Seeds the scenario (`rows` registrations in 成都市, the other cities in proportion, the demo's
 * seed) into `dir` (emptied first; removed by `close`) and starts the federation.
 */
export async function startQualityFederation(dir: string, rows: number): Promise<QualityFederation> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'data');
  const manifest = await generateScenario({
    scenario: 'sichuan',
    outDir: data,
    rows,
    seed: 'fedstat-demo',
    agencies: BUREAUS,
  });
  const ports = await freePorts(BUREAUS.length);
  const init = await initFederation({
    outDir: join(dir, 'federation'),
    schema: readSchemaFile(join(data, manifest.schemaFile)),
    name: 'bench-fedavg-quality',
    agencies: BUREAUS.map((id, i) => ({ id, endpoint: `127.0.0.1:${ports[i]}`, datasets: [QUALITY_DATASET] })),
    policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true },
  });
  const files = manifest.agencies.map((a) => ({ id: a.id, file: join(data, a.datasets[QUALITY_DATASET]?.file ?? '') }));
  const schema = datasetSchemaOf(init.federation, QUALITY_DATASET);
  const coding = codeModel(parseFormula(QUALITY_FORMULA, schema, QUALITY_DATASET), schema, 'binomial', QUALITY_DATASET);
  const pooled = await pooledData(coding, files, schema);
  const nodes: AgencyNode[] = [];
  const stop = async (): Promise<void> => {
    for (const n of nodes) await n.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const f of files)
      nodes.push(
        await startAgencyNode({
          federationFile: init.federationFile,
          keyFile: init.keyFiles[f.id] ?? '',
          datasets: { [QUALITY_DATASET]: f.file },
          budgets: { [QUALITY_DATASET]: '1000000' },
          ledgerFile: join(dir, `${f.id}.ledger`),
        }),
      );
    const coordinator = await connectCoordinator({ federation: init.federation });
    return {
      coordinator,
      pooled,
      dir,
      close: async () => {
        await coordinator.close();
        await stop();
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
