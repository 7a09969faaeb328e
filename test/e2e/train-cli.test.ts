/**
 * `fedstat train` end to end: the built CLI as the coordinator, three `fedstat agency serve`
 * processes (mTLS, DuckDB, budget ledgers, log witnesses) serving workers whose `insured` label
 * follows a known logistic model, in a federation that requires the transparency log. A binomial
 * fit equals the pooled fit and `fedstat predict` scores with it; a coordinator SIGKILLed after
 * two decoded rounds resumes to a bit-identical model; an agency killed stops the fit with how to
 * resume, and `--allow-dropouts` fits over the two that remain; a `--rho` fit charges every
 * agency's ledger once per round; and `fedstat audit verify` passes over everything logged.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTransparencyLog } from '../../src/coordinator/connect.js';
import { cliPath } from '../../src/demo/agency-processes.js';
import { displayCanonicalRho } from '../../src/dp/rho.js';
import { parseSchema, type DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { parseFormula } from '../../src/learn/formula.js';
import { fitPooled, type GlmFit } from '../../src/learn/pooled-fit.js';
import { runCli, type CliRun } from '../helpers/run-cli.js';
import {
  createWorkersFederation,
  WORKERS_SCHEMA_JSON,
  workersCsv,
  type WorkersFederation,
} from '../helpers/workers-federation.js';

const FORMULA = 'insured ~ age + sex + district + income';
const WORKERS = parseSchema(WORKERS_SCHEMA_JSON, 'schema.json').datasets['workers'] as DatasetSchema;
let fed: WorkersFederation;

/** The `train --json` document, as far as these tests read it. */
interface TrainJson {
  model: { terms: Term[]; deviance: number; n: number; converged: boolean; [key: string]: unknown };
  agencies: { answered: string[]; failed: { id: string }[] };
  rounds: { round: number; deviance: number; stepNorm: number; ms: number }[];
  privacy: { rho: string; rhoPerRound: string; rounds: number } | null;
  log: { round: number; queryId: string; index: number | null }[];
}

interface Term {
  term: string;
  estimate: number;
  stderr: number;
}

interface ModelJson extends Record<string, unknown> {
  coefficients: number[];
  rounds: { round: number; queryId: string; agencies: string[]; logIndexes: number[] }[];
  privacy: unknown;
}

/** `fedstat train` of the binomial model over `workers`, with `extra` flags. */
function train(extra: readonly string[]): Promise<CliRun> {
  return runCli(trainArgs(extra));
}

function trainArgs(extra: readonly string[]): string[] {
  const base = ['train', '--federation', fed.federationFile, '--dataset', 'workers', '--family', 'binomial'];
  return [...base, '--formula', FORMULA, ...extra];
}

function parsed(run: CliRun): TrainJson {
  expect(run.err).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.out) as TrainJson;
}

function readModel(file: string): ModelJson {
  return JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
}

function pooledFit(ids: readonly string[]): GlmFit {
  const coding = codeModel(parseFormula(FORMULA, WORKERS, 'workers'), WORKERS, 'binomial', 'workers');
  return fitPooled(
    ids.flatMap((id) => fed.rows[id]!),
    coding,
  );
}

function expectClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
}

/** The fit's table and internal coefficients equal the pooled fit of the agencies' rows. */
function expectPooled(doc: TrainJson, model: ModelJson, ids: readonly string[]): void {
  const pooled = pooledFit(ids);
  expect(doc.model.terms.map((t) => t.term)).toEqual(pooled.table.terms.map((t) => t.term));
  doc.model.terms.forEach((t, j) => {
    expectClose(t.estimate, pooled.table.terms[j]!.estimate);
    expectClose(t.stderr, pooled.table.terms[j]!.stderr);
  });
  model.coefficients.forEach((b, j) => expectClose(b, pooled.state.beta[j]!));
  expectClose(doc.model.deviance, pooled.table.deviance);
  expect(doc.model.n).toBe(pooled.table.n);
  expect(doc.model.converged).toBe(true);
}

/** MODEL.json without the fields that differ between two runs of the same fit. */
function withoutRun(model: ModelJson): Record<string, unknown> {
  const { createdAt: _t, rounds: _r, ...rest } = model;
  return rest;
}

