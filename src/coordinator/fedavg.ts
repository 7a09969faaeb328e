/**
 * `Coordinator.trainNetwork`: a neural model (or a GLM-shaped one) trained across the agencies
 * serving a dataset by federated averaging. Every round is a query of its own (fl-round-query.ts):
 * signed, logged, admitted and (with DP) charged by each agency it asks, masked, encrypted, and only
 * the sum of the agencies' updates decrypted. The server strategy (FedAvg, FedProx, FedAdam) turns
 * the mean update into the next global parameters.
 *
 * The run is checkpointed before each round is sent and after it is applied (fl-checkpoint.ts). A
 * round lost to a failure or a stop keeps its number (an agency never answers or charges a number
 * twice) and its step is asked again under the next number; an agency that drops out of a round is
 * left out of that round's average. Everything an exact round computes is seeded by the run's seed
 * and the step, so a resumed exact run ends with the same parameters, bit for bit, as one never
 * stopped (and as any other run with the seed over the same agencies and records).
 * A DP run announces its rounds (training rounds, and one evaluation round with a validation
 * split) and spends ρ/rounds on each; a lost round's budget is spent, and a run whose lost rounds
 * used up its numbers ends with the updates it has.
 */
import { rhoToEpsilon } from '../dp/conversion.js';
import { rational, type Rational } from '../dp/rational.js';
import { FedstatError } from '../errors.js';
import { datasetParties, datasetSchemaOf, type Federation } from '../federation/federation.js';
import type { HeParams } from '../he/he-params.js';
import { taggedDigest } from '../crypto/digest.js';
import { codeModel, type ModelCoding } from '../learn/design.js';
import { parseFormula, type Formula } from '../learn/formula.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { FlTotals } from '../learn/fl/fl-encoding.js';
import { flOutput, responseScale } from '../learn/fl/fl-model.js';
import type { Trainer } from '../learn/fl/trainer.js';
import {
  checkNetworkModelSpec,
  describeModel,
  networkTrainer,
  type NetworkModelSpec,
  type TrainerRegistry,
} from '../learn/fl/trainer-registry.js';
import type { CurvePoint } from '../learn/fl/learning-curve.js';
import { networkDocument, type NetworkPrivacy } from '../learn/fl/network-file.js';
import { meanUpdate, roundMetrics } from '../learn/fl/round-metrics.js';
import { RoundingStream } from '../learn/fl/rounding-stream.js';
import { fedAdam, fedAvg, type Strategy } from '../learn/fl/strategy.js';
import { decodeParameters, encodeParameters, MAX_FL_ROUNDS, newRunId, type FlHyper } from '../protocol/fl-round.js';
import { queryRho, queryRhoText } from '../protocol/privacy-terms.js';
import { parseCondition } from '../query/parse-condition.js';
import type { Predicate } from '../query/plan.js';
import { loadRunProgress, saveRunProgress, type RunProgress } from './fl-checkpoint.js';
import { flRoundQuery, type FlRunPlan } from './fl-round-query.js';
import type { NetworkSpec, NetworkTrainOptions, NetworkTrainResult, StrategyName } from './fl-train-types.js';
import type { PlannedQuery, RoundFinish, RoundOptions, RoundRun } from './query-context.js';
import type { RunIdentity } from './checkpoint-file.js';
import { checkRunBudget } from './run-budget.js';
import { DEFAULT_RETRIES, mergeFailed, rhoPerRound, roundWithRetries, startProgress } from './training-rounds.js';
import type { AgencyDescription } from '../protocol/links.js';

const DISPLAY_DELTA = 1e-9;

/** What trainNetwork needs of its coordinator. */
export interface NetworkTrainContext {
  readonly federation: Federation;
  readonly params: Pick<HeParams, 'paramsId' | 'plainModulus'>;
  readonly runRound: <T>(planned: PlannedQuery, options: RoundOptions, finish: RoundFinish<T>) => Promise<RoundRun<T>>;
  readonly requireLog: () => void;
  readonly now: () => number;
  /** Trainers of custom models, by name. */
  readonly trainers: TrainerRegistry;
  /** Describe every agency: their datasets and budgets (the whole-run budget check). */
  readonly discover: () => Promise<{ readonly described: readonly AgencyDescription[] }>;
}

/** A run ready to go. */
interface Run {
  readonly coding: ModelCoding;
  readonly where: Predicate | null;
  readonly model: NetworkModelSpec;
  readonly trainer: Trainer;
  readonly hyper: FlHyper;
  readonly strategy: Strategy<unknown>;
  readonly strategyName: StrategyName;
  readonly serverLr: number;
  readonly rounds: number;
  readonly validation: number;
  readonly agenciesPerRound: number | null;
  readonly seed: number;
  readonly updateBound: number;
  /** ρ of each round and the rounds announced (training + evaluation); null for an exact run. */
  readonly schedule: { readonly rhoPerRound: Rational; readonly announced: number } | null;
  readonly delta: number;
  readonly identity: RunIdentity;
  readonly description: string;
}

