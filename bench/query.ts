/**
 * Encrypted federated query vs the same federation answering in plaintext: 5 agencies, each its
 * own `fedstat agency serve` process with its own DuckDB file, the same gRPC path, the same
 * signatures; the only difference is BFV (pack → encrypt → add → decrypt) against sending the
 * packed slot vectors in the clear. That plaintext path is the physical limit of this design
 * (local scan + transfer), so the ratio is the price of encryption.
 *
 *   npm run bench -- query [--json] [--rows 100000,1000000,10000000] [--reps N] [--agencies N]
 *
 * Data: the sichuan scenario's social-insurance records (cd-hrss), N rows per agency, generated
 * once and cached with the agencies' DuckDB files under .bench-cache/query/.
 */
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { progressBar } from '../src/cli/progress.js';
import { formatMs, renderTable } from '../src/cli/table.js';
import { connectCoordinator } from '../src/coordinator/connect.js';
import { sign } from '../src/crypto/ed25519.js';
import { startAgencyProcess, startAgencyProcesses, type AgencyProcess } from '../src/demo/agency-processes.js';
import { compareRows } from '../src/demo/reference.js';
import { freePorts } from '../src/demo/free-port.js';
import { datasetParties, datasetSchemaOf, hePublicKeyPath, type Federation } from '../src/federation/federation.js';
import { initFederation, readSchemaFile } from '../src/federation/init.js';
import { loadKeyFile } from '../src/federation/key-file.js';
import { HeAccumulator } from '../src/he/accumulator.js';
import { HeEncryptor } from '../src/he/encryptor.js';
import { HeParams } from '../src/he/he-params.js';
import { packSlots, planSlotLayout } from '../src/he/packing.js';
import { presetByName } from '../src/he/presets.js';
import { encodeCells, planCells } from '../src/protocol/cells.js';
import { parseQuery } from '../src/query/parse.js';
import { generateScenario } from '../src/seed/generate.js';
import { openDuckDbStore } from '../src/store/duckdb-store.js';
import { packageRoot } from '../src/util/package-root.js';
import { renderStages, stageMedians, timedQuery, type StageMedians, type TimedQuery } from './shared/query-stages.js';
import { median } from './shared/stats.js';

const SQL = 'SELECT district, COUNT(*), SUM(monthly_income) FROM social_insurance GROUP BY district';
const DATASET = 'social_insurance';
const TARGET = 1.3;

function option(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i < 0 ? fallback : (args[i + 1] ?? fallback);
}

function quartiles(xs: readonly number[]): [number, number] {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))] ?? Number.NaN;
  return [at(0.25), at(0.75)];
}

