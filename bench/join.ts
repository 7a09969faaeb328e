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
import { formatMs, renderTable } from '../src/cli/table.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import type { LinkageReport } from '../src/coordinator/linkage-round.js';
import type { QueryResult, QueryTimings } from '../src/coordinator/query-types.js';
import { startAgencyProcess, startAgencyProcesses, type AgencyProcess } from '../src/demo/agency-processes.js';
import { freePorts } from '../src/demo/free-port.js';
import { initFederation, type InitResult } from '../src/federation/init.js';
import { loadKeyFile } from '../src/federation/key-file.js';
import { PlaintextJoin, type BaselineRun } from './shared/join-baseline.js';
import { BLINDING_TARGET, blindingBench, type BlindingBench } from './shared/join-blinding.js';
import {
  ANTI_SQL,
  AGENCIES_PER_SIDE,
  compareTotals,
  INNER_SQL,
  joinData,
  joinSchema,
  parseSize,
  releasedTotals,
  sizeLabel,
  type AgencyFiles,
  type GroupTotals,
  type JoinData,
  type JoinSize,
} from './shared/join-data.js';
import { PhaseClock, timedCoordinator, type PhaseTimes } from './shared/join-links.js';
import { median, positiveIntOption } from './shared/stats.js';

const QUERIES = { anti: ANTI_SQL, inner: INNER_SQL } as const;
type Kind = keyof typeof QUERIES;
/** Target: a cold 1M × 1M join in under 2 minutes on the 2-core machine. */
const COLD_TARGET_MS = 120_000;
const TARGET_SIZE = '1000000x1000000';
const DEFAULT_SIZES = '100000x100000,1000000x1000000';
/** Generous: a cold 10M-id side hashes for many minutes on two cores. */
const QUERY_DEADLINE_MS = 60 * 60_000;

function option(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i < 0 ? fallback : (args[i + 1] ?? fallback);
}

/** One query's run: wall time in this process, the coordinator's timings and linkage's phases. */
interface QueryRun {
  readonly wallMs: number;
  readonly timings: QueryTimings;
  readonly phases: PhaseTimes;
  readonly linkage: LinkageReport | null;
}

/** What an agency sends and receives for one query, in bytes. */
interface AgencyBytes {
  readonly agency: string;
  readonly ids: number;
  /** 32 bytes × ids × 3: its blinded set up, the other side's re-blinded chunks down and back. */
  readonly blindedSet: number;
  /** Ciphertexts it sends (encrypting side) or receives (multiplying side). */
  readonly ciphertexts: number;
  readonly baseline: number;
}

interface QueryMeasure {
  readonly kind: Kind;
  readonly sql: string;
  readonly cold: QueryRun;
  readonly warm: readonly QueryRun[];
  readonly warmMs: number;
  readonly baselineMs: number;
  readonly ratioCold: number;
  readonly ratioWarm: number;
  readonly bytes: readonly AgencyBytes[];
  readonly agencyPeakRssBytes: number;
}

