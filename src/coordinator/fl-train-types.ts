/**
 * The public types of `Coordinator.trainNetwork`: a federated-averaging run's spec, its options and
 * its result (the network MODEL.json and the learning curve).
 */
import type { Rational } from '../dp/rational.js';
import type { CurvePoint } from '../learn/fl/learning-curve.js';
import type { NetworkDocument, NetworkPrivacy } from '../learn/fl/network-file.js';
import type { AnswerMode } from '../protocol/query-envelope.js';
import type { FailedAgency, QueryProgress } from './query-context.js';

/** The server strategies (learn/fl/strategy.ts); FedProx is FedAvg with the proximal term μ above 0. */
export type StrategyName = 'fedavg' | 'fedprox' | 'fedadam';

/** What to train. */
export interface NetworkSpec {
  /** The dataset to train on (every agency serving it may take part). */
  readonly dataset: string;
  /** binomial (binary classification) or gaussian (regression); default binomial when the response is binary, gaussian otherwise. */
  readonly family?: 'binomial' | 'gaussian';
  /** `y ~ terms`, the GLM formula grammar (docs/learning.md). */
  readonly formula: string;
  /** Only rows this condition holds for are used. */
  readonly where?: string;
  /** Hidden layer widths of the built-in MLP ([]: logistic or linear regression by averaging; default [32, 16]). */
  readonly hidden?: readonly number[];
  /**
   * A model of your own instead of the MLP: the name its `TrainerFactory` is registered under at
   * the coordinator and every agency (their `trainers` option), and its JSON config.
   */
  readonly trainer?: { readonly name: string; readonly config?: unknown };
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
  /** Per-example gradient L2 bound (default 1 with DP; 100 without, where it only guards against outliers). */
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
  /** Record-level DP; without it every round releases exact sums, which only `policy.exactRelease` allows. */
  readonly privacy?: NetworkPrivacyOptions;
  /** Checkpoint file, rewritten after every round. */
  readonly checkpoint?: string;
  /** Continue the run saved in `checkpoint`. */
  readonly resume?: boolean;
  /** Times a failed round is asked again (default 2). */
  readonly retries?: number;
  /** Secure-aggregation threshold of every round (default ⌈2n/3⌉ of the agencies asked). */
  readonly threshold?: number;
  /** Time each agency has to answer a round (default 30 s). */
  readonly deadlineMs?: number;
  /** `encrypted`; the other modes are for benchmarks only. */
  readonly mode?: AnswerMode;
  /** After every round, with its curve point. */
  readonly onRound?: (point: CurvePoint, ms: number) => void;
  /** As each round goes: asked, each agency answered or failed, unmasking, decrypting. */
  readonly onProgress?: (event: QueryProgress) => void;
}

/** A finished run. */
export interface NetworkTrainResult {
  /** MODEL.json's document (for `fedstat predict`). */
  readonly model: NetworkDocument;
  /** The learning curve, one point per decoded round. */
  readonly curve: readonly CurvePoint[];
  /** null for an exact run. */
  readonly privacy: NetworkPrivacy | null;
  /** Rounds sent and never decoded. */
  readonly lostRounds: readonly number[];
  /** Every agency that failed some round, with its latest reason. */
  readonly failed: readonly FailedAgency[];
}
