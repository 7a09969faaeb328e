/**
 * Federated averaging (Coordinator.trainNetwork, issue 14), three sections in one run:
 *
 * - `round`: the protected round (masks, BFV, the agencies' Skellam noise, the transparency log)
 *   against the same round over the plaintext benchmark path (agencies send their slot vectors in
 *   the clear: no masks, no BFV, no unmasking round), same federation, same run: 5 agencies as
 *   gRPC nodes over mTLS in this process (bench/shared/train-federation.ts), the ~10k-parameter
 *   MLP, exact and DP (ρ per round that of a 20-round run at ρ = 1: 0.05 per round). Headline
 *   `ratio`: encrypted / plaintext round, exact; target ≤ 1.3 (the DP ratio is printed beside it).
 * - `scale`: bytes per agency and the coordinator's own time per protected round against the
 *   parameters (1k, 10k, 100k) and the agencies (5, 16, 64), in-process agencies behind links that
 *   count the protobuf bytes (bench/shared/fedavg-scale.ts). Refusals are reported, not skipped.
 * - `throughput`: local training examples/s of the built-in MLP, exact SGD and DP per-example
 *   clipping (bench/shared/fedavg-throughput.ts).
 *
 *   npm run bench -- fedavg [--json] [--only round,scale,throughput] [--reps N] [--rounds R]
 *       [--rows N] [--scale-rows N] [--agencies 5,16,64] [--sizes 1k,10k,100k] [--examples N]
 *
 * Fast defaults; FEDSTAT_BENCH_FULL=1 selects the full sizes (20,000 rows per agency in `round`,
 * 64 agencies and 1,000 rows per agency in `scale`, 20,000 examples in `throughput`).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { formatInteger, formatMs, renderTable } from '../src/cli/table.js';
import { packageRoot } from '../src/util/package-root.js';
import { FEDAVG_FORMULA, FULL, intListOption, parameterCount, SHAPES, sizeListOption } from './shared/fedavg-shapes.js';
import { measureScale, type ScaleCell } from './shared/fedavg-scale.js';
import { measureThroughput, type Throughput } from './shared/fedavg-throughput.js';
import { recordPhases, type RoundPhases } from './shared/round-phases.js';
import { median, positiveIntOption } from './shared/stats.js';
import { DATASET } from './shared/train-data.js';
import { startTrainFederation, type TrainFederation } from './shared/train-federation.js';

const TARGET = 1.3;
const ROUND_SIZE = '10k';
/** ρ per round of a realistic run, in hundredths: ρ = 1 over 19 training rounds and the evaluation round. */
const RHO_PER_ROUND_PERCENT = 5;
const SECTIONS = ['round', 'scale', 'throughput'] as const;
type Section = (typeof SECTIONS)[number];

/** One privacy setting of the `round` section: both modes' rounds and where the time goes. */
interface RoundResult {
  readonly privacy: 'exact' | 'dp';
  readonly agencies: number;
  readonly rows: number;
  readonly parameters: number;
  readonly plaintextMs: number;
  readonly encryptedMs: number;
  readonly ratio: number;
  readonly ratioRange: readonly [number, number];
  readonly phases: { readonly plaintext: RoundPhases; readonly encrypted: RoundPhases };
}

function sections(args: readonly string[]): Section[] {
  const i = args.indexOf('--only');
  const only = i < 0 ? [...SECTIONS] : (args[i + 1] ?? '').split(',');
  for (const s of only)
    if (!(SECTIONS as readonly string[]).includes(s)) throw new RangeError(`--only takes ${SECTIONS.join(',')}`);
  return only as Section[];
}

/** One run of `rounds` training rounds; the training rounds' lengths and phases after the first. */
async function timedRun(
  fed: TrainFederation,
  mode: 'plaintext' | 'encrypted',
  dp: boolean,
  rounds: number,
): Promise<{ ms: number[]; phases: RoundPhases[] }> {
  const recorder = recordPhases();
  const ms: number[] = [];
  // Validation on, as a real run has it: its evaluation round comes last and is not counted.
  const rho = `${RHO_PER_ROUND_PERCENT * (rounds + 1)}/100`;
  await fed.coordinator.trainNetwork(
    { dataset: DATASET, family: 'binomial', formula: FEDAVG_FORMULA, hidden: SHAPES[ROUND_SIZE], rounds },
    {
      mode,
      deadlineMs: 30 * 60_000,
      retries: 0,
      ...(dp ? { privacy: { rho } } : {}),
      onProgress: recorder.onProgress,
      onRound: (_point, roundMs) => {
        ms.push(roundMs);
        recorder.onRound({ ms: roundMs });
      },
    },
  );
  return { ms: ms.slice(1, rounds), phases: recorder.rounds.slice(1, rounds) };
}

