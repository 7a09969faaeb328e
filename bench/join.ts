/**
 * Queries over linked records (issue 16) against the same join done in plaintext: 2 agencies per
 * side, each its own `fedstat agency serve` process with its own DuckDB file, real mTLS gRPC on
 * 127.0.0.1, the coordinator in this process. For each size the anti-join and the inner join run
 * exact, each checked against the plaintext truth: first on freshly started agencies (cold: they
 * hash every id to the PSI group), then again (warm: the hashes are cached). The baseline streams
 * the same ids in plaintext over the same gRPC path to a hash join here (shared/join-baseline.ts).
 * A micro-benchmark compares BlindingKey.blind with @noble/curves' ristretto255.
 *
 *   npm run bench -- join [--json] [--sizes 100000x100000,1000000x1000000,10000000x1000000]
 *                         [--reps N] [--blind-elements N] [--only joins,blinding]
 *
 * Data (shared/join-data.ts) is generated once and, with the agencies' DuckDB files, cached under
 * .bench-cache/join/AxB/.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatMs } from '../src/cli/table.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import type { LinkageReport } from '../src/coordinator/linkage-round.js';
import type { QueryResult } from '../src/coordinator/query-types.js';
import { startAgencyProcess, startAgencyProcesses, type AgencyProcess } from '../src/demo/agency-processes.js';
import { freePorts } from '../src/demo/free-port.js';
import { initFederation, type InitResult } from '../src/federation/init.js';
import { loadKeyFile } from '../src/federation/key-file.js';
import { PlaintextJoin, type BaselineRun } from './shared/join-baseline.js';
import { BLINDING_TARGET, blindingBench } from './shared/join-blinding.js';
import {
  AGENCIES_PER_SIDE,
  compareTotals,
  JOIN_QUERIES as QUERIES,
  joinData,
  joinSchema,
  parseSize,
  releasedTotals,
  sizeLabel,
  type AgencyFiles,
  type GroupTotals,
  type JoinData,
  type JoinKind as Kind,
  type JoinSize,
} from './shared/join-data.js';
import { PhaseClock, timedCoordinator } from './shared/join-links.js';
import {
  COLD_TARGET_MS,
  renderJoin,
  TARGET_SIZE,
  type AgencyBytes,
  type QueryMeasure,
  type QueryRun,
  type SizeResult,
} from './shared/join-report.js';
import { median, positiveIntOption } from './shared/stats.js';

const DEFAULT_SIZES = '100000x100000,1000000x1000000';
/** Generous: a cold 10M-id side hashes for many minutes on two cores. */
const QUERY_DEADLINE_MS = 60 * 60_000;

function option(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i < 0 ? fallback : (args[i + 1] ?? fallback);
}

/** Loads an agency's CSV into its DuckDB file once, through `fedstat agency serve` (FILE.ok marks it done). */
async function ensureLoaded(init: InitResult, files: AgencyFiles, note: (s: string) => void): Promise<void> {
  if (existsSync(`${files.db}.ok`)) return;
  rmSync(files.db, { force: true });
  rmSync(`${files.db}.wal`, { force: true });
  note(`loading ${files.rows.toLocaleString('en-US')} rows into ${files.db}`);
  const loader = await startAgencyProcess(
    {
      id: files.id,
      federationFile: init.federationFile,
      keyFile: init.keyFiles[files.id] ?? '',
      db: files.db,
      datasets: { [files.side]: files.csv },
      extraArgs: ['--port', '0'],
    },
    60 * 60_000,
  );
  await loader.stop();
  writeFileSync(`${files.db}.ok`, `${new Date().toISOString()}\n`);
}

function check(kind: Kind, what: string, actual: GroupTotals, truth: GroupTotals): void {
  const diff = compareTotals(actual, truth);
  if (diff !== null) throw new Error(`${what} ${kind} join differs from the plaintext truth: ${diff}`);
}

async function runQuery(
  coordinator: Coordinator,
  clock: PhaseClock,
  kind: Kind,
  truth: GroupTotals,
): Promise<QueryRun> {
  clock.reset();
  const t = performance.now();
  const r: QueryResult = await coordinator.query(QUERIES[kind], { requireAll: true, deadlineMs: QUERY_DEADLINE_MS });
  const wallMs = performance.now() - t;
  check(kind, 'fedstat', releasedTotals(r.columns, r.rows), truth);
  return { wallMs, timings: r.timings, phases: clock.times(), linkage: r.linkage ?? null };
}

