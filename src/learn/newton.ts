/**
 * Fisher scoring as a sequence of rounds, each consuming the sums (sums.ts) computed at the
 * coefficients the previous round asked for. The state is plain data, so a coordinator can keep
 * it in a checkpoint and resume, and the same code drives a pooled fit (pooled-fit.ts).
 *
 * Rounds:
 * 1. at β = 0: checks the design (a column with no rows, collinear columns); with an intercept,
 *    moves to the intercept-only fit in closed form (logit/log/identity of the mean response);
 * 2. at the intercept-only fit: its deviance is R's null deviance (`intercept + offset` for poisson
 *    too: log(Σy/Σe^offset) is that model's exact fit). Without an intercept the null deviance is
 *    the deviance at β = 0, as R's;
 * 3. onward, Newton steps: (I + λD)·Δ = g - λDβ, with D the identity except 0 for the intercept,
 *    i.e. the maximum of the log-likelihood minus (λ/2)·Σ β'_j² over the internally scaled
 *    coefficients (scaling.ts). A step that increases the penalised deviance is halved (up to 10
 *    times; each try is a round). Converged when |Δdev|/(|dev| + 0.1) < tolerance (R's
 *    glm.control rule, on the penalised deviance); gaussian converges after one full step.
 *    Separation and divergence stop the fit as soon as they show (`checkDivergence`), with the
 *    term named: waiting for R's rule would cost some 20 federated rounds.
 *
 * The fit is the last β evaluated, with the sums at it (their information gives the standard errors).
 */
import { FedstatError } from '../errors.js';
import { cholesky, choleskySolve } from './cholesky.js';
import type { ModelCoding } from './design.js';
import { collinearError, divergenceError, divergingColumns, noRowsError, termOf } from './diagnostics.js';
import type { GlmSums } from './sums.js';
import { packedIndex, unpackInformation } from './sums.js';

/** Options of a fit, validated by `newtonOptions`. */
export interface NewtonOptions {
  /** λ ≥ 0 of the ridge penalty (λ/2)·Σβ'² on the internal scale, the intercept not penalised. */
  readonly ridge: number;
  /** R's glm.control epsilon: converged when |Δdev|/(|dev| + 0.1) is below it. */
  readonly tolerance: number;
  /** Rounds (sum evaluations) at most, at least 3. */
  readonly maxRounds: number;
}

/** R's defaults (epsilon 1e-8; maxit 25 iterations, plus the two starting rounds and slack). */
export const NEWTON_DEFAULTS: NewtonOptions = Object.freeze({ ridge: 0, tolerance: 1e-8, maxRounds: 30 });

/** Halvings of one step before the fit gives up. */
const MAX_HALVINGS = 10;

/** `options` over the defaults, validated and frozen; RangeError names a bad one. */
export function newtonOptions(options: Partial<NewtonOptions> = {}): NewtonOptions {
  const o = { ...NEWTON_DEFAULTS, ...options };
  if (!(Number.isFinite(o.ridge) && o.ridge >= 0)) throw new RangeError('ridge must be a finite number ≥ 0');
  if (!(Number.isFinite(o.tolerance) && o.tolerance > 0 && o.tolerance < 1))
    throw new RangeError('tolerance must be in (0, 1)');
  if (!(Number.isSafeInteger(o.maxRounds) && o.maxRounds >= 3))
    throw new RangeError('maxRounds must be an integer ≥ 3');
  return Object.freeze(o);
}

/** One round as reported: the deviance at its β and the size of the step that led there. */
export interface RoundReport {
  readonly round: number;
  readonly phase: 'zero' | 'intercept' | 'newton';
  readonly deviance: number;
  /** max |Δβ_j| (internal scale, so it bounds the change of η) of the step to this round's β. */
  readonly stepNorm: number;
  /** False when this β raised the penalised deviance, so the step to it is halved next. */
  readonly accepted: boolean;
}