function phaseMedians(xs: readonly RoundPhases[]): RoundPhases {
  const m = (k: keyof RoundPhases): number => median(xs.map((p) => p[k]));
  return { beforeAskMs: m('beforeAskMs'), gatherMs: m('gatherMs'), finishMs: m('finishMs'), unmaskMs: m('unmaskMs') };
}

/** The `round` section: a warm-up round of each kind, then `reps` × (plaintext, encrypted) runs, exact then DP. */
async function measureRounds(rows: number, rounds: number, reps: number): Promise<RoundResult[]> {
  const agencies = 5;
  const fed = await startTrainFederation(join(packageRoot(), '.bench-cache', 'fedavg', 'round'), agencies, rows, {
    budget: '1000000',
  });
  try {
    const out: RoundResult[] = [];
    for (const dp of [false, true]) {
      await timedRun(fed, 'plaintext', dp, 2);
      await timedRun(fed, 'encrypted', dp, 2);
      const plain: { ms: number[]; phases: RoundPhases[] }[] = [];
      const enc: { ms: number[]; phases: RoundPhases[] }[] = [];
      for (let r = 0; r < reps; r++) {
        plain.push(await timedRun(fed, 'plaintext', dp, rounds));
        enc.push(await timedRun(fed, 'encrypted', dp, rounds));
        process.stderr.write(`round ${dp ? 'dp' : 'exact'}: rep ${r + 1}/${reps}\n`);
      }
      const perRep = enc.map((e, i) => median(e.ms) / median(plain[i]?.ms ?? []));
      const plaintextMs = median(plain.flatMap((p) => p.ms));
      const encryptedMs = median(enc.flatMap((p) => p.ms));
      out.push({
        privacy: dp ? 'dp' : 'exact',
        agencies,
        rows,
        parameters: parameterCount(ROUND_SIZE),
        plaintextMs,
        encryptedMs,
        ratio: encryptedMs / plaintextMs,
        ratioRange: [Math.min(...perRep), Math.max(...perRep)],
        phases: {
          plaintext: phaseMedians(plain.flatMap((p) => p.phases)),
          encrypted: phaseMedians(enc.flatMap((p) => p.phases)),
        },
      });
    }
    return out;
  } finally {
    await fed.close();
  }
}

const kib = (b: number): string => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const right = (n: number): 'right'[] => Array(n).fill('right') as 'right'[];

function roundTable(rs: readonly RoundResult[]): string {
  const pair = (r: RoundResult, k: keyof RoundPhases): string =>
    `${formatMs(r.phases.plaintext[k])} / ${formatMs(r.phases.encrypted[k])}`;
  return renderTable(
    [
      'privacy',
      'agencies',
      'rows/agency',
      'params',
      'plaintext',
      'protected',
      'ratio',
      'per-rep',
      'before ask p/e',
      'gather p/e',
      'finish p/e',
    ],
    rs.map((r) => [
      r.privacy,
      String(r.agencies),
      formatInteger(r.rows),
      formatInteger(r.parameters),
      formatMs(r.plaintextMs),
      formatMs(r.encryptedMs),
      `${r.ratio.toFixed(2)}×`,
      `${r.ratioRange[0].toFixed(2)}–${r.ratioRange[1].toFixed(2)}×`,
      pair(r, 'beforeAskMs'),
      pair(r, 'gatherMs'),
      pair(r, 'finishMs'),
    ]),
    ['left', ...right(10)],
  );
}

function scaleTable(cs: readonly ScaleCell[]): string {
  return renderTable(
    ['agencies', 'size', 'params', 'rows/agency', 'up/agency', 'down/agency', 'coordinator', 'agency (each)', 'round'],
    cs.map((c) => {
      const head = [String(c.agencies), c.size, formatInteger(c.parameters), formatInteger(c.rows)];
      if (c.measured === null) return [...head, `refused: ${c.refused?.code ?? ''}`, '', '', '', ''];
      const m = c.measured;
      return [
        ...head,
        kib(m.bytesUpPerAgency),
        kib(m.bytesDownPerAgency),
        formatMs(m.coordinatorMs),
        formatMs(m.agencyMs),
        formatMs(m.roundMs),
      ];
    }),
    ['right', 'left', ...right(7)],
  );
}

