/**
 * The two ways a fit moves from round to round, behind one interface for train.ts: the exact
 * Newton iteration (learn/newton.ts: converges, halves steps, stops on the deviance change), and
 * the differentially private one (learn/dp-newton.ts: a fixed number of rounds announced before
 * the first, so that the spend does not depend on the data). States are plain JSON (checkpoints).
 */
import type { ModelCoding } from '../learn/design.js';
import { dpInferenceTable, dpNewtonRound, startDpNewton, type DpNewtonState } from '../learn/dp-newton.js';
import { glmNoiseVariance } from '../learn/glm-noise.js';
import type { GlmEncodingPlan } from '../learn/fixed-point.js';
import type { GlmTable } from '../learn/inference.js';
import { inferenceTable } from '../learn/inference.js';
import { newtonRound, startNewton, type NewtonOptions, type NewtonState } from '../learn/newton.js';
import type { GlmSums } from '../learn/sums.js';

/** A round's encoding plan and the number of agencies whose noise its total carries. */
export interface RoundNoise {
  readonly encoding: GlmEncodingPlan;
  readonly contributors: number;
}

/** What the caller reports of a round just consumed. */
export interface StepReport {
  readonly phase: 'zero' | 'intercept' | 'newton';
  readonly stepNorm: number;
}

/** A fit's iteration (see the file comment); `S` is its JSON state. */
export interface FitStepper<S> {
  start(): S;
  /** Where the next round's sums are computed. */
  beta(state: S): readonly number[];
  done(state: S): boolean;
  /**
   * Consumes the round's sums (computed at `beta(state)`): `round` is how they were encoded (with
   * its noise, in a DP fit) and by how many agencies (each added its share of the noise).
   */
  round(state: S, sums: GlmSums, round: RoundNoise): { state: S; report: StepReport };
  /** The table of a finished fit, from its last round's sums and how they were encoded (null for an exact fit). */
  table(state: S, sums: GlmSums, round: RoundNoise | null): GlmTable;
  /** β' of the fitted model (internal scale). */
  coefficients(state: S): readonly number[];
  /** Ends a DP fit whose lost rounds used up its announced rounds, with `warning`; RangeError for an exact fit. */
  cut(state: S, warning: string): S;
}

/** The exact fit: R's IRLS/Newton with its convergence rule. */
export function exactStepper(coding: ModelCoding, options: NewtonOptions): FitStepper<NewtonState> {
  return {
    start: () => startNewton(coding),
    beta: (s) => s.beta,
    done: (s) => s.phase === 'done',
    round(state, sums) {
      const next = newtonRound(state, sums, coding, options);
      const last = next.history.at(-1);
      return { state: next, report: { phase: last?.phase ?? 'newton', stepNorm: state.stepNorm } };
    },
    table: (state, sums) => inferenceTable(coding, state, sums, options.ridge),
    coefficients: (s) => s.beta,
    cut: () => {
      throw new RangeError('exactStepper: an exact fit has no announced rounds to run out of');
    },
  };
}

/** The DP fit: `rounds` rounds, each on sums with Skellam noise; its table's intervals include the noise. */
export function dpStepper(coding: ModelCoding, rounds: number, ridge: number): FitStepper<DpNewtonState> {
  return {
    start: () => startDpNewton(coding, rounds),
    beta: (s) => s.beta,
    done: (s) => s.phase === 'done',
    round(state, sums, { encoding, contributors }) {
      const next = dpNewtonRound(state, sums, coding, { ridge, plan: encoding, contributors });
      // The step that led to the β these sums were computed at is the previous round's.
      const stepNorm = state.history.at(-1)?.stepNorm ?? 0;
      return { state: next, report: { phase: state.round === 0 ? 'zero' : 'newton', stepNorm } };
    },
    table(state, sums, round) {
      if (round === null) throw new RangeError('dpStepper: the table of a DP fit needs its last round');
      return dpInferenceTable(coding, state, sums, ridge, glmNoiseVariance(round.encoding, round.contributors));
    },
    coefficients: (s) => s.beta,
    cut(state, warning) {
      if (state.lastStep === null) throw new RangeError('dpStepper: no round was consumed');
      return { ...state, phase: 'done', warnings: [...state.warnings, warning] };
    },
  };
}