/** The state between rounds (JSON-serialisable). `beta` is where the next sums are computed. */
export interface NewtonState {
  readonly round: number;
  readonly phase: 'zero' | 'intercept' | 'newton' | 'done';
  readonly beta: readonly number[];
  /** max |Δβ_j| of the step to `beta`. */
  readonly stepNorm: number;
  readonly accepted: {
    readonly beta: readonly number[];
    readonly objective: number;
    readonly step: readonly number[];
  } | null;
  readonly halvings: number;
  readonly nullDeviance: number | null;
  /** The last three accepted steps, oldest first (the divergence check reads them). */
  readonly steps: readonly (readonly number[])[];
  readonly converged: boolean;
  readonly history: readonly RoundReport[];
  readonly warnings: readonly string[];
}

/** The state before the first round: evaluate at β = 0. */
export function startNewton(coding: ModelCoding): NewtonState {
  return {
    round: 0,
    phase: 'zero',
    beta: coding.columns.map(() => 0),
    stepNorm: 0,
    accepted: null,
    halvings: 0,
    nullDeviance: null,
    steps: [],
    converged: false,
    history: [],
    warnings: [],
  };
}

function penalty(coding: ModelCoding, ridge: number, beta: readonly number[]): number {
  if (ridge === 0) return 0;
  return ridge * beta.reduce((s, b, j) => (j === 0 && coding.intercept ? s : s + b * b), 0);
}

/**
 * The Newton step at `beta`: the solution of (I + λD)·Δ = g - λDβ, or the column at which the
 * penalised information is not positive definite.
 */
function newtonStep(
  coding: ModelCoding,
  sums: GlmSums,
  beta: readonly number[],
  ridge: number,
): { step: Float64Array } | { failedAt: number } {
  const d = beta.length;
  const a = unpackInformation(sums);
  const rhs = Float64Array.from(sums.gradient);
  for (let j = coding.intercept ? 1 : 0; j < d; j++) {
    a[j * d + j] = (a[j * d + j] as number) + ridge;
    rhs[j] = (rhs[j] as number) - ridge * (beta[j] as number);
  }
  const f = cholesky(a, d);
  return f.ok ? { step: choleskySolve(f.l, d, rhs) } : { failedAt: f.column };
}

/** Round 1's checks: no column without rows; with no ridge, no collinear columns. */
function checkDesign(coding: ModelCoding, sums: GlmSums, ridge: number): void {
  const d = sums.gradient.length;
  for (let j = 0; j < d; j++)
    if (!((sums.information[packedIndex(d, j, j)] as number) > 0)) throw noRowsError(coding, j);
  if (ridge > 0) return;
  const a = unpackInformation(sums);
  const f = cholesky(a, d);
  if (!f.ok) throw collinearError(coding, f, a);
}

/** The intercept of the intercept-only fit, from the sums at β = 0 (g₀, I₀₀, n). */
function interceptStart(coding: ModelCoding, sums: GlmSums): number {
  const g0 = sums.gradient[0] as number;
  const i00 = sums.information[0] as number;
  const constant = (what: string): FedstatError =>
    new FedstatError(
      'QUERY_INVALID',
      `every row has ${what}, so there is nothing to model; select rows with both outcomes`,
      {
        details: { reason: 'constant-response', term: coding.response.column },
      },
    );
  if (coding.family === 'gaussian') return g0 / sums.n;
  if (coding.family === 'binomial') {
    const events = g0 + sums.n / 2; // at β = 0, μ = 1/2 on every row
    if (events <= 0) throw constant(`the response ${coding.response.column} = non-event`);
    if (events >= sums.n) throw constant(`the response ${coding.response.column} = event`);
    return Math.log(events / (sums.n - events));
  }
  const total = g0 + i00; // Σy = Σ(y - μ) + Σμ, with μ = e^offset
  if (!(total > 0)) throw constant(`the count ${coding.response.column} = 0`);
  return Math.log(total / i00);
}

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < v.length; j++) m = Math.max(m, Math.abs(v[j] as number));
  return m;
}