function positiveOr(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(Number.isFinite(v) && v > 0)) throw new FedstatError('QUERY_INVALID', `${name} must be a finite number > 0`);
  return v;
}

function wholeOr(name: string, value: number | undefined, fallback: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1 || v > max)
    throw new FedstatError('QUERY_INVALID', `${name} must be a whole number from 1 to ${max}`);
  return v;
}

function strategyOf(name: StrategyName, serverLr: number): Strategy<unknown> {
  return name === 'fedadam' ? fedAdam({ serverLr }) : fedAvg({ serverLr });
}

function prepareRun(ctx: NetworkTrainContext, spec: NetworkSpec, options: NetworkTrainOptions): Run {
  const { federation } = ctx;
  const schema = datasetSchemaOf(federation, spec.dataset);
  const formula = parseFormula(spec.formula, schema, spec.dataset);
  const coding = codeFlModel(formula, schema, spec);
  const where = spec.where === undefined ? null : parseCondition(spec.where, spec.dataset, federation.schema);
  const model = modelSpecOf(spec);
  const trainer = networkTrainer(model, coding, ctx.trainers);
  const dp = options.privacy !== undefined;
  if (!dp && !federation.policy.exactRelease)
    throw new FedstatError(
      'POLICY_REFUSED',
      'the federation policy requires differential privacy for every release, training rounds too; train with --rho',
    );
  const strategyName = spec.strategy ?? 'fedavg';
  if (!['fedavg', 'fedprox', 'fedadam'].includes(strategyName))
    throw new FedstatError('QUERY_INVALID', 'the strategy must be fedavg, fedprox or fedadam');
  const mu = spec.mu ?? (strategyName === 'fedprox' ? 0.01 : 0);
  if (!(Number.isFinite(mu) && mu >= 0)) throw new FedstatError('QUERY_INVALID', 'mu must be a finite number ≥ 0');
  const epochs = wholeOr('local epochs', spec.localEpochs, 1, 100);
  if (dp && epochs !== 1)
    throw new FedstatError(
      'QUERY_INVALID',
      'with DP a round is one DP-SGD step (more local steps would let one record steer them all); drop --local-epochs',
    );
  const maxRows = schema.maxRows;
  const hyper: FlHyper = {
    lr: positiveOr('lr', spec.lr, dp ? 1 : 0.1),
    // Without DP the clip only guards against outlying records; tight clipping would bias the fit.
    clip: positiveOr('clip', spec.clip, dp ? 1 : 100),
    epochs,
    batch: wholeOr('batch', spec.batch, Math.min(32, maxRows), maxRows),
    mu,
  };
  const serverLr = positiveOr('server lr', spec.serverLr, strategyName === 'fedadam' ? 0.01 : 1);
  const rounds = wholeOr('rounds', spec.rounds, 20, MAX_FL_ROUNDS - 1);
  const validation = spec.validation ?? 0.2;
  if (!(validation >= 0 && validation <= 0.5))
    throw new FedstatError('QUERY_INVALID', 'the validation fraction must be from 0 to 0.5');
  const candidates = datasetParties(federation, spec.dataset).length;
  const agenciesPerRound =
    spec.agenciesPerRound === undefined ? null : wholeOr('agencies per round', spec.agenciesPerRound, 1, candidates);
  const seed = spec.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw new FedstatError('QUERY_INVALID', 'the seed must be a whole number');
  const updateBound = positiveOr('update bound', spec.updateBound, 10);
  const announced = rounds + (validation > 0 ? 1 : 0);
  const schedule =
    options.privacy === undefined ? null : { rhoPerRound: rhoPerRound(options.privacy.rho, announced), announced };
  const delta = options.privacy?.delta ?? DISPLAY_DELTA;
  const settings = { model, hyper, serverLr, rounds, validation, agenciesPerRound, seed, updateBound };
  const privacy = schedule === null ? null : { rhoPerRound: queryRhoText(schedule.rhoPerRound), announced };
  const { dataset } = spec;
  const normalised = {
    kind: 'network',
    dataset,
    family: coding.family,
    formula: coding.formula,
    where: spec.where ?? null,
    strategy: strategyName,
    ...settings,
    privacy,
  };
  const description = `${describeModel(model)}: ${coding.formula} by ${strategyName}${spec.where === undefined ? '' : ` WHERE ${spec.where}`}`;
  return {
    coding,
    where,
    trainer,
    strategy: strategyOf(strategyName, serverLr),
    strategyName,
    ...settings,
    schedule,
    delta,
    identity: { federation: federation.id, spec: normalised },
    description,
  };
}

