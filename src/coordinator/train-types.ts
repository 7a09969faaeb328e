/**
 * The coordinator's public training types: what a caller passes to `Coordinator.train` and what it
 * gets back (the model document, who took part, every round with its log entry).
 */
import type { Rational } from '../dp/rational.js';
import type { FamilyName } from '../learn/family.js';
import type { ModelDocument, ModelPrivacy } from '../learn/model-file.js';
import type { AnswerMode } from '../protocol/query-envelope.js';
import type { FailedAgency, QueryProgress } from './query-context.js';

/** What to fit: a generalized linear model of one dataset, over every agency serving it. */
export interface TrainSpec {
  /** The dataset to fit, as the federation schema names it. */
  readonly dataset: string;
  /** `binomial` (logit link), `gaussian` (identity) or `poisson` (log). */
  readonly family: FamilyName;
  /** R's formula: `insured ~ age + sex + sector:district`, `- 1` drops the intercept, `offset(col)` for poisson. */
  readonly formula: string;
  /** A SQL condition over the dataset's columns (what follows WHERE): only the rows it holds for are fitted. */
  readonly where?: string;
  /** λ ≥ 0 of the ridge penalty on the internal (scaled) coefficients, the intercept not penalised (default 0). */
  readonly ridge?: number;
  /** Converged when the relative deviance change is below it (R's epsilon; default 1e-8). Exact fits only. */
  readonly tolerance?: number;
  /** The most Newton rounds of an exact fit (default 30). */
  readonly maxRounds?: number;
}

/** A differentially private fit: a fixed number of rounds, each charged ρ / rounds at every agency. */
export interface TrainPrivacy {
  /** zCDP ρ the whole fit spends at each agency, as text ("0.5", "1/2") or exact. */
  readonly rho: string | Rational;
  /** Rounds, announced before the first (default 6): the spend does not depend on the data. */
  readonly rounds?: number;
}

/** One round of a fit, as `onRound` reports it and the result lists it. */
export interface TrainRound {
  /** The round's number in this fit (1 for the first), as signed in its plan. */
  readonly round: number;
  /** What the round evaluated: β = 0, the intercept-only start, or a Newton step. */
  readonly phase: 'zero' | 'intercept' | 'newton';
  /** The deviance at the round's coefficients (noisy in a DP fit). */
  readonly deviance: number;
  /** max |Δβ| (internal scale) of the step that led to the round's coefficients. */
  readonly stepNorm: number;
  /** Wall-clock time of the round, from planning to the decoded sums. */
  readonly ms: number;
  /** The round's query id (32 hex digits), as in the transparency log. */
  readonly queryId: string;
  /** The agencies whose data the round's sums cover, sorted. */
  readonly agencies: readonly string[];
  /** The round's query entry in the transparency log (null without a log). */
  readonly logIndex: number | null;
}

/** How training goes on round by round (`onProgress` reports the phases inside each round too). */
export interface TrainOptions {
  /** Differential privacy (absent: exact sums, where the federation policy allows them). */
  readonly privacy?: TrainPrivacy;
  /**
   * A checkpoint file, rewritten atomically (mode 0600) before every round is sent and after it
   * is decoded: a fit killed at any point resumes from it with `resume`.
   */
  readonly checkpoint?: string;
  /** Continue the fit saved in `checkpoint` (CONFIG_INVALID when it is another fit or missing). */
  readonly resume?: boolean;
  /**
   * Go on with the agencies that answer when one is lost for good (default false: after the
   * retries, training stops with the checkpoint saved). The model names the agencies of every round.
   */
  readonly allowDropouts?: boolean;
  /** Times a round is asked again when an agency fails it (default 2). */
  readonly retries?: number;
  /** Secure-aggregation threshold of every round (default: as for queries). */
  readonly threshold?: number;
  /** Time each agency has to answer a round (default 30 s). */
  readonly deadlineMs?: number;
  /** `encrypted` (default) or a benchmark mode the agencies opted into. */
  readonly mode?: AnswerMode;
  /** Called after every round is decoded (and checkpointed). */
  readonly onRound?: (round: TrainRound) => void;
  /** The phases of each round, as `Coordinator.query` reports them. */
  readonly onProgress?: (event: QueryProgress) => void;
}

/** A finished fit. */
export interface TrainResult {
  /** MODEL.json: what `fedstat predict` scores with. */
  readonly model: ModelDocument;
  /** Agencies whose data the final round covers, and those that failed some round (and why). */
  readonly agencies: { readonly answered: readonly string[]; readonly failed: readonly FailedAgency[] };
  /** Every round, in order (with a resumed fit: those before the resume too). */
  readonly rounds: readonly TrainRound[];
  /** Null for an exact fit. */
  readonly privacy: ModelPrivacy | null;
  /** Rounds that were sent but never decoded (the coordinator stopped in them); their budget is spent. */
  readonly lostRounds: readonly number[];
}