function throughputTable(ts: readonly Throughput[]): string {
  return renderTable(
    ['size', 'params', 'examples', 'exact SGD ex/s', 'DP clip ex/s', 'DP / exact'],
    ts.map((t) => [
      t.size,
      formatInteger(t.parameters),
      formatInteger(t.examples),
      formatInteger(Math.round(t.exactPerSecond)),
      formatInteger(Math.round(t.dpPerSecond)),
      `${(t.dpPerSecond / t.exactPerSecond).toFixed(2)}×`,
    ]),
    ['left', ...right(5)],
  );
}

function report(
  rounds: readonly RoundResult[],
  scale: readonly ScaleCell[],
  throughput: readonly Throughput[],
  load: readonly number[],
): string {
  const lines = [
    `federated averaging, ${FULL ? 'full' : 'fast'} sizes; load average ${load.map((x) => x.toFixed(1)).join(' → ')}`,
    '',
  ];
  if (rounds.length > 0) {
    lines.push(
      'one training round, protected vs plaintext (medians of the rounds after the first; p/e = plaintext / protected):',
      '',
      roundTable(rounds),
      '',
    );
    const exact = rounds.find((r) => r.privacy === 'exact');
    if (exact !== undefined)
      lines.push(
        `round: protected / plaintext at ${exact.agencies} agencies, ${formatInteger(exact.parameters)} parameters = ${exact.ratio.toFixed(2)} (target ≤ ${TARGET})`,
        '',
      );
  }
  if (scale.length > 0) {
    lines.push(
      'one protected round against parameters and agencies (in-process agencies, protobuf bytes counted):',
      '',
      scaleTable(scale),
      '',
    );
    for (const c of scale.filter((x) => x.refused !== null))
      lines.push(
        `refused at ${c.agencies} agencies, ${formatInteger(c.parameters)} parameters: ${c.refused?.code}: ${c.refused?.message}`,
      );
    lines.push('');
  }
  if (throughput.length > 0)
    lines.push('local training throughput of the built-in MLP (one core):', '', throughputTable(throughput), '');
  return `${lines.join('\n')}\n`;
}

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const todo = sections(args);
  const reps = positiveIntOption(args, '--reps', 3);
  const rounds = positiveIntOption(args, '--rounds', 4);
  const load = [loadavg()[0] ?? 0];
  const roundResults = todo.includes('round')
    ? await measureRounds(positiveIntOption(args, '--rows', FULL ? 20_000 : 2_000), rounds, reps)
    : [];
  const scale = todo.includes('scale')
    ? await measureScale(
        join(packageRoot(), '.bench-cache', 'fedavg', 'scale'),
        intListOption(args, '--agencies', FULL ? [5, 16, 64] : [5, 16]),
        sizeListOption(args, '--sizes', ['1k', '10k', '100k']),
        positiveIntOption(args, '--scale-rows', FULL ? 1_000 : 200),
        3,
        (c) => {
          if (!json)
            process.stderr.write(
              `scale ${c.agencies} agencies, ${c.size}: ${c.measured === null ? `refused (${c.refused?.code})` : `round ${formatMs(c.measured.roundMs)}, coordinator ${formatMs(c.measured.coordinatorMs)}, up ${kib(c.measured.bytesUpPerAgency)}, down ${kib(c.measured.bytesDownPerAgency)} per agency`}\n`,
            );
        },
      )
    : [];
  const examples = positiveIntOption(args, '--examples', FULL ? 20_000 : 2_000);
  const throughput = todo.includes('throughput')
    ? sizeListOption(args, '--sizes', ['1k', '10k', '100k']).map((s) =>
        measureThroughput(s, s === '100k' ? Math.max(1, examples >> 2) : examples, reps),
      )
    : [];
  load.push(loadavg()[0] ?? 0);
  const exact = roundResults.find((r) => r.privacy === 'exact');
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'fedavg',
        ratio: exact?.ratio ?? null,
        ratioMeaning:
          'protected round / plaintext round, exact, 5 agencies, ~10k parameters (median of the rounds after the first)',
        target: TARGET,
        full: FULL,
        reps,
        loadAverage: load,
        rounds: roundResults,
        scale,
        throughput,
      })}\n`,
    );
    return;
  }
  process.stdout.write(report(roundResults, scale, throughput, load));
}