interface SizeResult {
  readonly size: string;
  readonly ids: JoinSize;
  readonly shared: number;
  readonly queries: readonly QueryMeasure[];
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

const s = (ms: number): string => formatMs(ms);
const sizeText = (r: SizeResult): string => `${r.ids.a.toLocaleString('en-US')} × ${r.ids.b.toLocaleString('en-US')}`;
const kib = (b: number): string => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

function render(results: readonly SizeResult[], blinding: BlindingBench | null, reps: number): string {
  const out: string[] = [];
  if (results.length > 0) {
    out.push(
      `${ANTI_SQL}\n${INNER_SQL}\n2 agencies per side in separate processes, mTLS gRPC; cold = first query of fresh agencies, warm = median of ${reps}; baseline = plaintext ids over the same gRPC path, hash join here\n`,
      renderTable(
        ['ids a × b', 'shared', 'query', 'cold', 'warm', 'baseline', 'cold ×', 'warm ×', 'target', 'agency peak RSS'],
        results.flatMap((r) =>
          r.queries.map((q) => [
            sizeText(r),
            r.shared.toLocaleString('en-US'),
            q.kind,
            s(q.cold.wallMs),
            s(q.warmMs),
            s(q.baselineMs),
            `${q.ratioCold.toFixed(1)}×`,
            `${q.ratioWarm.toFixed(1)}×`,
            r.size === TARGET_SIZE ? `cold < ${s(COLD_TARGET_MS)}${q.cold.wallMs < COLD_TARGET_MS ? ' ✓' : ' ✗'}` : '',
            `${(q.agencyPeakRssBytes / 2 ** 20).toFixed(0)} MB`,
          ]),
        ),
        ['right', 'right', 'left', 'right', 'right', 'right', 'right', 'right', 'left', 'right'],
      ),
      '\nlinkage phases (coordinator side, first call to last answer over all agencies) and round 1:\n',
      renderTable(
        [
          'ids a × b',
          'query',
          'run',
          'start',
          'blind',
          're-blind',
          'encrypt',
          'load',
          'round 1',
          'after round 1',
          'total',
        ],
        results.flatMap((r) =>
          r.queries.flatMap((q) =>
            [
              ['cold', q.cold],
              ['warm', q.warm[q.warm.length - 1]],
            ].flatMap(([run, x]) => {
              const v = x as QueryRun | undefined;
              if (v === undefined) return [];
              const p = v.phases;
              const after = v.timings.unmaskMs + v.timings.decryptMs + v.timings.releaseMs;
              return [
                [
                  sizeText(r),
                  q.kind,
                  run as string,
                  ...[p.start, p.blind, p.reblind, p.encrypt, p.load, p.aggregate, after, v.wallMs].map(s),
                ],
              ];
            }),
          ),
        ),
        ['right', 'left', 'left', ...(Array(8).fill('right') as 'right'[])],
      ),
      '\nbytes per agency (blinded set = 32 × ids × 3; ciphertexts: sent by an encrypting agency, received by a multiplying one):\n',
      renderTable(
        ['ids a × b', 'query', 'agency', 'ids', 'blinded set', 'ciphertexts', 'fedstat total', 'baseline'],
        results.flatMap((r) =>
          r.queries.flatMap((q) =>
            q.bytes.map((b) => [
              sizeText(r),
              q.kind,
              b.agency,
              b.ids.toLocaleString('en-US'),
              kib(b.blindedSet),
              kib(b.ciphertexts),
              kib(b.blindedSet + b.ciphertexts),
              kib(b.baseline),
            ]),
          ),
        ),
        ['right', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
      ),
    );
  }
  if (blinding !== null) {
    out.push(
      `\nPSI primitives in this process, µs per element (median of ${blinding.reps} × ${blinding.elements.toLocaleString('en-US')}):\n`,
      renderTable(
        [
          'hashIds (RFC 9380)',
          'BlindingKey.blind',
          'noble ristretto255 multiply',
          'noble decode+multiply+encode',
          'blind / multiply',
          'blind / noble blinding',
          'target',
        ],
        [
          [
            blinding.hashIdsUs.toFixed(1),
            blinding.blindUs.toFixed(1),
            blinding.nobleMultiplyUs.toFixed(1),
            blinding.nobleBlindUs.toFixed(1),
            `${blinding.ratioMultiply.toFixed(2)}×`,
            `${blinding.ratioNobleBlind.toFixed(2)}×`,
            `≤ ${BLINDING_TARGET}×${blinding.ratioMultiply <= BLINDING_TARGET ? ' ✓' : ' ✗'}`,
          ],
        ],
        Array(7).fill('right') as 'right'[],
      ),
    );
  }
  return `${out.join('\n')}\n`;
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
  process.stdout.write(render(results, blinding, reps));
}
