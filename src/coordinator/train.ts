/**
 * `Coordinator.train`: a generalized linear model fitted across the agencies serving a dataset,
 * one Newton round at a time. Every round is a query of its own (glm-round-query.ts): signed,
 * logged, admitted and (in a DP fit) charged by each agency, masked, encrypted, and only its total
 * sums decrypted. The fit is checkpointed before each round is sent and after it is decoded
 * (train-checkpoint.ts); a failed round is asked again under the next round number, up to
 * `retries` times; without `allowDropouts` every agency serving the dataset must answer, and when
 * the agencies of a fit change (one lost for good, one come back) it starts over over the new set,
 * so the model is always the exact fit over the agencies its last rounds name.
 */
import { FedstatError } from '../errors.js';
import { rational, type Rational } from '../dp/rational.js';
import { rhoToEpsilon } from '../dp/conversion.js';
import { datasetSchemaOf, type Federation } from '../federation/federation.js';
import type { HeParams } from '../he/he-params.js';
import { codeModel, type ModelCoding } from '../learn/design.js';
import { parseFormula } from '../learn/formula.js';
import { modelDocument, type ModelPrivacy } from '../learn/model-file.js';
import { DP_INTERVALS, MAX_DP_ROUNDS } from '../learn/dp-newton.js';
import type { GlmEncodingPlan } from '../learn/fixed-point.js';
import { newtonOptions } from '../learn/newton.js';
import type { GlmSums } from '../learn/sums.js';
import { newFitId } from '../protocol/glm-round.js';
import { queryRho, queryRhoText } from '../protocol/privacy-terms.js';
import { parseCondition } from '../query/parse-condition.js';
import type { Predicate } from '../query/plan.js';
import { glmRoundEncoding, glmRoundQuery, type GlmFitPlan } from './glm-round-query.js';
import { DEFAULT_RETRIES, mergeFailed, rhoPerRound, roundWithRetries, startProgress } from './training-rounds.js';
import type { PlannedQuery, RoundFinish, RoundOptions, RoundRun } from './query-context.js';
import { loadCheckpoint, saveCheckpoint, type FitIdentity, type FitProgress } from './train-checkpoint.js';
import { dpStepper, exactStepper, type FitStepper } from './train-stepper.js';
import type { TrainOptions, TrainResult, TrainRound, TrainSpec } from './train-types.js';

/** Rounds of a DP fit unless told (intercept start, then Newton steps from noisy sums). */
export const DEFAULT_DP_ROUNDS = 6;

/** What train needs of its coordinator. */
export interface TrainContext {
  readonly federation: Federation;
  readonly params: Pick<HeParams, 'paramsId' | 'plainModulus'>;
  readonly runRound: <T>(planned: PlannedQuery, options: RoundOptions, finish: RoundFinish<T>) => Promise<RoundRun<T>>;
  /** CONFIG_INVALID when the federation requires a transparency log and the coordinator has none. */
  readonly requireLog: () => void;
  readonly now: () => number;
}

/** A fit ready to run: its coding, WHERE, privacy schedule, identity and iteration. */
interface Fit {
  readonly coding: ModelCoding;
  readonly where: Predicate | null;
  readonly identity: FitIdentity;
  /** ρ of each round and the rounds (DP); null for an exact fit. */
  readonly schedule: { readonly rhoPerRound: Rational; readonly rounds: number } | null;
  readonly stepper: FitStepper<unknown>;
  readonly description: string;
}

function prepareFit(ctx: TrainContext, spec: TrainSpec, options: TrainOptions): Fit {
  const { federation } = ctx;
  const schema = datasetSchemaOf(federation, spec.dataset);
  const formula = parseFormula(spec.formula, schema, spec.dataset);
  const coding = codeModel(formula, schema, spec.family, spec.dataset);
  const where = spec.where === undefined ? null : parseCondition(spec.where, spec.dataset, federation.schema);
  const newton = newtonOptions({
    ...(spec.ridge === undefined ? {} : { ridge: spec.ridge }),
    ...(spec.tolerance === undefined ? {} : { tolerance: spec.tolerance }),
    ...(spec.maxRounds === undefined ? {} : { maxRounds: spec.maxRounds }),
  });
  const schedule = options.privacy === undefined ? null : dpSchedule(options.privacy.rho, options.privacy.rounds);
  if (schedule === null && !federation.policy.exactRelease)
    throw new FedstatError(
      'POLICY_REFUSED',
      'the federation policy requires differential privacy for every release, training rounds too; train with --rho',
    );
  const stepper = (
    schedule === null ? exactStepper(coding, newton) : dpStepper(coding, schedule.rounds, newton.ridge)
  ) as FitStepper<unknown>;
  const normalised = {
    dataset: spec.dataset,
    family: spec.family,
    formula: coding.formula,
    where: spec.where ?? null,
    ridge: newton.ridge,
    tolerance: schedule === null ? newton.tolerance : null,
    maxRounds: schedule === null ? newton.maxRounds : null,
    privacy: schedule === null ? null : { rhoPerRound: queryRhoText(schedule.rhoPerRound), rounds: schedule.rounds },
  };
  const description = `${spec.family} ${coding.formula}${spec.where === undefined ? '' : ` WHERE ${spec.where}`}`;
  return { coding, where, identity: { federation: federation.id, spec: normalised }, schedule, stepper, description };
}

