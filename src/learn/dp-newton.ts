/**
 * Newton rounds on noisy sums, for a differentially private fit (issue 13). The privacy spend must
 * not depend on the data, so a DP fit runs a FIXED number of rounds R, announced before the first,
 * with no early stop, no step halving and no test on the (noisy) deviance:
 *
 * 1. round 1 at β = 0; for poisson with an intercept it moves to the intercept-only fit in closed
 *    form (log Σy/Σe^offset: a log-link Newton step from 0 can be far off), otherwise it takes a
 *    Newton step like every later round. Round 1's sums also give the null deviance in closed form
 *    (`nullDevianceAtZero`): no round is spent on it;
 * 2. every round: Δ = Ã⁻¹·(g̃ − λDβ), Ã = H̃ + λD (D the identity but 0 for the intercept) with
 *    its eigenvalues lifted to at least the floor 3·σ_H·√d: σ_H is the information noise's std
 *    per entry, and 2·σ_H·√d is about the spectral norm of a d×d symmetric noise matrix, so the
 *    floor keeps a direction the noise swamps from blowing the step up. The step is then scaled
 *    so that max |Δ_j| ≤ 4 on the internal scale (|x_j| ≤ 1: η moves by at most 4 per term;
 *    gaussian: 4·max|y|), a trust region against a wild early step.
 *
 * After round R, β = β_{R−1} + Δ_R is the estimate; dp-inference.ts gives its table from the
 * last sums. The state is plain JSON (a coordinator checkpoints it between rounds), and every
 * update is a deterministic function of the state and the released sums: a resumed fit repeats it.
 */
import { FedstatError } from '../errors.js';
import type { ModelCoding } from './design.js';
import type { GlmEncodingPlan } from './fixed-point.js';
import { glmNoiseVariance, type GlmNoiseVariance } from './glm-noise.js';
import { informationFloor, penalisedInformation } from './dp-inference.js';
import type { GlmSums } from './sums.js';
import { fromEigen, symmetricEigen } from './symmetric-eigen.js';

export { DP_INTERVALS, dpInferenceTable } from './dp-inference.js';

/** The most rounds a DP fit may announce. */
export const MAX_DP_ROUNDS = 100;
/** max |Δ_j| per round, in units of η. */
const STEP_CAP = 4;

/** Options of one DP round. */
export interface DpNewtonOptions {
  /** λ ≥ 0 of the ridge penalty (as newton.ts). */
  readonly ridge: number;
  /** The round's encoding plan, with its privacy (the noise variance is read from it). */
  readonly plan: GlmEncodingPlan;
  /** Agencies whose noise the sums carry (default: the plan's threshold, the least). */
  readonly contributors?: number;
}

/** One round as reported. */
export interface DpRoundReport {
  readonly round: number;
  readonly phase: 'intercept' | 'newton';
  /** The noisy deviance at the round's β. */
  readonly deviance: number;
  /** max |Δβ_j| of the step the round took (internal scale). */
  readonly stepNorm: number;
  /** Eigenvalues of Ã lifted to the floor. */
  readonly floored: number;
  /** Whether the step was scaled down to the cap. */
  readonly capped: boolean;
}

/** The state between rounds (JSON). `beta` is where the next sums are computed, or the estimate when done. */
export interface DpNewtonState {
  /** Rounds consumed. */
  readonly round: number;
  /** R, announced before the first. */
  readonly rounds: number;
  readonly phase: 'newton' | 'done';
  readonly beta: readonly number[];
  /** β at which the last sums were computed (null before round 1). */
  readonly evaluated: readonly number[] | null;
  /** The step the last round took from `evaluated` to `beta`. */
  readonly lastStep: readonly number[] | null;
  /** From round 1's sums (noisy). */
  readonly nullDeviance: number | null;
  readonly history: readonly DpRoundReport[];
  readonly warnings: readonly string[];
}

/** The state before round 1 of an R-round DP fit (2 ≤ R ≤ MAX_DP_ROUNDS). */
export function startDpNewton(coding: ModelCoding, rounds: number): DpNewtonState {
  if (!Number.isSafeInteger(rounds) || rounds < 2 || rounds > MAX_DP_ROUNDS)
    throw new RangeError(`startDpNewton: rounds must be an integer from 2 to ${MAX_DP_ROUNDS}`);
  return {
    round: 0,
    rounds,
    phase: 'newton',
    beta: coding.columns.map(() => 0),
    evaluated: null,
    lastStep: null,
    nullDeviance: null,
    history: [],
    warnings: [],
  };
}

function tooNoisy(what: string): FedstatError {
  return new FedstatError(
    'QUERY_INVALID',
    `${what} in the noisy sums of the first round; raise rho, use more rows, or fit fewer terms`,
    { details: { reason: 'too-noisy' } },
  );
}

/** Σy and Σe^offset from the sums at β = 0 (poisson), refusing what noise made meaningless. */
function poissonTotals(sums: GlmSums): { y: number; mu: number } {
  const mu = sums.information[0] as number; // Σ w·1·1 with w = μ = e^offset at β = 0
  if (!(mu > 0)) throw tooNoisy('the exposure Σe^offset is not positive');
  return { y: Math.max(0.5, (sums.gradient[0] as number) + mu), mu };
}

