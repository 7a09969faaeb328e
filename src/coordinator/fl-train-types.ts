/**
 * The public types of `Coordinator.trainNetwork`: a federated-averaging run's spec, its options and
 * its result (the network MODEL.json and the learning curve).
 */
import type { Rational } from '../dp/rational.js';
import type { CurvePoint } from '../learn/fl/learning-curve.js';
import type { NetworkDocument, NetworkPrivacy } from '../learn/fl/network-file.js';
import type { AnswerMode } from '../protocol/query-envelope.js';
import type { FailedAgency, QueryProgress } from './query-context.js';

/** The server strategies (learn/fl/strategy.ts); FedProx is FedAvg with the proximal term μ > 0. */
export type StrategyName = 'fedavg' | 'fedprox' | 'fedadam';

/** What to train. */
export interface NetworkSpec {
  readonly dataset: string;
  /** binomial (binary classification) or gaussian (regression); default binomial when the response is binary, gaussian otherwise. */
  readonly family?: 'binomial' | 'gaussian';
  /** `y ~ terms`, the GLM formula grammar (docs/learning.md). */
  readonly formula: string;
  /** Only rows this condition holds for are used. */
  readonly where?: string;
  /** Hidden layer widths ([] : logistic or linear regression by averaging). */
  readonly hidden: readonly number[];
  /** Hidden activation (default tanh). */
  readonly activation?: 'tanh' | 'relu';
  /** Default fedavg. */
  readonly strategy?: StrategyName;
  /** FedProx's μ (default 0.01 for fedprox, 0 otherwise). */
  readonly mu?: number;
  /** Server learning rate (default 1 for fedavg and fedprox, 0.01 for fedadam as in Reddi et al.). */
  readonly serverLr?: number;
  /** Training rounds (default 20). */
  readonly rounds?: number;
  /** Local epochs per round (default 1; DP rounds take exactly one DP-SGD step). */
  readonly localEpochs?: number;
  /** Local batch size (default 32; DP rounds use every training record). */
  readonly batch?: number;
  /** Local learning rate (default 0.1; 1 for DP rounds' single full-batch step). */
  readonly lr?: number;
  /** Per-example gradient L2 bound (default 1). */
  readonly clip?: number;
  /** Fraction of each agency's records held out for validation (default 0.2; 0: none). */
  readonly validation?: number;
  /** Agencies asked per round, sampled per step from those serving the dataset (default all). */
  readonly agenciesPerRound?: number;
  /** Seed of the initial parameters (default 1). */
  readonly seed?: number;
  /** Exact rounds: the L2 bound each agency clips its local change to (default 10). */
  readonly updateBound?: number;
}

/** Record-level differential privacy for the whole run. */
export interface NetworkPrivacyOptions {
  /** zCDP ρ each agency spends over the whole run (split evenly over its rounds). */
  readonly rho: string | Rational;
  /** δ for the ε shown (default 1e-9). */
  readonly delta?: number;
}

/** How to run it. */
export interface NetworkTrainOptions {
  readonly privacy?: NetworkPrivacyOptions;
  /** Checkpoint file, rewritten after every round. */
  readonly checkpoint?: string;
  /** Continue the run saved in `checkpoint`. */
  readonly resume?: boolean;
  /** Times a failed round is asked again (default 2). */
  readonly retries?: number;
  readonly threshold?: number;
  readonly deadlineMs?: number;
  readonly mode?: AnswerMode;
  /** After every round, with its curve point. */
  readonly onRound?: (point: CurvePoint, ms: number) => void;
  readonly onProgress?: (event: QueryProgress) => void;
}

/** A finished run. */
export interface NetworkTrainResult {
  readonly model: NetworkDocument;
  readonly curve: readonly CurvePoint[];
  readonly privacy: NetworkPrivacy | null;
  /** Rounds sent and never decoded. */
  readonly lostRounds: readonly number[];
  readonly failed: readonly FailedAgency[];
}
