/**
 * What `fedstat train` prints, from a TrainResult built with the real learning code: a binomial fit
 * of the `workers` records in this process (fitPooled), its MODEL.json (modelDocument) and rounds
 * taken from the fit's own Newton history. `--json` has exactly the documented keys and the fit's
 * numbers; the human output holds R's summary as formatSummary prints it, one table row per round,
 * the log entries, the privacy of a DP fit, and who each round covers when agencies dropped out.
 * The model file is written atomically and reads back as the same document.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModelFile } from '../../src/cli/commands/train-common.js';
import { renderTrain, roundLine, trainJson } from '../../src/cli/commands/train-output.js';
import { toJson } from '../../src/cli/json.js';
import type { TrainResult, TrainRound } from '../../src/coordinator/train-types.js';
import { FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import { formatSummary } from '../../src/learn/format-summary.js';
import { parseFormula } from '../../src/learn/formula.js';
import { modelDocument, modelText, parseModelDocument } from '../../src/learn/model-file.js';
import type { ModelPrivacy } from '../../src/learn/model-file.js';
import { fitPooled } from '../../src/learn/pooled-fit.js';
import { WORKERS_DATASET_JSON, workerRows } from '../learn/workers.js';

const WORKERS = parseSchema({ datasets: { workers: WORKERS_DATASET_JSON } }, 'schema.json').datasets[
  'workers'
] as DatasetSchema;
const CODING = codeModel(
  parseFormula('insured ~ age + sex + district + income', WORKERS, 'workers'),
  WORKERS,
  'binomial',
  'workers',
);
const FIT = fitPooled(workerRows(400, 7), CODING);
const AGENCIES = ['cd-hrss', 'dy-hrss', 'my-hrss'];
const FEDERATION = 'ab'.repeat(32);
const DP: ModelPrivacy = {
  rho: '1/2',
  rhoPerRound: '1/12',
  rounds: 6,
  epsilon: 0.5 + 2 * Math.sqrt(0.5 * Math.log(1e9)),
  delta: 1e-9,
  threshold: 2,
  intervals: 'Wald intervals with the known noise variance added to the information',
};

/** The fit's own rounds as the coordinator reports them: round i logged at entry 10 + 7(i - 1). */
function roundsOf(logged: boolean, agenciesOf: (round: number) => readonly string[] = () => AGENCIES): TrainRound[] {
  return FIT.state.history.map((h, i) => ({
    round: h.round,
    phase: h.phase,
    deviance: h.deviance,
    stepNorm: h.stepNorm,
    ms: 250 + i,
    queryId: (i + 1).toString(16).padStart(32, '0'),
    agencies: agenciesOf(h.round),
    logIndex: logged ? 10 + 7 * i : null,
  }));
}

function resultOf(options: {
  readonly privacy?: ModelPrivacy;
  readonly logged?: boolean;
  readonly rounds?: readonly TrainRound[];
  readonly failed?: TrainResult['agencies']['failed'];
  readonly lostRounds?: readonly number[];
}): TrainResult {
  const rounds = options.rounds ?? roundsOf(options.logged ?? true);
  const model = modelDocument(FIT, {
    coding: CODING,
    federation: FEDERATION,
    schema: WORKERS,
    createdAt: new Date('2026-03-04T05:06:07.089Z'),
    privacy: options.privacy ?? null,
    rounds: rounds.map((r) => ({
      round: r.round,
      queryId: r.queryId,
      agencies: r.agencies,
      logIndexes: r.logIndex === null ? [] : [r.logIndex],
    })),
  });
  return {
    model,
    agencies: { answered: rounds.at(-1)?.agencies ?? AGENCIES, failed: options.failed ?? [] },
    rounds,
    privacy: options.privacy ?? null,
    lostRounds: options.lostRounds ?? [],
  };
}

describe('trainJson', () => {
  const exact = resultOf({});

  it('has exactly the documented keys, and the model those of a coefficient table', () => {
    const j = trainJson(exact);
    expect(Object.keys(j)).toEqual(['model', 'agencies', 'rounds', 'privacy', 'log']);
    expect(Object.keys(j.model)).toEqual([
      'family',
      'link',
      'formula',
      'terms',
      'deviance',
      'nullDeviance',
      'aic',
      'n',
      'iterations',
      'converged',
    ]);
    for (const t of j.model.terms) expect(Object.keys(t)).toEqual(['term', 'estimate', 'stderr', 'z', 'p', 'ci95']);
    for (const r of j.rounds) expect(Object.keys(r)).toEqual(['round', 'deviance', 'stepNorm', 'ms']);
    for (const l of j.log) expect(Object.keys(l)).toEqual(['round', 'queryId', 'index']);
  });

  it("carries the fit's numbers: every coefficient row, the deviances, one entry per round", () => {
    const j = JSON.parse(toJson(trainJson(exact))) as ReturnType<typeof trainJson>;
    const t = FIT.table;
    expect(j.model).toMatchObject({
      family: 'binomial',
      link: 'logit',
      formula: 'insured ~ age + sex + district + income',
      deviance: t.deviance,
      nullDeviance: t.nullDeviance,
      aic: t.aic,
      n: 400,
      iterations: t.iterations,
      converged: true,
    });
    expect(j.model.terms.map((r) => r.term)).toEqual([
      '(Intercept)',
      'age',
      'sex女',
      'district青羊区',
      'district金牛区',
      'income',
    ]);
    expect(j.model.terms).toEqual(t.terms.map((r) => ({ ...r, ci95: [...r.ci95] })));
    for (const r of j.model.terms) {
      expect(r.ci95[0]).toBeCloseTo(r.estimate - 1.959964 * r.stderr, 6);
      expect(r.ci95[1]).toBeCloseTo(r.estimate + 1.959964 * r.stderr, 6);
    }
    expect(j.rounds).toHaveLength(t.iterations);
    expect(j.rounds.map((r) => r.deviance)).toEqual(FIT.state.history.map((h) => h.deviance));
    expect(j.rounds.at(-1)?.deviance).toBeCloseTo(t.deviance, 6);
    expect(j.agencies).toEqual({ answered: AGENCIES, failed: [] });
    expect(j.privacy).toBeNull();
    expect(j.log[0]).toEqual({ round: 1, queryId: '00000000000000000000000000000001', index: 10 });
    expect(j.log.map((l) => l.index)).toEqual(exact.rounds.map((_, i) => 10 + 7 * i));
  });

  it('gives index null for rounds run without a log, and the privacy of a DP fit', () => {
    const j = trainJson(resultOf({ logged: false, privacy: DP }));
    expect(j.log.every((l) => l.index === null)).toBe(true);
    expect(j.privacy).toEqual(DP);
  });
});