function timeMedian(reps: number, f: () => void): number {
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

/** A CSV with exactly `rows` social-insurance records from the seed generator, cached. */
async function benchCsv(cache: string, rows: number, json: boolean): Promise<string> {
  const file = join(cache, `social_insurance-${rows}.csv`);
  if (existsSync(file)) return file;
  const tmp = join(cache, `gen-${rows}`);
  const bar = progressBar(`seeding ${rows.toLocaleString('en-US')} rows`, { json });
  // About 70 % of registered migrants appear in social-insurance records; ask for enough persons.
  let registrations = Math.ceil(rows / 0.65);
  for (;;) {
    rmSync(tmp, { recursive: true, force: true });
    const m = await generateScenario({
      scenario: 'sichuan',
      outDir: tmp,
      rows: registrations,
      seed: `bench-${rows}`,
      agencies: ['cd-hrss'],
      onProgress: (d, t) => bar.update(d, t, 'persons'),
    });
    const ds = m.agencies[0]?.datasets[DATASET];
    if (ds !== undefined && ds.rows >= rows) {
      await firstLines(join(tmp, ds.file), `${file}.part`, rows + 1);
      copyFileSync(`${file}.part`, file);
      rmSync(`${file}.part`);
      copyFileSync(join(tmp, m.schemaFile), join(cache, 'schema.json'));
      break;
    }
    registrations = Math.ceil(registrations * 1.3);
  }
  bar.done();
  rmSync(tmp, { recursive: true, force: true });
  return file;
}

async function firstLines(from: string, to: string, n: number): Promise<void> {
  const out = createWriteStream(to);
  let count = 0;
  for await (const line of createInterface({ input: createReadStream(from), crlfDelay: Infinity })) {
    if (count++ >= n) break;
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/**
 * Loads and validates the CSV into an agency's DuckDB file once, through `fedstat agency serve`
 * in its own process (so this process, the coordinator, never holds the data); `FILE.ok` marks a
 * complete load, and a file without it is rebuilt.
 */
async function ensureLoaded(
  db: string,
  csv: string,
  federationFile: string,
  keyFile: string,
  json: boolean,
): Promise<void> {
  if (existsSync(`${db}.ok`)) return;
  rmSync(db, { force: true });
  rmSync(`${db}.wal`, { force: true });
  const bar = progressBar(`loading ${csv} into ${db}`, { json });
  bar.update(0);
  const loader = await startAgencyProcess(
    {
      id: 'loader',
      federationFile,
      keyFile,
      db,
      datasets: { [DATASET]: csv },
      extraArgs: ['--port', '0'],
    },
    30 * 60_000,
  );
  await loader.stop();
  writeFileSync(`${db}.ok`, `${new Date().toISOString()}\n`);
  bar.done();
}

interface Local {
  scanMs: number;
  packMs: number;
  encryptOnlineMs: number;
  encryptOfflineMs: number;
  signMs: number;
  addMs: number;
  ciphertextBytes: number;
}

/** The agency- and coordinator-side costs of one contribution, measured in this process. */
async function localCosts(federation: Federation, dbFile: string, reps: number): Promise<Local> {
  const plan = parseQuery(SQL, federation.schema);
  const schema = datasetSchemaOf(federation, DATASET);
  const cells = planCells(plan, schema);
  using params = await HeParams.create(presetByName(federation.he.preset));
  const layout = planSlotLayout(cells.cellBounds, datasetParties(federation, DATASET).length, params);
  await using store = await openDuckDbStore(dbFile);
  let local = await store.aggregate(plan, schema);
  const scans: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    local = await store.aggregate(plan, schema);
    scans.push(performance.now() - t);
  }
  let slots = packSlots(layout, encodeCells(cells, local));
  const packMs = timeMedian(reps, () => {
    slots = packSlots(layout, encodeCells(cells, local));
  });
  using encryptor = new HeEncryptor(params, new Uint8Array(readFileSync(hePublicKeyPath(federation))));
  const first = slots[0] ?? new BigUint64Array(params.slotCount);
  let ct = encryptor.encrypt(first);
  const encryptOfflineMs = timeMedian(reps, () => {
    ct = encryptor.encrypt(first);
  });
  encryptor.precompute(reps);
  const encryptOnlineMs = timeMedian(reps, () => {
    ct = encryptor.encrypt(first);
  });
  const key = loadKeyFile(join(resolve(federation.file, '..'), 'keys', 'coordinator.key'), federation).signing
    .secretKey;
  const signMs = timeMedian(reps, () => {
    sign(new Uint8Array(32), key);
  });
  using acc = new HeAccumulator(params, 1);
  const addMs = timeMedian(reps, () => acc.add([ct]));
  return {
    scanMs: median(scans),
    packMs,
    encryptOnlineMs,
    encryptOfflineMs,
    signMs,
    addMs,
    ciphertextBytes: ct.length,
  };
}

interface SizeResult {
  rows: number;
  agencies: number;
  reps: number;
  plaintextMs: number;
  encryptedMs: number;
  ratio: number;
  /** Interquartile range of the per-run ratios (each encrypted run over the plaintext run before it). */
  ratioIqr: [number, number];
  plaintextGatherMs: number;
  encryptedGatherMs: number;
  decryptMs: number;
  /** Per mode: the coordinator's phases and the federation's CPU per query, medians. */
  stages: { plaintext: StageMedians; encrypted: StageMedians };
  local: Local;
  contributionBytes: { encrypted: number; plaintext: number };
  peakRss: { agencyMaxBytes: number; coordinatorBytes: number };
}

async function runSize(rows: number, agencyCount: number, reps: number, json: boolean): Promise<SizeResult> {
  const cache = join(packageRoot(), '.bench-cache', 'query');
  mkdirSync(cache, { recursive: true });
  const csv = await benchCsv(cache, rows, json);
  const run = join(cache, `run-${rows}`);
  rmSync(run, { recursive: true, force: true });
  const ids = Array.from({ length: agencyCount }, (_, i) => `agency-${i + 1}`);
  const ports = await freePorts(ids.length);
  const init = await initFederation({
    outDir: run,
    schema: readSchemaFile(join(cache, 'schema.json')),
    name: 'bench-query',
    agencies: ids.map((id, i) => ({ id, endpoint: `127.0.0.1:${ports[i]}` })),
    policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true },
  });
  const dbs = ids.map((id) => join(cache, `${rows}-${id}.duckdb`));
  for (const [i, db] of dbs.entries())
    await ensureLoaded(db, csv, init.federationFile, init.keyFiles[ids[i] ?? ''] ?? '', json);
  const procs: AgencyProcess[] = await startAgencyProcesses(
    ids.map((id, i) => ({
      id,
      federationFile: init.federationFile,
      keyFile: init.keyFiles[id] ?? '',
      db: dbs[i] ?? '',
      datasets: { [DATASET]: null },
      extraArgs: ['--allow-plaintext-benchmark'],
    })),
  );
  const encryptedRuns: TimedQuery[] = [];
  const plaintextRuns: TimedQuery[] = [];
  const pids = procs.map((p) => p.pid);
  let agencyRss: number[];
  let coordinatorRss: number;
  try {
    await using coordinator = await connectCoordinator({ federation: init.federation });
    await coordinator.query(SQL, { mode: 'plaintext', requireAll: true }); // warm-up: connections, JIT, caches
    await coordinator.query(SQL, { requireAll: true });
    const qbar = progressBar(`querying ${rows.toLocaleString('en-US')} rows × ${agencyCount}`, { json });
    for (let i = 0; i < reps; i++) {
      plaintextRuns.push(await timedQuery(pids, () => coordinator.query(SQL, { mode: 'plaintext', requireAll: true })));
      encryptedRuns.push(await timedQuery(pids, () => coordinator.query(SQL, { requireAll: true })));
      qbar.update(i + 1, reps);
    }
    qbar.done();
    const [e0, p0] = [encryptedRuns[0]?.result, plaintextRuns[0]?.result];
    if (e0 === undefined || p0 === undefined || compareRows(e0.rows, p0.rows) !== null) {
      throw new Error('encrypted and plaintext results differ');
    }
  } finally {
    agencyRss = procs.map((p) => p.peakRssBytes());
    coordinatorRss = process.resourceUsage().maxRSS * 1024; // before the in-process measurements below
    await Promise.all(procs.map((p) => p.stop()));
  }
  const encrypted = encryptedRuns.map((r) => r.result);
  const plaintext = plaintextRuns.map((r) => r.result);
  const local = await localCosts(init.federation, dbs[0] ?? '', Math.max(3, reps));
  const plaintextMs = median(plaintext.map((r) => r.timings.totalMs));
  const encryptedMs = median(encrypted.map((r) => r.timings.totalMs));
  const slots = encrypted[0]?.ciphertexts ?? 1;
  return {
    rows,
    agencies: agencyCount,
    reps,
    plaintextMs,
    encryptedMs,
    ratio: encryptedMs / plaintextMs,
    ratioIqr: quartiles(encrypted.map((e, i) => e.timings.totalMs / (plaintext[i]?.timings.totalMs ?? Number.NaN))),
    plaintextGatherMs: median(plaintext.map((r) => r.timings.gatherMs)),
    encryptedGatherMs: median(encrypted.map((r) => r.timings.gatherMs)),
    decryptMs: median(encrypted.map((r) => r.timings.decryptMs)),
    stages: { plaintext: stageMedians(plaintextRuns), encrypted: stageMedians(encryptedRuns) },
    local,
    contributionBytes: { encrypted: local.ciphertextBytes * slots, plaintext: slots * 8192 * 8 },
    peakRss: {
      agencyMaxBytes: Math.max(0, ...agencyRss),
      coordinatorBytes: coordinatorRss,
    },
  };
}

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const sizes = option(args, '--rows', '100000,1000000,10000000')
    .split(',')
    .map((s) => Number(s.replace(/_/g, '')));
  if (sizes.some((n) => !Number.isSafeInteger(n) || n < 1))
    throw new RangeError('--rows takes comma-separated positive integers');
  const reps = Number(option(args, '--reps', '5'));
  const agencyCount = Number(option(args, '--agencies', '5'));
  const results: SizeResult[] = [];
  for (const rows of sizes) {
    const r = await runSize(rows, agencyCount, reps, json);
    results.push(r);
    if (!json)
      process.stderr.write(
        `${rows.toLocaleString('en-US')} rows/agency: plaintext ${formatMs(r.plaintextMs)}, encrypted ${formatMs(r.encryptedMs)}, ratio ${r.ratio.toFixed(2)}\n`,
      );
  }
  const headline = results[results.length - 1];
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ benchmark: 'query', sql: SQL, target: TARGET, ratio: headline?.ratio ?? null, headlineRows: headline?.rows ?? null, sizes: results }, null, 2)}\n`,
    );
    return;
  }
  const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MB`;
  process.stdout.write(`${SQL}\n${agencyCount} agencies in separate processes; median of ${reps} runs per mode\n\n`);
  process.stdout.write(
    `${renderTable(
      [
        'rows/agency',
        'plaintext',
        'encrypted',
        'ratio',
        'per-run IQR',
        'target',
        'agency peak RSS',
        'coordinator peak RSS',
      ],
      results.map((r) => [
        r.rows.toLocaleString('en-US'),
        formatMs(r.plaintextMs),
        formatMs(r.encryptedMs),
        `${r.ratio.toFixed(2)}×`,
        `${r.ratioIqr[0].toFixed(2)}–${r.ratioIqr[1].toFixed(2)}×`,
        `≤ ${TARGET}×`,
        mb(r.peakRss.agencyMaxBytes),
        mb(r.peakRss.coordinatorBytes),
      ]),
      ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    )}\n\nwhere the time goes (encrypted query; agency-side costs measured on one agency's store in this process):\n\n`,
  );
  process.stdout.write(
    `${renderTable(
      [
        'rows/agency',
        'scan',
        'pack',
        'encrypt online',
        '(offline)',
        'sign',
        'gather',
        'verify+add ×' + String(agencyCount),
        'decrypt',
        'bytes/contribution',
      ],
      results.map((r) => [
        r.rows.toLocaleString('en-US'),
        formatMs(r.local.scanMs),
        formatMs(r.local.packMs),
        formatMs(r.local.encryptOnlineMs),
        formatMs(r.local.encryptOfflineMs),
        formatMs(r.local.signMs),
        formatMs(r.encryptedGatherMs),
        formatMs(r.local.addMs * agencyCount),
        formatMs(r.decryptMs),
        `${(r.contributionBytes.encrypted / 1024).toFixed(0)} KB vs ${(r.contributionBytes.plaintext / 1024).toFixed(0)} KB`,
      ]),
      Array(10).fill('right') as 'right'[],
    )}\n\nper stage (medians; the coordinator's phase timings of each query, and the CPU all processes spent on it):\n\n${renderStages(results)}\n`,
  );
}
