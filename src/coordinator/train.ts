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
import { FedstatError, isFedstatError } from '../errors.js';
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
import type { FailedAgency, PlannedQuery, RoundFinish, RoundOptions, RoundRun } from './query-context.js';
import { loadCheckpoint, saveCheckpoint, type FitIdentity, type FitProgress } from './train-checkpoint.js';
import { dpStepper, exactStepper, type FitStepper } from './train-stepper.js';
import type { TrainOptions, TrainResult, TrainRound, TrainSpec } from './train-types.js';

/** Rounds of a DP fit unless told (intercept start, then Newton steps from noisy sums). */
export const DEFAULT_DP_ROUNDS = 6;
const DEFAULT_RETRIES = 2;
/** Codes of a round that may succeed when asked again (an agency or the network came back). */
const RETRYABLE = new Set(['UNAVAILABLE', 'POLICY_REFUSED', 'BAD_MESSAGE', 'REPLAY', 'STALE_HEAD', 'IO']);

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
  const total = queryRho(rho);
  const grid = 10n ** 12n;
  const perRound = (total.num * grid) / (total.den * BigInt(rounds));
  if (perRound === 0n)
    throw new FedstatError('QUERY_INVALID', `ρ is too small to split over ${rounds} rounds; give a larger --rho`);
  return { rhoPerRound: queryRho(rational(perRound, grid)), rounds };
}

/** Runs the fit (see the file comment). */
export async function trainModel(ctx: TrainContext, spec: TrainSpec, options: TrainOptions = {}): Promise<TrainResult> {
  const fit = prepareFit(ctx, spec, options);
  ctx.requireLog();
  if (options.resume === true && options.checkpoint === undefined)
    throw new FedstatError('CONFIG_INVALID', 'resume needs the checkpoint file of the fit (--checkpoint FILE)');
  let progress =
    options.resume === true && options.checkpoint !== undefined
      ? resumed(await loadCheckpoint(options.checkpoint, fit.identity))
      : fresh(fit, ctx);
  const save = async (p: FitProgress): Promise<FitProgress> => {
    if (options.checkpoint !== undefined) await saveCheckpoint(options.checkpoint, fit.identity, p);
    return p;
  };
  progress = await save(progress);
  while (!fit.stepper.done(progress.state)) {
    if (fit.schedule !== null && progress.nextRound > fit.schedule.rounds) {
      progress = await save(cutShort(fit, progress, fit.schedule.rounds));
      break;
    }
    progress = await save(await roundWithRetries(ctx, fit, progress, options, save));
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

/** A checkpoint's progress, its round in flight (if any) counted as lost. */
function resumed(p: FitProgress): FitProgress {
  return p.inFlight === null ? p : { ...p, inFlight: null, lost: [...p.lost, p.inFlight] };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function roundWithRetries(
  ctx: TrainContext,
  fit: Fit,
  start: FitProgress,
  options: TrainOptions,
  save: (p: FitProgress) => Promise<FitProgress>,
): Promise<FitProgress> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  let progress = start;
  for (let attempt = 0; ; attempt++) {
    const round = progress.nextRound;
    progress = await save({ ...progress, nextRound: round + 1, inFlight: round });
    let decoded: Decoded;
    let sent = false;
    try {
      decoded = await askRound(ctx, fit, progress, round, options, () => (sent = true));
    } catch (e) {
      // A round refused before it was logged and sent (the preflight) spent nothing: its number is asked again.
      progress = await save(
        sent
          ? { ...progress, inFlight: null, lost: [...progress.lost, round] }
          : { ...progress, inFlight: null, nextRound: round },
      );
      const outOfRounds = fit.schedule !== null && progress.nextRound > fit.schedule.rounds;
      if (!isFedstatError(e) || !RETRYABLE.has(e.code) || attempt >= retries || outOfRounds)
        throw stopped(e, round, options);
      await sleep(Math.min(5_000, 500 * 2 ** attempt));
      continue;
    }
    // The round's sums are in: what the model makes of them (a singular information, separation) is final.
    return consume(fit, progress, decoded, options);
  }
}

/** The error that stops training when a round could not be had, saying where the fit stands and how to go on. */
function stopped(e: unknown, round: number, options: TrainOptions): unknown {
  if (!isFedstatError(e) || !RETRYABLE.has(e.code)) return e;
  const how =
    options.checkpoint === undefined
      ? 'give a checkpoint file (--checkpoint FILE) to be able to resume a stopped fit'
      : `the fit is saved in its checkpoint ${options.checkpoint}, and resumes from it (train again with resume: true)`;
  return new FedstatError(e.code, `training stopped in round ${round}: ${e.message}; ${how}`, {
    details: { ...e.details, round },
    cause: e,
  });
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

/** Every agency that failed some round, once, with its latest reason. */
function mergeFailed(before: readonly FailedAgency[], now: readonly FailedAgency[]): FailedAgency[] {
  const byId = new Map(before.map((f) => [f.id, f]));
  for (const f of now) byId.set(f.id, f);
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
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