/** The coding of the run: the family given, or binomial when the response is binary and gaussian otherwise. */
function codeFlModel(formula: Formula, schema: DatasetSchema, spec: NetworkSpec): ModelCoding {
  const code = (family: 'binomial' | 'gaussian'): ModelCoding => codeModel(formula, schema, family, spec.dataset);
  let coding: ModelCoding;
  if (spec.family !== undefined) coding = code(spec.family);
  else {
    try {
      coding = code('binomial');
    } catch {
      coding = code('gaussian');
    }
  }
  flOutput(coding);
  return coding;
}

/** The model the spec names: a registered trainer's, or the built-in MLP. */
function modelSpecOf(spec: NetworkSpec): NetworkModelSpec {
  if (spec.trainer !== undefined && (spec.hidden !== undefined || spec.activation !== undefined))
    throw new FedstatError(
      'QUERY_INVALID',
      'hidden and activation shape the built-in MLP; leave them out with a trainer of your own',
    );
  try {
    return checkNetworkModelSpec(
      spec.trainer === undefined
        ? { kind: 'mlp', hidden: spec.hidden ?? [32, 16], activation: spec.activation ?? 'tanh' }
        : { kind: 'custom', name: spec.trainer.name, config: spec.trainer.config ?? null },
    );
  } catch (e) {
    throw new FedstatError('QUERY_INVALID', `the model: ${(e as Error).message}`);
  }
}

/** Runs the federated-averaging run (see the file comment). */
export async function trainNetwork(
  ctx: NetworkTrainContext,
  spec: NetworkSpec,
  options: NetworkTrainOptions = {},
): Promise<NetworkTrainResult> {
  const run = prepareRun(ctx, spec, options);
  ctx.requireLog();
  const started = await startProgress<RunProgress>(
    {
      checkpoint: options.checkpoint,
      resume: options.resume === true,
      noun: 'run',
      load: (file) => loadRunProgress(file, run.identity),
      write: (file, next) => saveRunProgress(file, run.identity, next),
    },
    () => fresh(ctx, run),
  );
  let p = started.progress;
  const { save } = started;
  if (run.schedule !== null) {
    const left = run.schedule.announced - (p.nextRound - 1);
    if (left > 0) checkRunBudget((await ctx.discover()).described, run.coding.dataset, run.schedule.rhoPerRound, left);
  }
  const outOfRounds = (q: RunProgress): boolean => run.schedule !== null && q.nextRound > run.schedule.announced;
  const policy = {
    retries: options.retries ?? DEFAULT_RETRIES,
    outOfRounds,
    checkpoint: options.checkpoint,
    what: 'run',
  };
  const round = (train: boolean) => (q: RunProgress) =>
    roundWithRetries(
      q,
      policy,
      save,
      async (at, number, onSent) => {
        const t0 = performance.now();
        const done = await askRound(ctx, run, at, number, train, options, onSent);
        return { done, ms: performance.now() - t0 };
      },
      (at, number, { done, ms }) => consume(run, at, number, train, done, ms, options),
    );
  while (p.step < run.rounds && !outOfRounds(p)) p = await save(await round(true)(p));
  if (run.validation > 0 && !p.evaluated && !outOfRounds(p)) p = await save(await round(false)(p));
  return result(ctx, run, p);
}

function fresh(ctx: NetworkTrainContext, run: Run): RunProgress {
  const initial = run.trainer.initialParameters(run.seed);
  return {
    runId: newRunId(),
    startedAt: new Date(ctx.now()).toISOString(),
    nextRound: 1,
    inFlight: null,
    lost: [],
    step: 0,
    parameters: encodeParameters(initial),
    strategyState: run.strategy.init(initial),
    evaluated: false,
    threshold: null,
    curve: [],
    rounds: [],
    failed: [],
  };
}

/** The agencies asked at `step`: all serving, or a sample of K drawn from the run's seed and the step. */
function candidatesAt(ctx: NetworkTrainContext, run: Run, p: RunProgress): string[] {
  const all = datasetParties(ctx.federation, run.coding.dataset)
    .map((a) => a.id)
    .sort();
  const k = run.agenciesPerRound;
  if (k === null || k >= all.length) return all;
  const stream = new RoundingStream(taggedDigest('fedstat/fl-sample/v1', run.seed, p.step));
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(stream.next() * (i + 1));
    [all[i], all[j]] = [all[j] as string, all[i] as string];
  }
  return all.slice(0, k).sort();
}