/** Waits until `file` (a checkpoint, replaced atomically) shows `rounds` decoded rounds, or the run ends. */
async function decodedRounds(file: string, rounds: number, running: () => boolean): Promise<number> {
  for (;;) {
    if (existsSync(file)) {
      const done = (JSON.parse(readFileSync(file, 'utf8')) as { rounds: unknown[] }).rounds.length;
      if (done >= rounds || !running()) return done;
    } else if (!running()) return 0;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The first test's uninterrupted fit, which the kill-and-resume test must reproduce bit for bit. */
const first = { doc: null as TrainJson | null, file: '' };

beforeAll(async () => {
  fed = await createWorkersFederation({ agencies: 3, rowsPerAgency: 1000, minAgencies: 2, budget: '2' });
  await Promise.all(fed.ids.map((id) => fed.launch(id)));
}, 60_000);

afterAll(async () => {
  await fed?.close();
});

describe('fedstat train over agency processes', () => {
  it('fits the three agencies to the pooled fit, prints the --json document, and predict scores with it', async () => {
    first.file = join(fed.dir, 'model.json');
    const doc = parsed(await train(['--json', '--out', first.file]));
    first.doc = doc;
    expect(Object.keys(doc)).toEqual(['model', 'agencies', 'rounds', 'privacy', 'log']);
    expect(Object.keys(doc.model)).toEqual([
      ...['family', 'link', 'formula', 'terms', 'deviance', 'nullDeviance'],
      ...['aic', 'n', 'iterations', 'converged'],
    ]);
    expect(doc.model).toMatchObject({ family: 'binomial', link: 'logit', formula: FORMULA });
    for (const t of doc.model.terms) expect(Object.keys(t)).toEqual(['term', 'estimate', 'stderr', 'z', 'p', 'ci95']);
    expect(doc.agencies).toEqual({ answered: fed.ids, failed: [] });
    expect(doc.privacy).toBeNull();
    for (const r of doc.rounds) expect(Object.keys(r)).toEqual(['round', 'deviance', 'stepNorm', 'ms']);
    expect(doc.log.map((l) => l.round)).toEqual(doc.rounds.map((r) => r.round));
    expect(doc.log.every((l) => /^[0-9a-f]{32}$/.test(l.queryId) && Number.isSafeInteger(l.index))).toBe(true);

    const model = readModel(first.file);
    expectPooled(doc, model, fed.ids);
    expect(model.rounds).toEqual(
      doc.log.map((l) => ({ round: l.round, queryId: l.queryId, agencies: fed.ids, logIndexes: [l.index] })),
    );
    // The label carries signal: income raises the odds of being insured (workerRows' truth: 4e-5 per yuan).
    const income = doc.model.terms.find((t) => t.term === 'income')!;
    expect(income.estimate / income.stderr).toBeGreaterThan(3);

    // Scored over the pooled rows, a logistic fit with an intercept averages to the share insured.
    const all = fed.ids.flatMap((id) => fed.rows[id]!);
    writeFileSync(join(fed.dir, 'all.csv'), workersCsv(all));
    const scores = join(fed.dir, 'scores.csv');
    const predicted = await runCli([
      ...['predict', '--model', first.file, '--federation', fed.federationFile],
      ...['--dataset', `workers=${join(fed.dir, 'all.csv')}`, '--out', scores, '--json'],
    ]);
    expect(predicted.err).toBe('');
    expect(predicted.code).toBe(0);
    const summary = JSON.parse(predicted.out) as { rows: number; fitted: { mean: number } };
    expect(summary.rows).toBe(all.length);
    expectClose(summary.fitted.mean, all.filter((r: DataRecord) => r['insured'] === '是').length / all.length);
  });

  it('a coordinator SIGKILLed after two decoded rounds resumes to a bit-identical model', async () => {
    expect(first.doc).not.toBeNull();
    const checkpoint = join(fed.dir, 'killed.checkpoint.json');
    const child = spawn(process.execPath, [cliPath(), ...trainArgs(['--checkpoint', checkpoint])], {
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, signal) => resolve(signal)));
    const decoded = await decodedRounds(checkpoint, 2, () => child.exitCode === null && child.signalCode === null);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(decoded).toBeGreaterThanOrEqual(2);
    const before = JSON.parse(readFileSync(checkpoint, 'utf8')) as { rounds: { round: number; queryId: string }[] };

    const out = join(fed.dir, 'resumed.json');
    const doc = parsed(await train(['--checkpoint', checkpoint, '--resume', '--json', '--out', out]));
    const resumed = readModel(out);
    expect(withoutRun(resumed)).toEqual(withoutRun(readModel(first.file)));
    expect(doc.model).toEqual(first.doc!.model);
    // The rounds decoded before the kill are kept; none is asked again under its number.
    expect(resumed.rounds.slice(0, before.rounds.length).map((r) => r.queryId)).toEqual(
      before.rounds.map((r) => r.queryId),
    );
    const numbers = resumed.rounds.map((r) => r.round);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('an agency killed stops the fit with how to resume; --allow-dropouts fits over the two left', async () => {
    const lost = 'agency-3';
    const left = fed.ids.filter((id) => id !== lost);
    await fed.kill(lost);
    try {
      const checkpoint = join(fed.dir, 'dropout.checkpoint.json');
      const failed = await train(['--checkpoint', checkpoint, '--retries', '1', '--json']);
      // Refused before it is sent (exit 6: nothing spent), each retry too; the one line says how to go on.
      expect(failed.code).toBe(6);
      expect(failed.err.trimEnd().split('\n')).toHaveLength(1);
      expect(failed.err).toContain(`${lost} is unreachable`);
      expect(failed.err).toContain(`the fit is saved in its checkpoint ${checkpoint}`);
      expect(failed.err).toMatch(/; resume with: \S+ train .*--checkpoint \S+ --resume\n?$/);
      const error = (JSON.parse(failed.out) as { error: { code: string; details: { failed: { id: string }[] } } })
        .error;
      expect(error.code).toBe('POLICY_REFUSED');
      expect(error.details.failed.map((f) => f.id)).toEqual([lost]);

      const out = join(fed.dir, 'dropout.json');
      const doc = parsed(
        await train(['--checkpoint', checkpoint, '--resume', '--allow-dropouts', '--json', '--out', out]),
      );
      const model = readModel(out);
      expectPooled(doc, model, left);
      expect(doc.agencies.answered).toEqual(left);
      expect(doc.agencies.failed.map((f) => f.id)).toContain(lost);
      expect(model.rounds.length).toBeGreaterThan(0);
      expect(model.rounds.every((r) => r.agencies.join() === left.join())).toBe(true);
    } finally {
      await fed.launch(lost);
    }
  });
});

describe('fedstat train --rho over agency processes', () => {
  interface Budgets {
    agencies: { agency: string; budgets: { dataset: string; spent: string; charges: number }[] }[];
  }
  const budgets = async (): Promise<Budgets['agencies']> => {
    const run = await runCli(['budget', '--federation', fed.federationFile, '--json']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    return (JSON.parse(run.out) as Budgets).agencies;
  };

  it('charges every agency once per round, states its privacy, and the log verifies', async () => {
    for (const a of await budgets()) expect(a.budgets).toMatchObject([{ dataset: 'workers', charges: 0 }]);
    const out = join(fed.dir, 'dp.json');
    const doc = parsed(await train(['--rho', '0.9', '--dp-rounds', '3', '--json', '--out', out]));
    expect(doc.privacy).toMatchObject({ rho: '9/10', rhoPerRound: '3/10', rounds: 3 });
    expect(doc.rounds).toHaveLength(3);
    expect(doc.agencies.answered).toEqual(fed.ids);
    const model = readModel(out);
    expect(model.privacy).toEqual(doc.privacy);
    expect(model.rounds.map((r) => r.queryId)).toEqual(doc.log.map((l) => l.queryId));
    expect(model.rounds.every((r) => r.agencies.join() === fed.ids.join() && r.logIndexes.length > 0)).toBe(true);
    expect(doc.model.terms.map((t) => t.term)).toEqual(pooledFit(fed.ids).table.terms.map((t) => t.term));
    expect(doc.model.terms.every((t) => Number.isFinite(t.estimate) && t.stderr > 0)).toBe(true);
    // Each agency reports one charge per round and ρ spent as the model states it.
    const after = await budgets();
    expect(after.map((a) => a.agency)).toEqual(fed.ids);
    for (const a of after)
      expect(a.budgets).toMatchObject([
        { dataset: 'workers', charges: 3, spent: displayCanonicalRho(doc.privacy!.rho) },
      ]);

    // The auditor checks every entry of every fit above (the SIGKILLed one included), and each
    // agency's ledger reconciles with its logged charges.
    const verdict = await runCli([
      ...['audit', 'verify', defaultTransparencyLog(fed.federationFile), '--federation', fed.federationFile],
      ...fed.ids.flatMap((id) => ['--since', fed.witnesses[id]!, '--ledger', `${id}=${fed.ledgers[id]!}`]),
      '--json',
    ]);
    expect(verdict.err).toBe('');
    expect(verdict.code).toBe(0);
    const report = JSON.parse(verdict.out) as {
      ok: boolean;
      budgets: { agency: string; charges: number; logged: string }[];
      ledgers: { agency: string; matched: number; missingInLog: number; missingInLedger: number }[];
    };
    expect(report.ok).toBe(true);
    expect(report.budgets).toMatchObject(fed.ids.map((agency) => ({ agency, charges: 3, logged: '9/10' })));
    expect(report.ledgers).toMatchObject(
      fed.ids.map((agency) => ({ agency, matched: 3, missingInLog: 0, missingInLedger: 0 })),
    );
  });
});