/** ρ per round: the fit's ρ over its rounds, rounded down to ρ's grid, so the fit never spends more than given. */
function dpSchedule(rho: string | Rational, rounds = DEFAULT_DP_ROUNDS): { rhoPerRound: Rational; rounds: number } {
  if (!Number.isSafeInteger(rounds) || rounds < 2 || rounds > MAX_DP_ROUNDS)
    throw new FedstatError(
      'QUERY_INVALID',
      `a DP fit needs 2 to ${MAX_DP_ROUNDS} rounds, not ${rounds}; ${DEFAULT_DP_ROUNDS} suit most models`,
    );
  return { rhoPerRound: rhoPerRound(rho, rounds), rounds };
}

/** Runs the fit (see the file comment). */
export async function trainModel(ctx: TrainContext, spec: TrainSpec, options: TrainOptions = {}): Promise<TrainResult> {
  const fit = prepareFit(ctx, spec, options);
  ctx.requireLog();
  const started = await startProgress<FitProgress>(
    {
      checkpoint: options.checkpoint,
      resume: options.resume === true,
      noun: 'fit',
      load: (file) => loadCheckpoint(file, fit.identity),
      write: (file, p) => saveCheckpoint(file, fit.identity, p),
    },
    () => fresh(fit, ctx),
  );
  let progress = started.progress;
  const { save } = started;
  while (!fit.stepper.done(progress.state)) {
    if (fit.schedule !== null && progress.nextRound > fit.schedule.rounds) {
      progress = await save(cutShort(fit, progress, fit.schedule.rounds));
      break;
    }
    const policy = {
      retries: options.retries ?? DEFAULT_RETRIES,
      outOfRounds: (p: FitProgress) => fit.schedule !== null && p.nextRound > fit.schedule.rounds,
      checkpoint: options.checkpoint,
      what: 'fit',
    };
    progress = await save(
      await roundWithRetries(
        progress,
        policy,
        save,
        (p, round, onSent) => askRound(ctx, fit, p, round, options, onSent),
        // The round's sums are in: what the model makes of them (a singular information, separation) is final.
        (p, _round, decoded) => consume(fit, p, decoded, options),
      ),
    );
  }
  return result(ctx, fit, progress);
}

/** A DP fit whose lost rounds used up its announced rounds ends with the rounds it has, and says so. */
function cutShort(fit: Fit, progress: FitProgress, rounds: number): FitProgress {
  const used = progress.rounds.length;
  if (progress.lastSums === null || used === 0 || progress.agencies === null)
    throw new FedstatError(
      'UNAVAILABLE',
      `all ${rounds} announced rounds of the DP fit were lost (their budget is spent); train again when the agencies are up`,
    );
  const warning = `${rounds - used} of the ${rounds} announced rounds were lost (their budget is spent): the model rests on ${used}`;
  return { ...progress, state: fit.stepper.cut(progress.state, warning) };
}

function fresh(fit: Fit, ctx: TrainContext): FitProgress {
  return {
    fitId: newFitId(),
    startedAt: new Date(ctx.now()).toISOString(),
    nextRound: 1,
    inFlight: null,
    lost: [],
    state: fit.stepper.start(),
    lastSums: null,
    lastRound: null,
    agencies: null,
    rounds: [],
    failed: [],
  };
}

/** A round that ran: its number, β, sums, encoding, agencies, log entry and time. */
interface Decoded {
  readonly round: number;
  readonly beta: readonly number[];
  readonly sums: GlmSums;
  readonly encoding: GlmEncodingPlan;
  readonly run: RoundRun<GlmSums>;
  readonly ms: number;
}