describe('renderTrain', () => {
  it("prints the header, R's summary with the reference levels, and one table row per round", () => {
    const r = resultOf({});
    const text = renderTrain(r);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Dataset: workers, 400 rows from 3 agencies (cd-hrss, dy-hrss, my-hrss)');
    expect(lines[1]).toBe('Release: exact sums in every round');
    expect(text).toContain(formatSummary(r.model).trimEnd());
    expect(text).toContain('Reference levels: sex = 男, district = 锦江区');
    const at = lines.indexOf('Rounds:');
    expect(lines[at + 1]?.split(/\s+/).filter((w) => w !== '')).toEqual([
      'round',
      'phase',
      'deviance',
      'step',
      'agencies',
      'ms',
    ]);
    const rows = lines.slice(at + 3, at + 3 + r.rounds.length).map((l) => l.trim().split(/\s+/));
    expect(rows.map((w) => Number(w[0]))).toEqual(r.rounds.map((x) => x.round));
    expect(rows.map((w) => w[1])).toEqual(r.rounds.map((x) => x.phase));
    expect(rows.map((w) => w[2])).toEqual(r.rounds.map((x) => x.deviance.toFixed(4)));
    expect(rows[0]?.[3]).toBe('—');
    expect(rows.every((w) => w[4] === '3')).toBe(true);
    expect(text).toContain(`entries ${r.rounds.map((_, i) => 10 + 7 * i).join(', ')};`);
    expect(text).not.toContain('differential privacy');
    expect(text).not.toMatch(/^(warning|note):/m);
  });

  it('states the privacy of a DP fit and how its intervals include the noise', () => {
    const text = renderTrain(resultOf({ privacy: DP }));
    expect(text).toContain('Release: differentially private sums in 6 rounds');
    expect(text).toContain(
      `(differential privacy: rho 0.5 spent at each agency over 6 rounds (1/12 each), i.e. (${DP.epsilon.toFixed(3)}, 1e-9)-DP; Skellam noise sized for threshold 2; intervals: ${DP.intervals})`,
    );
  });

  it('names who each round covers after a dropout, the failures and the lost rounds', () => {
    const last = FIT.state.history.length;
    const rounds = roundsOf(true, (round) => (round >= last - 1 ? ['cd-hrss', 'my-hrss'] : AGENCIES));
    const text = renderTrain(
      resultOf({
        rounds,
        privacy: DP,
        failed: [{ id: 'dy-hrss', code: 'UNAVAILABLE', reason: 'no answer within 30000 ms' }],
        lostRounds: [last + 1],
      }),
    );
    expect(text).toContain('from 2 agencies (cd-hrss, my-hrss)');
    const notes = text.split('\n').filter((l) => /^(note|warning):/.test(l));
    expect(notes).toEqual([
      ...rounds.slice(0, last - 2).map((r) => `note: round ${r.round} covers cd-hrss, dy-hrss, my-hrss`),
      'warning: agency dy-hrss failed a round: no answer within 30000 ms',
      `warning: round ${last + 1} was sent but never decoded (the coordinator stopped in it); the budget it charged stays spent`,
    ]);
  });

  it('gives a terminal one line per round', () => {
    const r = roundsOf(true)[2] as TrainRound;
    expect(roundLine(r)).toBe(
      `round 3  ${r.phase}  deviance ${r.deviance.toFixed(4)}  step ${r.stepNorm.toExponential(2)}  3 agencies  252 ms`,
    );
  });
});

describe('writeModelFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fedstat-train-out-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes MODEL.json that predict reads back as the same document, leaving no partial file', async () => {
    const model = resultOf({}).model;
    const file = join(dir, 'model.json');
    await writeModelFile(file, modelText(model));
    expect(parseModelDocument(readFileSync(file, 'utf8'), file)).toEqual(model);
    expect(readdirSync(dir)).toEqual(['model.json']);
  });

  it('fails as IO naming the file and where the fit is saved', async () => {
    const file = join(dir, 'missing', 'model.json');
    const e = await writeModelFile(file, '{}\n', 'fit.ckpt').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FedstatError);
    expect((e as FedstatError).code).toBe('IO');
    expect((e as FedstatError).message).toBe(
      `cannot write ${file}: ENOENT; check the folder and its permissions (the fit is saved in fit.ckpt: run the command again with --resume)`,
    );
  });
});