async function askRound(
  ctx: NetworkTrainContext,
  run: Run,
  p: RunProgress,
  round: number,
  train: boolean,
  options: NetworkTrainOptions,
  onSent: () => void,
): Promise<{ totals: FlTotals; run: RoundRun<FlTotals> }> {
  const size = run.trainer.size;
  const parameters = decodeParameters(p.parameters, size);
  const ask = { round, step: p.step, train, parameters, candidates: candidatesAt(ctx, run, p) };
  const q = flRoundQuery(runPlan(ctx, run, p), ask, ctx.now);
  const done = await ctx.runRound(
    q.planned,
    {
      mode: options.mode ?? 'encrypted',
      requireAll: false,
      onProgress: (event) => {
        if (event.phase === 'asked') onSent();
        options.onProgress?.(event);
      },
      ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
      ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
    },
    q.finish,
  );
  return { totals: done.result, run: done };
}

function runPlan(ctx: NetworkTrainContext, run: Run, p: RunProgress): FlRunPlan {
  return {
    federation: ctx.federation,
    params: ctx.params,
    runId: p.runId,
    coding: run.coding,
    model: run.model,
    parameterCount: run.trainer.size,
    hyper: run.hyper,
    validation: run.validation,
    seed: run.seed,
    where: run.where,
    updateBound: run.updateBound,
    description: run.description,
    rhoPerRound: run.schedule?.rhoPerRound ?? null,
  };
}

/** ε after `sent` rounds of ρ each, at the run's δ (null for an exact run). */
function epsilonAfter(run: Run, sent: number): number | null {
  if (run.schedule === null) return null;
  const r = run.schedule.rhoPerRound;
  return rhoToEpsilon(rational(r.num * BigInt(sent), r.den), run.delta);
}

/** The run after a decoded round: its curve point, and in a training round the strategy's step. */
function consume(
  run: Run,
  p: RunProgress,
  round: number,
  train: boolean,
  done: { totals: FlTotals; run: RoundRun<FlTotals> },
  ms: number,
  options: NetworkTrainOptions,
): RunProgress {
  const output = flOutput(run.coding);
  const schema = done.run.q.schema;
  const metrics = roundMetrics(done.totals, output, responseScale(run.coding, schema));
  let { parameters, strategyState, step } = p;
  if (train) {
    const size = run.trainer.size;
    const mean = meanUpdate(done.totals, run.schedule !== null, run.hyper.lr);
    const next = run.strategy.apply(strategyState, decodeParameters(parameters, size), mean);
    if (!next.params.every(Number.isFinite))
      throw new FedstatError('QUERY_INVALID', 'the global parameters diverged; lower the learning rates');
    parameters = encodeParameters(next.params);
    strategyState = next.state;
    step += 1;
  }
  const agencies = done.run.r1.answered;
  const point: CurvePoint = {
    round,
    step,
    ...metrics,
    metricName: output === 'binary' ? 'auc' : 'rmse',
    epsilon: epsilonAfter(run, round),
    agencies,
  };
  options.onRound?.(point, ms);
  const logIndex = done.run.sent.queryLog?.index ?? null;
  return {
    ...p,
    inFlight: null,
    step,
    parameters,
    strategyState,
    evaluated: !train,
    threshold: done.run.q.threshold,
    curve: [...p.curve, point],
    rounds: [
      ...p.rounds,
      { round, queryId: done.run.q.queryId, agencies, logIndexes: logIndex === null ? [] : [logIndex] },
    ],
    failed: mergeFailed(p.failed, done.run.r1.failed),
  };
}

function runPrivacy(run: Run, p: RunProgress): NetworkPrivacy | null {
  if (run.schedule === null) return null;
  const { rhoPerRound, announced } = run.schedule;
  const total = rational(rhoPerRound.num * BigInt(announced), rhoPerRound.den);
  return {
    rho: queryRhoText(queryRho(total)),
    rhoPerRound: queryRhoText(rhoPerRound),
    rounds: announced,
    epsilon: rhoToEpsilon(total, run.delta),
    delta: run.delta,
    threshold: p.threshold ?? 1,
  };
}

function result(ctx: NetworkTrainContext, run: Run, p: RunProgress): NetworkTrainResult {
  if (p.rounds.length === 0)
    throw new FedstatError('UNAVAILABLE', 'no round of the run was decoded; train again when the agencies are up');
  const privacy = runPrivacy(run, p);
  const model = networkDocument({
    federation: ctx.federation.id,
    dataset: run.coding.dataset,
    createdAt: new Date(ctx.now()).toISOString(),
    formula: run.coding.formula,
    family: run.coding.family as 'binomial' | 'gaussian',
    coding: run.coding,
    model: run.model,
    parameters: p.parameters,
    strategy: { name: run.strategyName, serverLr: run.serverLr, mu: run.hyper.mu },
    hyper: run.hyper,
    validation: run.validation,
    curve: p.curve,
    privacy,
    rounds: p.rounds,
    schemaOfDataset: datasetSchemaOf(ctx.federation, run.coding.dataset),
  });
  return { model, curve: p.curve, privacy, lostRounds: p.lost, failed: p.failed };
}