async function askRound(
  ctx: TrainContext,
  fit: Fit,
  progress: FitProgress,
  round: number,
  options: TrainOptions,
  onSent: () => void,
): Promise<Decoded> {
  const t0 = performance.now();
  const beta = fit.stepper.beta(progress.state);
  const q = glmRoundQuery(fitPlan(ctx, fit, progress), round, beta, ctx.now);
  const run = await ctx.runRound(
    q.planned,
    {
      mode: options.mode ?? 'encrypted',
      requireAll: options.allowDropouts !== true,
      requireAllReason: 'a fit needs every agency, unless --allow-dropouts',
      onProgress: (event) => {
        if (event.phase === 'asked') onSent();
        options.onProgress?.(event);
      },
      ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
      ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
    },
    q.finish,
  );
  return { round, beta, sums: run.result, encoding: q.encoding(), run, ms: performance.now() - t0 };
}

/** The fit after a decoded round; a change of agencies starts the iteration over over the new set. */
function consume(fit: Fit, progress: FitProgress, d: Decoded, options: TrainOptions): FitProgress {
  const agencies = d.run.r1.answered;
  const changed = progress.agencies !== null && !sameList(progress.agencies, agencies);
  const consumed = changed
    ? { state: fit.stepper.start(), report: { phase: 'newton' as const, stepNorm: 0 } }
    : fit.stepper.round(progress.state, d.sums, { encoding: d.encoding, contributors: agencies.length });
  const report: TrainRound = {
    round: d.round,
    phase: consumed.report.phase,
    deviance: d.sums.deviance,
    stepNorm: consumed.report.stepNorm,
    ms: d.ms,
    queryId: d.run.q.queryId,
    agencies,
    logIndex: d.run.sent.queryLog?.index ?? null,
  };
  options.onRound?.(report);
  return {
    ...progress,
    inFlight: null,
    state: consumed.state,
    lastSums: d.sums,
    lastRound: { beta: [...d.beta], threshold: d.run.q.threshold, contributors: agencies.length },
    agencies,
    rounds: [...progress.rounds, report],
    failed: mergeFailed(progress.failed, d.run.r1.failed),
  };
}

/** What stays the same over the fit's rounds, for glm-round-query.ts. */
function fitPlan(ctx: TrainContext, fit: Fit, progress: FitProgress): GlmFitPlan {
  return {
    federation: ctx.federation,
    params: ctx.params,
    fitId: progress.fitId,
    coding: fit.coding,
    where: fit.where,
    description: fit.description,
    rhoPerRound: fit.schedule?.rhoPerRound ?? null,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function result(ctx: TrainContext, fit: Fit, progress: FitProgress): TrainResult {
  const sums = progress.lastSums;
  if (sums === null)
    throw new FedstatError('UNAVAILABLE', 'no round of the fit was decoded; train again when the agencies are up');
  const last = progress.lastRound;
  const round =
    fit.schedule === null || last === null
      ? null
      : {
          encoding: glmRoundEncoding(fitPlan(ctx, fit, progress), last.beta, last.threshold),
          contributors: last.contributors,
        };
  const table = fit.stepper.table(progress.state, sums, round);
  const privacy = fit.schedule === null ? null : modelPrivacy(fit.schedule, progress.lastRound?.threshold ?? 1);
  const schema = datasetSchemaOf(ctx.federation, fit.coding.dataset);
  const model = modelDocument(
    { table, state: { beta: fit.stepper.coefficients(progress.state) } },
    {
      coding: fit.coding,
      federation: ctx.federation.id,
      schema,
      createdAt: new Date(ctx.now()),
      privacy,
      rounds: progress.rounds.map((r) => ({
        round: r.round,
        queryId: r.queryId,
        agencies: r.agencies,
        logIndexes: r.logIndex === null ? [] : [r.logIndex],
      })),
    },
  );
  return {
    model,
    agencies: { answered: progress.agencies ?? [], failed: progress.failed },
    rounds: progress.rounds,
    privacy,
    lostRounds: progress.lost,
  };
}

const DISPLAY_DELTA = 1e-9;

function modelPrivacy(schedule: { rhoPerRound: Rational; rounds: number }, threshold: number): ModelPrivacy {
  const total = rational(schedule.rhoPerRound.num * BigInt(schedule.rounds), schedule.rhoPerRound.den);
  return {
    rho: queryRhoText(queryRho(total)),
    rhoPerRound: queryRhoText(schedule.rhoPerRound),
    rounds: schedule.rounds,
    epsilon: rhoToEpsilon(total, DISPLAY_DELTA),
    delta: DISPLAY_DELTA,
    threshold,
    intervals: DP_INTERVALS,
  };
}
