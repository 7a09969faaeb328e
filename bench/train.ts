/**
 * Federated GLM training (Coordinator.train) against its two baselines, in the same run: the same
 * federation answering each Newton round over the plaintext benchmark path (agencies send their
 * packed slot vectors in the clear: no masks, no BFV, no second round), and the pooled fit in one
 * process (DuckDB computing each round's sums on one table of every agency's rows, the same Newton
 * code). Agencies are agency nodes in this process over real gRPC with mTLS, each with its own
 * DuckDB file (bench/shared/train-federation.ts); the coordinator keeps the transparency log.
 *
 *   npm run bench -- train [--json] [--only sizes,terms,agencies] [--reps N]
 *       [--rows 100000,1000000[,10000000]] [--terms 10,40,120] [--terms-rows N]
 *       [--agencies 5,16[,64]] [--agency-rows N]
 *
 * Sections: `sizes` (5 agencies × N rows, binomial, five terms, d = 9), `terms` (5 agencies,
 * d = 10, 40, 120; also 9), `agencies` (K agencies × fewer rows, d = 9). The largest sizes are
 * opt-in: 10M rows per agency, 64 agencies (tens of minutes on 2 cores). Every fit of every rep is checked
 * against the pooled fit (estimates and standard errors, 1e-6 relative). Headline `ratio`: the
 * encrypted round / the plaintext round at 5 agencies × 1M rows (target ≤ 1.3); `fitRatio`: the
 * encrypted fit / the pooled fit at the largest size measured (target ≤ 3 at 10M rows).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { progressBar, type Progress } from '../src/cli/progress.js';
import { formatInteger, formatMs, renderTable } from '../src/cli/table.js';
import type { TrainResult } from '../src/coordinator/train-types.js';
import { datasetSchemaOf } from '../src/federation/federation.js';
import { codeModel } from '../src/learn/design.js';
import { parseFormula } from '../src/learn/formula.js';
import { packageRoot } from '../src/util/package-root.js';
import { maxRelativeDifference, pooledSqlFit, type PooledFit } from './shared/pooled-sql-fit.js';
import { recordPhases, type RoundPhases } from './shared/round-phases.js';
import { median, positiveIntOption } from './shared/stats.js';
import { DATASET, FORMULAS } from './shared/train-data.js';
import { startTrainFederation, type TrainFederation } from './shared/train-federation.js';

const ROUND_TARGET = 1.3;
const FIT_TARGET = 3;
const CHECK = 1e-6;
/** A benchmark round may be slow; what is measured must not be cut off by the default 30 s. */
const DEADLINE_MS = 30 * 60_000;
const SECTIONS = ['sizes', 'terms', 'agencies'] as const;
type Section = (typeof SECTIONS)[number];
type ModelKey = keyof typeof FORMULAS;

interface Config {
  readonly section: Section;
  readonly agencies: number;
  readonly rows: number;
  readonly model: ModelKey;
}

/** One kind of fit over the reps: the fit's wall time, its rounds, and its rounds after the first. */
interface FitTimes {
  readonly fitMs: number;
  readonly rounds: number;
  readonly roundMs: number;
}

/** A federated kind of fit: its times, and the median of each phase over its rounds after the first. */
interface FederatedTimes extends FitTimes {
  readonly phases: RoundPhases;
}

/** A federated fit as run: its result, wall time and the phases of its rounds. */
interface TimedFit {
  readonly result: TrainResult;
  readonly ms: number;
  readonly phases: readonly RoundPhases[];
}

interface Measured extends Config {
  readonly d: number;
  readonly plaintext: FederatedTimes;
  readonly encrypted: FederatedTimes;
  readonly pooled: FitTimes;
  /** Encrypted / plaintext round (medians of the rounds after the first). */
  readonly roundRatio: number;
  /** The least and the largest per-rep round ratio. */
  readonly roundRatioRange: readonly [number, number];
  /** Encrypted fit / pooled fit (medians of wall time). */
  readonly fitRatio: number;
  /** Largest relative difference from the pooled fit over every federated fit. */
  readonly check: { readonly estimate: number; readonly stderr: number; readonly ok: boolean };
  readonly loadMs: number;
  readonly pooledLoadMs: number;
  /** This process's peak RSS once the configuration ran (agencies, coordinator and DuckDB together). */
  readonly peakRssBytes: number;
}

