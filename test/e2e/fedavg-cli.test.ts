/**
 * `fedstat train --model mlp` end to end: the built CLI as the coordinator, three `fedstat agency
 * serve` processes (mTLS, DuckDB, budget ledgers, log witnesses) serving `workers`, in a
 * federation that requires the transparency log. An exact run whose coordinator is SIGKILLed with
 * a round in flight resumes to the parameters of an uninterrupted run, bit for bit, and `fedstat
 * predict` scores with it; an agency killed mid-run leaves the rounds after it to the two left;
 * a `--rho` run charges every agency once per round it was asked, and a DP run killed and resumed
 * never charges a round number twice; `fedstat audit verify` passes over every round logged.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTransparencyLog } from '../../src/coordinator/connect.js';
import type { FailedAgency } from '../../src/coordinator/query-context.js';
import { cliPath } from '../../src/demo/agency-processes.js';
import { readLedgerCharges } from '../../src/dp/ledger-charges.js';
import { displayCanonicalRho } from '../../src/dp/rho.js';
import type { CurvePoint } from '../../src/learn/fl/learning-curve.js';
import type { NetworkDocument, NetworkPrivacy } from '../../src/learn/fl/network-file.js';
import { flRoundQueryId } from '../../src/protocol/fl-round.js';
import { runCli, type CliRun } from '../helpers/run-cli.js';
import { createWorkersFederation, workersCsv, type WorkersFederation } from '../helpers/workers-federation.js';
import { findAll, parseXml } from '../helpers/xml-well-formed.js';

const FORMULA = 'insured ~ age + sex + district + income';
const ROUNDS = 3;
/** Each run is a few CLI processes of a few SEAL rounds: room for a machine shared with others. */
const SLOW = { timeout: 120_000 };
let fed: WorkersFederation;

/** The `train --model mlp --json` document. */
interface NetworkJson {
  model: NetworkDocument;
  curve: CurvePoint[];
  privacy: NetworkPrivacy | null;
  lostRounds: number[];
  failed: FailedAgency[];
  log: { round: number; queryId: string; index: number | null }[];
}

/** The checkpoint fields these tests watch (src/coordinator/fl-checkpoint.ts). */
interface Checkpoint {
  runId: string;
  nextRound: number;
  inFlight: number | null;
  rounds: { round: number; queryId: string }[];
}

function trainArgs(extra: readonly string[]): string[] {
  const base = ['train', '--federation', fed.federationFile, '--dataset', 'workers', '--model', 'mlp'];
  return [...base, '--hidden', '8', '--formula', FORMULA, ...extra];
}

/** `fedstat train --model mlp --json` with `extra` flags, which must succeed. */
async function train(extra: readonly string[]): Promise<NetworkJson> {
  const run = await runCli(trainArgs([...extra, '--json']));
  expect(run.err).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.out) as NetworkJson;
}

function readCheckpoint(file: string): Checkpoint {
  return JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
}

/**
 * Starts `train` with `--checkpoint file` and SIGKILLs the coordinator once the checkpoint shows
 * `applied` rounds decoded and the next one in flight; returns the checkpoint it was killed at.
 */
async function killCoordinatorMidRun(file: string, applied: number, extra: readonly string[]): Promise<Checkpoint> {
  const child = spawn(process.execPath, [cliPath(), ...trainArgs([...extra, '--checkpoint', file])], {
    stdio: 'ignore',
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, signal) => resolve(signal)));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const seen = await watchCheckpoint(file, (c) => c.rounds.length >= applied && c.inFlight !== null, running);
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  expect(seen).not.toBeNull();
  return seen!;
}