/**
 * The null deviance (intercept-only model, with the offset) from the sums at β = 0, where the
 * intercept's column is all ones: binomial −2[m·log p̄ + (n−m)·log(1−p̄)], m = g₀ + n/2;
 * gaussian D₀ − g₀²/n; poisson D₀ + 2Σy − 2Σe^o − 2Σy·log(Σy/Σe^o). Without an intercept, D₀.
 */
function nullDevianceAtZero(coding: ModelCoding, sums: GlmSums): number {
  if (!coding.intercept) return sums.deviance;
  const n = sums.n;
  if (!(n >= 2)) throw tooNoisy('the row count is below 2');
  const g0 = sums.gradient[0] as number;
  if (coding.family === 'gaussian') return sums.deviance - (g0 * g0) / n;
  if (coding.family === 'binomial') {
    const m = Math.min(n - 0.5, Math.max(0.5, g0 + n / 2));
    return -2 * (m * Math.log(m / n) + (n - m) * Math.log1p(-m / n));
  }
  const { y, mu } = poissonTotals(sums);
  return sums.deviance + 2 * y - 2 * mu - 2 * y * Math.log(y / mu);
}

function stepCap(coding: ModelCoding): number {
  const r = coding.response;
  const scale =
    coding.family === 'gaussian' && r.kind === 'integer' ? Math.max(Math.abs(r.min), Math.abs(r.max), 1) : 1;
  return STEP_CAP * scale;
}

/** The floored, capped Newton step at `beta` (see the file comment). */
function dpStep(
  coding: ModelCoding,
  sums: GlmSums,
  beta: readonly number[],
  ridge: number,
  noise: GlmNoiseVariance,
): { step: number[]; floored: number; capped: boolean } {
  const d = beta.length;
  const eigen = symmetricEigen(penalisedInformation(coding, sums, ridge), d);
  const largest = Math.max(0, ...Array.from(eigen.values, Math.abs));
  const floor = informationFloor(noise, d, largest);
  const floored = eigen.values.filter((v) => v < floor).length;
  const inverse = fromEigen(eigen, (v) => 1 / Math.max(v, floor));
  const rhs = Array.from(sums.gradient, (g, j) => (coding.intercept && j === 0 ? g : g - ridge * (beta[j] as number)));
  const step = rhs.map((_, i) => rhs.reduce((s, r, j) => s + (inverse[i * d + j] as number) * r, 0));
  const norm = Math.max(0, ...step.map(Math.abs));
  const cap = stepCap(coding);
  const scale = norm > cap ? cap / norm : 1;
  return { step: step.map((s) => s * scale), floored, capped: scale < 1 };
}

function checkRound(state: DpNewtonState, sums: GlmSums, options: DpNewtonOptions): void {
  if (state.phase === 'done') throw new RangeError('dpNewtonRound: the fit is done');
  if (sums.gradient.length !== state.beta.length || options.plan.coefficients !== state.beta.length)
    throw new RangeError('dpNewtonRound: the sums or the plan are for another number of coefficients');
  if (!(Number.isFinite(options.ridge) && options.ridge >= 0))
    throw new RangeError('ridge must be a finite number ≥ 0');
}

/**
 * Consumes the noisy sums computed at `state.beta` and returns the next state; `phase: 'done'`
 * after the R-th round, with `beta` the estimate. Deterministic in its inputs.
 */
export function dpNewtonRound(
  state: DpNewtonState,
  sums: GlmSums,
  coding: ModelCoding,
  options: DpNewtonOptions,
): DpNewtonState {
  checkRound(state, sums, options);
  const first = state.round === 0;
  const nullDeviance = first ? nullDevianceAtZero(coding, sums) : state.nullDeviance;
  let taken: { step: number[]; floored: number; capped: boolean };
  let phase: DpRoundReport['phase'] = 'newton';
  if (first && coding.family === 'poisson' && coding.intercept) {
    const { y, mu } = poissonTotals(sums);
    taken = { step: state.beta.map((_, j) => (j === 0 ? Math.log(y / mu) : 0)), floored: 0, capped: false };
    phase = 'intercept';
  } else {
    const noise = glmNoiseVariance(options.plan, options.contributors);
    taken = dpStep(coding, sums, state.beta, options.ridge, noise);
  }
  const beta = state.beta.map((b, j) => b + (taken.step[j] as number));
  if (!beta.every(Number.isFinite) || nullDeviance === null || !Number.isFinite(nullDeviance))
    throw new FedstatError('INTERNAL', 'a DP Newton round produced a non-finite number; please report it');
  const round = state.round + 1;
  const report: DpRoundReport = {
    round,
    phase,
    deviance: sums.deviance,
    stepNorm: Math.max(0, ...taken.step.map(Math.abs)),
    floored: taken.floored,
    capped: taken.capped,
  };
  const done = round >= state.rounds;
  const warnings =
    done && taken.capped
      ? [
          ...state.warnings,
          `the last round's step was cut to the trust region: the fit had not settled; announce more rounds`,
        ]
      : state.warnings;
  return {
    ...state,
    round,
    phase: done ? 'done' : 'newton',
    warnings,
    beta,
    evaluated: state.beta,
    lastStep: taken.step,
    nullDeviance,
    history: [...state.history, report],
  };
}