function listOption(args: readonly string[], name: string, fallback: readonly number[]): number[] {
  const i = args.indexOf(name);
  if (i < 0) return [...fallback];
  const xs = (args[i + 1] ?? '').split(',').map((s) => Number(s.replace(/_/g, '')));
  if (xs.length === 0 || xs.some((n) => !Number.isSafeInteger(n) || n < 1))
    throw new RangeError(`${name} takes comma-separated positive integers`);
  return xs;
}

function configs(args: readonly string[]): Config[] {
  const i = args.indexOf('--only');
  const only = i < 0 ? [...SECTIONS] : (args[i + 1] ?? '').split(',');
  for (const s of only)
    if (!(SECTIONS as readonly string[]).includes(s)) throw new RangeError(`--only takes ${SECTIONS.join(',')}`);
  const out: Config[] = [];
  if (only.includes('sizes'))
    for (const rows of listOption(args, '--rows', [100_000, 1_000_000]))
      out.push({ section: 'sizes', agencies: 5, rows, model: 9 });
  if (only.includes('terms')) {
    const rows = positiveIntOption(args, '--terms-rows', 100_000);
    for (const d of listOption(args, '--terms', [10, 40, 120])) {
      if (!(d in FORMULAS)) throw new RangeError(`--terms takes ${Object.keys(FORMULAS).join(',')}`);
      out.push({ section: 'terms', agencies: 5, rows, model: d as ModelKey });
    }
  }
  if (only.includes('agencies')) {
    const rows = positiveIntOption(args, '--agency-rows', 20_000);
    for (const k of listOption(args, '--agencies', [5, 16]))
      out.push({ section: 'agencies', agencies: k, rows, model: 9 });
  }
  return out;
}

/** The rounds after the first (the first of a fit pays for whatever was cold), or the one there is. */
const laterRounds = <T>(xs: readonly T[]): T[] => (xs.length > 1 ? xs.slice(1) : [...xs]);

function federatedTimes(fits: readonly TimedFit[]): FederatedTimes {
  const phases = fits.flatMap((f) => laterRounds(f.phases));
  const phase = (k: keyof RoundPhases): number => median(phases.map((p) => p[k]));
  return {
    fitMs: median(fits.map((f) => f.ms)),
    rounds: median(fits.map((f) => f.result.rounds.length)),
    roundMs: median(fits.flatMap((f) => laterRounds(f.result.rounds.map((r) => r.ms)))),
    phases: {
      beforeAskMs: phase('beforeAskMs'),
      gatherMs: phase('gatherMs'),
      finishMs: phase('finishMs'),
      unmaskMs: phase('unmaskMs'),
    },
  };
}

async function timedFit(
  fed: TrainFederation,
  formula: string,
  mode: 'plaintext' | 'encrypted',
  maxRounds?: number,
): Promise<TimedFit> {
  const recorder = recordPhases();
  const t = performance.now();
  const result = await fed.coordinator.train(
    { dataset: DATASET, family: 'binomial', formula, ...(maxRounds === undefined ? {} : { maxRounds }) },
    { mode, deadlineMs: DEADLINE_MS, onProgress: recorder.onProgress, onRound: recorder.onRound },
  );
  return { result, ms: performance.now() - t, phases: recorder.rounds };
}

/** Every rep's fits of one configuration, and how far the federated ones are from the pooled one. */
interface Runs {
  readonly plain: readonly TimedFit[];
  readonly enc: readonly TimedFit[];
  readonly pooled: readonly PooledFit[];
  readonly check: { readonly estimate: number; readonly stderr: number };
}