/** Polls `file` (replaced atomically) until `until` holds; null when the process ends first. */
async function watchCheckpoint(
  file: string,
  until: (c: Checkpoint) => boolean,
  running: () => boolean,
): Promise<Checkpoint | null> {
  for (;;) {
    if (existsSync(file)) {
      const c = readCheckpoint(file);
      if (until(c)) return c;
    }
    if (!running()) return null;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The curve without its round numbers: what two runs of the same steps must share. */
function byStep(curve: readonly CurvePoint[]): Omit<CurvePoint, 'round'>[] {
  return curve.map(({ round: _r, ...rest }) => rest);
}

/** What these tests read of `fedstat audit verify --json`. */
interface AuditReport {
  ok: boolean;
  size: number;
  ledgers: { agency: string; matched: number; missingInLog: number; missingInLedger: number }[];
}

/** `fedstat audit verify` over the federation's log, every agency's witness and ledger. */
async function auditVerify(): Promise<AuditReport> {
  const verdict = await runCli([
    ...['audit', 'verify', defaultTransparencyLog(fed.federationFile), '--federation', fed.federationFile],
    ...fed.ids.flatMap((id) => ['--since', fed.witnesses[id]!, '--ledger', `${id}=${fed.ledgers[id]!}`]),
    '--json',
  ]);
  expect(verdict.err).toBe('');
  expect(verdict.code).toBe(0);
  return JSON.parse(verdict.out) as AuditReport;
}

/** The uninterrupted exact run the resumed one must reproduce. */
let reference: NetworkJson | null = null;
/** Every transparency-log index a round of these runs was logged at. */
const logged: number[] = [];

beforeAll(async () => {
  fed = await createWorkersFederation({ agencies: 3, rowsPerAgency: 200, minAgencies: 2, budget: '2' });
  await Promise.all(fed.ids.map((id) => fed.launch(id)));
}, 60_000);

afterAll(async () => {
  await fed?.close();
});

describe('fedstat train --model mlp over agency processes', SLOW, () => {
  it('--help lists the averaging flags', async () => {
    const help: CliRun = await runCli(['train', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--model', '--hidden', '--rounds', '--seed', '--plot', '--checkpoint', '--resume', '--rho'])
      expect(help.out).toContain(flag);
  });

  it('trains exactly, writes MODEL.json and a well-formed --plot SVG', async () => {
    const out = join(fed.dir, 'reference.json');
    const plot = join(fed.dir, 'curve.svg');
    const doc = await train(['--rounds', String(ROUNDS), '--out', out, '--plot', plot]);
    reference = doc;
    expect(Object.keys(doc)).toEqual(['model', 'curve', 'privacy', 'lostRounds', 'failed', 'log']);
    // ROUNDS training rounds (a point's step counts the updates applied after it) and the evaluation
    // round, numbered 1.., each by all three agencies.
    const steps = [...Array(ROUNDS).keys()].map((i) => [i + 1, i + 1]);
    expect(doc.curve.map((p) => [p.round, p.step])).toEqual([...steps, [ROUNDS + 1, ROUNDS]]);
    expect(doc.curve.every((p) => p.agencies.join() === fed.ids.join() && p.epsilon === null)).toBe(true);
    expect(doc.curve.every((p) => p.metricName === 'auc' && p.metric! > 0 && p.metric! <= 1)).toBe(true);
    expect(doc.privacy).toBeNull();
    expect(doc.lostRounds).toEqual([]);
    expect(doc.failed).toEqual([]);
    expect(doc.log.map((l) => l.round)).toEqual(doc.curve.map((p) => p.round));
    expect(doc.log.every((l) => /^[0-9a-f]{32}$/.test(l.queryId) && Number.isSafeInteger(l.index))).toBe(true);
    logged.push(...doc.log.map((l) => l.index!));
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(doc.model);
    expect(doc.model).toMatchObject({ kind: 'network', family: 'binomial', formula: FORMULA });

    const svg = parseXml(readFileSync(plot, 'utf8'));
    expect(svg.name).toBe('svg');
    expect(findAll(svg, 'path').length + findAll(svg, 'polyline').length).toBeGreaterThan(0);
  });

  it('a coordinator SIGKILLed with a round in flight resumes to the same parameters, and predict scores', async () => {
    expect(reference).not.toBeNull();
    const checkpoint = join(fed.dir, 'killed.checkpoint.json');
    const killed = await killCoordinatorMidRun(checkpoint, 2, ['--rounds', String(ROUNDS)]);
    const lost = killed.inFlight!;

    const out = join(fed.dir, 'resumed.json');
    const doc = await train(['--rounds', String(ROUNDS), '--checkpoint', checkpoint, '--resume', '--out', out]);
    expect(doc.model.parameters).toBe(reference!.model.parameters);
    expect(doc.model.parametersSha256).toBe(reference!.model.parametersSha256);
    // The curve goes on past the lost round's number; its step was asked again under the next one.
    expect(doc.lostRounds).toEqual([lost]);
    const numbers = doc.curve.map((p) => p.round);
    expect(numbers).not.toContain(lost);
    expect(numbers).toEqual([...Array(ROUNDS + 2).keys()].map((i) => i + 1).filter((r) => r !== lost));
    expect(byStep(doc.curve)).toEqual(byStep(reference!.curve));
    expect(doc.log.slice(0, killed.rounds.length).map((l) => l.queryId)).toEqual(killed.rounds.map((r) => r.queryId));
    logged.push(...doc.log.map((l) => l.index!));

    const all = fed.ids.flatMap((id) => fed.rows[id]!);
    writeFileSync(join(fed.dir, 'all.csv'), workersCsv(all));
    const scores = join(fed.dir, 'scores.csv');
    const predicted = await runCli([
      ...['predict', '--model', out, '--federation', fed.federationFile],
      ...['--dataset', `workers=${join(fed.dir, 'all.csv')}`, '--out', scores, '--json'],
    ]);
    expect(predicted.err).toBe('');
    expect(predicted.code).toBe(0);
    const summary = JSON.parse(predicted.out) as { rows: number; fitted: { mean: number; min: number; max: number } };
    expect(summary.rows).toBe(all.length);
    expect(summary.fitted.min).toBeGreaterThan(0);
    expect(summary.fitted.max).toBeLessThan(1);
    expect(readFileSync(scores, 'utf8').trimEnd().split('\n')).toHaveLength(all.length + 1);
  });

  it('an agency killed mid-run leaves the later rounds to the two left, and the model is written', async () => {
    const lost = 'agency-3';
    const left = fed.ids.filter((id) => id !== lost);
    const checkpoint = join(fed.dir, 'dropout.checkpoint.json');
    const out = join(fed.dir, 'dropout.json');
    const run = runCli(trainArgs(['--rounds', String(ROUNDS), '--checkpoint', checkpoint, '--out', out, '--json']));
    let finished = false;
    void run.then(() => (finished = true));
    let killedAt = 0;
    try {
      const seen = await watchCheckpoint(
        checkpoint,
        (c) => c.rounds.length >= 1 && c.inFlight !== null,
        () => !finished,
      );
      expect(seen).not.toBeNull();
      killedAt = seen!.inFlight!;
      await fed.kill(lost);
      const done = await run;
      expect(done.err).toBe('');
      expect(done.code).toBe(0);
      const doc = JSON.parse(done.out) as NetworkJson;
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(doc.model);
      expect(doc.curve[0]!.agencies).toEqual(fed.ids);
      const after = doc.curve.filter((p) => p.round > killedAt);
      expect(after.length).toBeGreaterThan(0);
      for (const p of after) expect(p.agencies).toEqual(left);
      expect(doc.curve.at(-1)!.step).toBe(ROUNDS);
      expect(doc.failed.map((f) => f.id)).toContain(lost);
      logged.push(...doc.log.map((l) => l.index!));
    } finally {
      await run;
      await fed.launch(lost);
    }
  });
});

describe('fedstat train --model mlp --rho over agency processes', SLOW, () => {
  interface Budgets {
    agencies: { agency: string; budgets: { dataset: string; spent: string; charges: number }[] }[];
  }
  const budgets = async (): Promise<Budgets['agencies']> => {
    const run = await runCli(['budget', '--federation', fed.federationFile, '--json']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    return (JSON.parse(run.out) as Budgets).agencies;
  };
  /** Each agency's ledger charges, as query ids. */
  const charges = async (): Promise<string[][]> =>
    Promise.all(fed.ids.map(async (id) => (await readLedgerCharges(fed.ledgers[id]!)).map((c) => c.queryId)));

  it('charges every agency once per round, with ε growing to the privacy it states', async () => {
    for (const ids of await charges()) expect(ids).toEqual([]);
    const out = join(fed.dir, 'dp.json');
    // A training round and the evaluation round: ρ/2 each.
    const doc = await train(['--rho', '0.9', '--rounds', '1', '--out', out]);
    expect(doc.privacy).toMatchObject({ rho: '9/10', rhoPerRound: '9/20', rounds: 2 });
    expect(doc.curve.map((p) => p.round)).toEqual([1, 2]);
    const eps = doc.curve.map((p) => p.epsilon!);
    expect(eps.every(Number.isFinite)).toBe(true);
    for (let i = 1; i < eps.length; i++) expect(eps[i]!).toBeGreaterThan(eps[i - 1]!);
    expect(eps.at(-1)).toBeCloseTo(doc.privacy!.epsilon, 9);
    expect(doc.model.privacy).toEqual(doc.privacy);
    expect(doc.curve.every((p) => p.agencies.join() === fed.ids.join())).toBe(true);
    logged.push(...doc.log.map((l) => l.index!));

    const after = await budgets();
    expect(after.map((a) => a.agency)).toEqual(fed.ids);
    for (const a of after)
      expect(a.budgets).toMatchObject([
        { dataset: 'workers', charges: 2, spent: displayCanonicalRho(doc.privacy!.rho) },
      ]);
    for (const ids of await charges()) expect(ids).toEqual(doc.log.map((l) => l.queryId));
  });

  it('a DP run killed and resumed never charges a round number twice', async () => {
    const before = await charges();
    const checkpoint = join(fed.dir, 'dp-killed.checkpoint.json');
    const flags = ['--rho', '0.9', '--rounds', '2'];
    const killed = await killCoordinatorMidRun(checkpoint, 1, flags);
    const doc = await train([...flags, '--checkpoint', checkpoint, '--resume']);
    const announced = 3;
    expect(doc.privacy).toMatchObject({ rho: '9/10', rounds: announced });
    expect(doc.lostRounds).toEqual([killed.inFlight]);
    // Lost numbers are never asked again: decoded and lost rounds together are the numbers 1..3.
    const numbers = [...doc.curve.map((p) => p.round), ...doc.lostRounds].sort((a, b) => a - b);
    expect(numbers).toEqual([1, 2, 3]);

    const sent = new Set(numbers.map((r) => flRoundQueryId(killed.runId, r)));
    const decoded = doc.log.map((l) => l.queryId);
    const now = await charges();
    fed.ids.forEach((_, i) => {
      const ids = now[i]!.slice(before[i]!.length);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.every((q) => sent.has(q))).toBe(true);
      expect(ids.length).toBeLessThanOrEqual(announced);
      for (const q of decoded) expect(ids).toContain(q);
    });
    logged.push(...doc.log.map((l) => l.index!));
  });
});

describe('the auditor', () => {
  it('verifies the log with every round of the runs above, and each ledger reconciles', async () => {
    const report = await auditVerify();
    expect(report.ok).toBe(true);
    expect(report.ledgers.map((l) => l.agency)).toEqual(fed.ids);
    for (const l of report.ledgers) {
      expect(l).toMatchObject({ missingInLog: 0, missingInLedger: 0 });
      expect(l.matched).toBe((await readLedgerCharges(fed.ledgers[l.agency]!)).length);
    }
    // Every run above logged its rounds (the exact, resumed, dropout and DP runs).
    expect(logged.length).toBeGreaterThanOrEqual(4 * ROUNDS);
    for (const index of logged) expect(index).toBeLessThan(report.size);
  });
});