function report(state: NewtonState, sums: GlmSums, accepted = true): RoundReport[] {
  const phase = state.phase === 'done' ? 'newton' : state.phase;
  return [
    ...state.history,
    { round: state.round + 1, phase, deviance: sums.deviance, stepNorm: state.stepNorm, accepted },
  ];
}

/** Accepts the point just evaluated and moves to it plus its Newton step. */
function accept(
  state: NewtonState,
  coding: ModelCoding,
  sums: GlmSums,
  options: NewtonOptions,
  objective: number,
): NewtonState {
  const r = newtonStep(coding, sums, state.beta, options.ridge);
  if ('failedAt' in r) throw divergenceError(coding, [r.failedAt], false);
  const step = Array.from(r.step);
  return {
    ...state,
    round: state.round + 1,
    phase: 'newton',
    accepted: { beta: state.beta, objective, step },
    beta: state.beta.map((b, j) => b + (step[j] as number)),
    stepNorm: maxAbs(step),
    halvings: 0,
    steps: [...state.steps, step].slice(-3),
    history: report(state, sums),
  };
}

/** Ends the fit at `state.beta` (where `sums` were computed), after the divergence checks. */
function finish(
  state: NewtonState,
  coding: ModelCoding,
  sums: GlmSums,
  converged: boolean,
  steps = state.steps,
): NewtonState {
  const diverging = divergingColumns(steps, state.beta);
  if (diverging.length > 0 && coding.family !== 'gaussian') throw divergenceError(coding, diverging, false);
  if (!state.beta.every(Number.isFinite))
    throw new FedstatError('INTERNAL', 'the fit produced a non-finite coefficient; please report it');
  const warnings = converged
    ? state.warnings
    : [
        ...state.warnings,
        `the fit did not converge in ${state.round + 1} rounds; raise the maximum rounds or the tolerance`,
      ];
  return { ...state, round: state.round + 1, phase: 'done', converged, warnings, steps, history: report(state, sums) };
}

/** Consumes the sums computed at `state.beta` and returns the next state (`phase: 'done'` at the end). */
export function newtonRound(
  state: NewtonState,
  sums: GlmSums,
  coding: ModelCoding,
  options: NewtonOptions,
): NewtonState {
  if (state.phase === 'done') throw new RangeError('newtonRound: the fit is done');
  if (sums.gradient.length !== state.beta.length)
    throw new RangeError('newtonRound: the sums are for another number of coefficients');
  if (sums.n === 0) throw noRowsError(coding, 0);
  const objective = sums.deviance + penalty(coding, options.ridge, state.beta);
  if (state.phase === 'zero') {
    if (!Number.isFinite(objective))
      throw new FedstatError('INTERNAL', 'the deviance at β = 0 is not finite; please report it');
    checkDesign(coding, sums, options.ridge);
    if (!coding.intercept) return accept({ ...state, nullDeviance: sums.deviance }, coding, sums, options, objective);
    const beta = state.beta.map((_, j) => (j === 0 ? interceptStart(coding, sums) : 0));
    return {
      ...state,
      round: 1,
      phase: 'intercept',
      beta,
      stepNorm: Math.abs(beta[0] ?? 0),
      history: report(state, sums),
    };
  }
  if (state.phase === 'intercept')
    return accept({ ...state, nullDeviance: sums.deviance }, coding, sums, options, objective);
  const prev = state.accepted;
  if (prev === null) throw new RangeError('newtonRound: no accepted point');
  const change = Math.abs(objective - prev.objective) / (Math.abs(objective) + 0.1);
  // Gaussian deviance is quadratic in β: one full Newton step lands on the optimum.
  const gaussianDone = coding.family === 'gaussian' && state.halvings === 0;
  if (Number.isFinite(objective) && (change < options.tolerance || gaussianDone))
    return finish(state, coding, sums, true);
  if (!Number.isFinite(objective) || objective > prev.objective) return halve(state, coding, sums, options);
  checkDivergence(state, sums, coding, options, change);
  if (state.round + 1 >= options.maxRounds) {
    // Out of rounds: end here, but let the divergence check see the step this point would take.
    const r = newtonStep(coding, sums, state.beta, options.ridge);
    const steps = 'step' in r ? [...state.steps, Array.from(r.step)].slice(-3) : state.steps;
    return finish(state, coding, sums, false, steps);
  }
  return accept(state, coding, sums, options, objective);
}