/** Warm-up (3 rounds of each kind), then `reps` × (plaintext, encrypted, pooled), each fit checked. */
async function runFits(fed: TrainFederation, c: Config, reps: number, bar: Progress): Promise<Runs & { d: number }> {
  const schema = datasetSchemaOf(fed.federation, DATASET);
  const formula = FORMULAS[c.model];
  const coding = codeModel(parseFormula(formula, schema, DATASET), schema, 'binomial', DATASET);
  await timedFit(fed, formula, 'plaintext', 3);
  await timedFit(fed, formula, 'encrypted', 3);
  await pooledSqlFit(fed.pooled.conn, coding, schema, 3);
  bar.update(1, reps + 1, 'warm');
  const runs = { plain: [] as TimedFit[], enc: [] as TimedFit[], pooled: [] as PooledFit[] };
  const check = { estimate: 0, stderr: 0 };
  for (let r = 0; r < reps; r++) {
    const plain = await timedFit(fed, formula, 'plaintext');
    const enc = await timedFit(fed, formula, 'encrypted');
    const pooled = await pooledSqlFit(fed.pooled.conn, coding, schema);
    for (const f of [plain, enc]) {
      const diff = maxRelativeDifference(f.result.model, pooled.table);
      check.estimate = Math.max(check.estimate, diff.estimate);
      check.stderr = Math.max(check.stderr, diff.stderr);
    }
    runs.plain.push(plain);
    runs.enc.push(enc);
    runs.pooled.push(pooled);
    bar.update(r + 2, reps + 1, `rep ${r + 1}`);
  }
  return { ...runs, check, d: coding.columns.length };
}

const roundMedian = (f: TimedFit | undefined): number => median(laterRounds((f?.result.rounds ?? []).map((r) => r.ms)));