/** Fresh agencies for `kind`: one cold query, then `reps` warm ones. */
async function fedstatRuns(
  init: InitResult,
  data: JoinData,
  kind: Kind,
  reps: number,
  note: (s: string) => void,
): Promise<{ cold: QueryRun; warm: QueryRun[]; peakRss: number }> {
  const procs: AgencyProcess[] = await startAgencyProcesses(
    data.agencies.map((f) => ({
      id: f.id,
      federationFile: init.federationFile,
      keyFile: init.keyFiles[f.id] ?? '',
      db: f.db,
      datasets: { [f.side]: null },
    })),
  );
  try {
    const clock = new PhaseClock();
    await using coordinator = await timedCoordinator(init.federation, clock);
    note(`${kind} join, cold`);
    const cold = await runQuery(coordinator, clock, kind, data.truth[kind]);
    note(`${kind} join, cold: ${formatMs(cold.wallMs)}`);
    const warm: QueryRun[] = [];
    for (let i = 0; i < reps; i++) {
      warm.push(await runQuery(coordinator, clock, kind, data.truth[kind]));
      note(`${kind} join, warm ${i + 1}/${reps}: ${formatMs(warm[warm.length - 1]?.wallMs ?? 0)}`);
    }
    return { cold, warm, peakRss: Math.max(0, ...procs.map((p) => p.peakRssBytes())) };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

/** The baseline's median of `reps` runs after one warm-up, every run checked. */
async function baselineRuns(
  baseline: PlaintextJoin,
  kind: Kind,
  truth: GroupTotals,
  reps: number,
): Promise<{ ms: number; last: BaselineRun }> {
  const once = async (): Promise<{ ms: number; run: BaselineRun }> => {
    const t = performance.now();
    const run = kind === 'anti' ? await baseline.anti() : await baseline.inner();
    const ms = performance.now() - t;
    check(kind, 'baseline', run.totals, truth);
    return { ms, run };
  };
  let last = (await once()).run;
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const r = await once();
    times.push(r.ms);
    last = r.run;
  }
  return { ms: median(times), last };
}

function agencyBytes(linkage: LinkageReport | null, baseline: BaselineRun, data: JoinData): AgencyBytes[] {
  return data.agencies.map((f) => {
    const side = f.side === 'a' ? 'left' : 'right';
    const s = linkage?.sides[side];
    const ids = s?.elements[f.id] ?? f.rows;
    const linked = Math.max(1, s?.linked.length ?? AGENCIES_PER_SIDE);
    const ct = linkage === null ? 0 : linkage.encrypting === side ? linkage.bytes.encrypted : linkage.bytes.loaded;
    return {
      agency: f.id,
      ids,
      blindedSet: 32 * ids * 3,
      ciphertexts: ct / linked,
      baseline: baseline.bytes[f.id] ?? 0,
    };
  });
}

async function runSize(size: JoinSize, reps: number, json: boolean): Promise<SizeResult> {
  const label = sizeLabel(size);
  const note = (s: string): void => {
    if (!json) process.stderr.write(`[${label}] ${s}\n`);
  };
  const data = await joinData(size, note);
  const run = join(data.dir, 'run');
  rmSync(run, { recursive: true, force: true });
  const ports = await freePorts(data.agencies.length);
  const init = await initFederation({
    outDir: run,
    schema: joinSchema(size),
    name: 'bench-join',
    agencies: data.agencies.map((f, i) => ({ id: f.id, endpoint: `127.0.0.1:${ports[i]}`, datasets: [f.side] })),
    policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true, transparencyLog: false },
  });
  for (const f of data.agencies) await ensureLoaded(init, f, note);
  const fedstat = new Map<Kind, Awaited<ReturnType<typeof fedstatRuns>>>();
  for (const kind of ['anti', 'inner'] as const) fedstat.set(kind, await fedstatRuns(init, data, kind, reps, note));
  note('plaintext baseline');
  const coordinatorSecrets = loadKeyFile(init.keyFiles['coordinator'] ?? '', init.federation);
  await using baseline = await PlaintextJoin.start(
    init.federation,
    coordinatorSecrets,
    data.agencies.map((files) => ({ files, keyFile: init.keyFiles[files.id] ?? '' })),
  );
  const queries: QueryMeasure[] = [];
  for (const kind of ['anti', 'inner'] as const) {
    const f = fedstat.get(kind);
    if (f === undefined) throw new Error(`no ${kind} runs`);
    const b = await baselineRuns(baseline, kind, data.truth[kind], Math.max(3, reps));
    const warmMs = median(f.warm.map((w) => w.wallMs));
    note(`${kind}: baseline ${formatMs(b.ms)}`);
    queries.push({
      kind,
      sql: QUERIES[kind],
      cold: f.cold,
      warm: f.warm,
      warmMs,
      baselineMs: b.ms,
      ratioCold: f.cold.wallMs / b.ms,
      ratioWarm: warmMs / b.ms,
      bytes: agencyBytes(f.cold.linkage, b.last, data),
      agencyPeakRssBytes: f.peakRss,
    });
  }
  return { size: label, ids: size, shared: data.shared, queries };
}

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const sizes = option(args, '--sizes', DEFAULT_SIZES).split(',').map(parseSize);
  const reps = positiveIntOption(args, '--reps', 1);
  const elements = positiveIntOption(args, '--blind-elements', 2000);
  const only = option(args, '--only', 'joins,blinding').split(',');
  if (only.some((o) => o !== 'joins' && o !== 'blinding')) throw new RangeError('--only takes joins, blinding or both');
  const results: SizeResult[] = [];
  if (only.includes('joins')) for (const size of sizes) results.push(await runSize(size, reps, json));
  const blinding = only.includes('blinding') ? blindingBench(elements, 5) : null;
  // Headline: the warm inner join over its baseline at the largest size run.
  const headline = results[results.length - 1]?.queries.find((q) => q.kind === 'inner');
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'join',
          queries: QUERIES,
          ratio: headline?.ratioWarm ?? blinding?.ratioMultiply ?? null,
          ratioOf:
            headline === undefined ? 'blind / noble multiply' : 'warm inner join / plaintext baseline, largest size',
          targets: { coldMs: { size: TARGET_SIZE, ms: COLD_TARGET_MS }, blindOverNobleMultiply: BLINDING_TARGET },
          sizes: results,
          blinding,
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  process.stdout.write(renderJoin(results, blinding, reps));
}