/**
 * Stops a fit that runs away, early: each round is a federated query, so waiting for the deviance
 * rule (some 20 rounds) is waste. A coefficient whose steps keep their size (divergingColumns)
 * while the deviance has stopped moving (relative change < 1e-4) cannot be converging, as Newton
 * steps shrink quadratically near an optimum; nor can a binomial deviance below 1e-4 per row
 * (every outcome predicted exactly) or, whatever the steps, below 1e-6 in total.
 */
function checkDivergence(
  state: NewtonState,
  sums: GlmSums,
  coding: ModelCoding,
  options: NewtonOptions,
  change: number,
): void {
  if (options.ridge > 0 || coding.family === 'gaussian') return;
  const diverging = divergingColumns(state.steps, state.beta);
  const exact =
    coding.family === 'binomial' && (sums.deviance < 1e-6 || (diverging.length > 0 && sums.deviance < 1e-4 * sums.n));
  if (exact)
    throw divergenceError(
      coding,
      diverging.length > 0 ? diverging : largestSteps(state.steps.at(-1) ?? [], coding),
      true,
    );
  if (diverging.length > 0 && change < 1e-4) throw divergenceError(coding, diverging, false);
}

/** Rejects the point just evaluated: the next round tries half the step to it. */
function halve(state: NewtonState, coding: ModelCoding, sums: GlmSums, options: NewtonOptions): NewtonState {
  const prev = state.accepted;
  if (prev === null) throw new RangeError('newtonRound: no accepted point');
  const halvings = state.halvings + 1;
  const diverging = divergingColumns(state.steps, prev.beta);
  if (diverging.length > 0 && (halvings > MAX_HALVINGS || state.round + 1 >= options.maxRounds))
    throw divergenceError(coding, diverging, false);
  if (halvings > MAX_HALVINGS) {
    const j = largestSteps(prev.step, coding)[0] ?? 0;
    const name = coding.coefficients[j] ?? '';
    throw new FedstatError(
      'QUERY_INVALID',
      `the deviance rises along every fraction of the Newton step tried (the largest part is along ${name}, term ${termOf(coding, j)}); drop that term, or fit with a ridge penalty (--ridge 0.1)`,
      {
        details: { reason: 'divergence', coefficient: name, term: termOf(coding, j) },
      },
    );
  }
  if (state.round + 1 >= options.maxRounds) {
    throw new FedstatError(
      'QUERY_INVALID',
      `the fit did not converge in ${options.maxRounds} rounds (its last step was being shortened); raise the maximum rounds`,
      {
        details: { reason: 'not-converged' },
      },
    );
  }
  const factor = 2 ** -halvings;
  return {
    ...state,
    round: state.round + 1,
    halvings,
    beta: prev.beta.map((b, j) => b + (prev.step[j] as number) * factor),
    stepNorm: maxAbs(prev.step) * factor,
    history: report(state, sums, false),
  };
}

/** Up to three columns with the largest |step| (at least half the largest), largest first: the direction a separation runs. */
function largestSteps(step: readonly number[], coding: ModelCoding): number[] {
  const sized = step.map((s, j) => ({ s: Math.abs(s), j })).filter(({ j }) => !(coding.intercept && j === 0));
  const top = Math.max(0, ...sized.map(({ s }) => s));
  return sized
    .filter(({ s }) => s >= top / 2)
    .sort((a, b) => b.s - a.s)
    .slice(0, 3)
    .map(({ j }) => j);
}