/** One configuration's numbers from its fits. */
function summarize(c: Config, fed: TrainFederation, runs: Runs & { d: number }): Measured {
  const plaintext = federatedTimes(runs.plain);
  const encrypted = federatedTimes(runs.enc);
  const perRep = runs.enc.map((e, i) => roundMedian(e) / roundMedian(runs.plain[i]));
  const pooled: FitTimes = {
    fitMs: median(runs.pooled.map((p) => p.ms)),
    rounds: median(runs.pooled.map((p) => p.roundMs.length)),
    roundMs: median(runs.pooled.flatMap((p) => laterRounds(p.roundMs))),
  };
  return {
    ...c,
    d: runs.d,
    plaintext,
    encrypted,
    pooled,
    roundRatio: encrypted.roundMs / plaintext.roundMs,
    roundRatioRange: [Math.min(...perRep), Math.max(...perRep)],
    fitRatio: encrypted.fitMs / pooled.fitMs,
    check: { ...runs.check, ok: runs.check.estimate <= CHECK && runs.check.stderr <= CHECK },
    loadMs: fed.loadMs,
    pooledLoadMs: fed.pooledLoadMs,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

/** Builds the configuration's federation, runs its fits, and tears it down. */
async function measure(c: Config, reps: number, json: boolean): Promise<Measured> {
  const bar = progressBar(`train ${c.agencies} × ${formatInteger(c.rows)} rows, d = ${c.model}`, {
    json,
    total: reps + 1,
  });
  bar.update(0, reps + 1, 'loading');
  const fed = await startTrainFederation(join(packageRoot(), '.bench-cache', 'train', 'run'), c.agencies, c.rows);
  try {
    const runs = await runFits(fed, c, reps, bar);
    bar.done();
    return summarize(c, fed, runs);
  } finally {
    await fed.close();
  }
}

/** The headlines: the round ratio at 5 × 1M (else the largest size), the fit ratio at the largest size. */
function headlines(results: readonly Measured[]): { round: Measured | null; fit: Measured | null } {
  const sizes = results.filter((r) => r.section === 'sizes').sort((a, b) => a.rows - b.rows);
  const round = sizes.find((r) => r.rows === 1_000_000) ?? sizes.at(-1) ?? results[0] ?? null;
  return { round, fit: sizes.at(-1) ?? null };
}

const sci = (x: number): string => (x === 0 ? '0' : x.toExponential(1));
const mb = (b: number): string => `${formatInteger(Math.round(b / 2 ** 20))} MB`;
const where = (r: Measured): string[] => [r.section, String(r.agencies), formatInteger(r.rows), String(r.d)];

function report(results: readonly Measured[], reps: number, load: readonly number[]): string {
  const right = (n: number): 'right'[] => Array(n).fill('right') as 'right'[];
  const rounds = renderTable(
    [
      'section',
      'agencies',
      'rows/agency',
      'd',
      'plaintext round',
      'encrypted round',
      'ratio',
      'per-rep',
      'pooled round',
    ],
    results.map((r) => [
      ...where(r),
      formatMs(r.plaintext.roundMs),
      formatMs(r.encrypted.roundMs),
      `${r.roundRatio.toFixed(2)}×`,
      `${r.roundRatioRange[0].toFixed(2)}–${r.roundRatioRange[1].toFixed(2)}×`,
      formatMs(r.pooled.roundMs),
    ]),
    ['left', ...right(8)],
  );
  const fits = renderTable(
    [
      'section',
      'agencies',
      'rows/agency',
      'd',
      'rounds fed/pooled',
      'encrypted fit',
      'plaintext fit',
      'pooled fit',
      'encrypted/pooled',
      'max rel. diff β / se',
      'load',
      'peak RSS',
    ],
    results.map((r) => [
      ...where(r),
      `${r.encrypted.rounds}/${r.pooled.rounds}`,
      formatMs(r.encrypted.fitMs),
      formatMs(r.plaintext.fitMs),
      formatMs(r.pooled.fitMs),
      `${r.fitRatio.toFixed(2)}×`,
      `${sci(r.check.estimate)} / ${sci(r.check.stderr)} ${r.check.ok ? 'ok' : 'FAIL'}`,
      `${formatMs(r.loadMs)} + ${formatMs(r.pooledLoadMs)}`,
      mb(r.peakRssBytes),
    ]),
    ['left', ...right(11)],
  );
  const pair = (r: Measured, k: keyof RoundPhases): string =>
    `${formatMs(r.plaintext.phases[k])} / ${formatMs(r.encrypted.phases[k])}`;
  const phases = renderTable(
    ['section', 'agencies', 'rows/agency', 'd', 'before asking', 'gathering', 'finishing', 'of which unmask'],
    results.map((r) => [
      ...where(r),
      pair(r, 'beforeAskMs'),
      pair(r, 'gatherMs'),
      pair(r, 'finishMs'),
      formatMs(r.encrypted.phases.unmaskMs),
    ]),
    ['left', ...right(7)],
  );
  const h = headlines(results);
  const lines = [
    `binomial fits of ${DATASET}, agencies in this process over gRPC + mTLS; median of ${reps} reps per kind; load average ${load.map((x) => x.toFixed(1)).join(' → ')}`,
    '',
    'one Newton round (median over the rounds after the first of every fit):',
    '',
    rounds,
    '',
    'the fitted model (wall time of a whole fit; load = agencies\u2019 files + pooled table):',
    '',
    fits,
    '',
    'where a round goes, plaintext / encrypted (medians; see bench/shared/round-phases.ts):',
    '',
    phases,
    '',
  ];
  if (h.round !== null)
    lines.push(
      `round: encrypted / plaintext at ${h.round.agencies} × ${formatInteger(h.round.rows)} = ${h.round.roundRatio.toFixed(2)} (target ≤ ${ROUND_TARGET})`,
    );
  if (h.fit !== null)
    lines.push(
      `fit: encrypted / pooled at ${h.fit.agencies} × ${formatInteger(h.fit.rows)} = ${h.fit.fitRatio.toFixed(2)} (target ≤ ${FIT_TARGET} at 10,000,000)`,
    );
  const bad = results.filter((r) => !r.check.ok);
  lines.push(
    bad.length === 0
      ? `every federated fit equals the pooled fit to ${CHECK} relative (estimates and standard errors)`
      : `FAIL: ${bad.length} configuration(s) differ from the pooled fit by more than ${CHECK} relative`,
  );
  return `${lines.join('\n')}\n`;
}

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const reps = positiveIntOption(args, '--reps', 3);
  const todo = configs(args);
  const load = [loadavg()[0] ?? 0];
  const results: Measured[] = [];
  for (const c of todo) {
    const r = await measure(c, reps, json);
    results.push(r);
    if (!json)
      process.stderr.write(
        `${r.section} ${r.agencies} × ${formatInteger(r.rows)}, d ${r.d}: round ${r.roundRatio.toFixed(2)}×, fit/pooled ${r.fitRatio.toFixed(2)}×, check ${r.check.ok ? 'ok' : 'FAIL'}\n`,
      );
  }
  load.push(loadavg()[0] ?? 0);
  const h = headlines(results);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'train',
        ratio: h.round?.roundRatio ?? null,
        ratioMeaning: 'encrypted round / plaintext round, median of the rounds after the first',
        target: ROUND_TARGET,
        fitRatio: h.fit?.fitRatio ?? null,
        fitTarget: FIT_TARGET,
        reps,
        loadAverage: load,
        results,
      })}\n`,
    );
    return;
  }
  process.stdout.write(report(results, reps, load));
  if (results.some((r) => !r.check.ok)) process.exitCode = 1;
}
