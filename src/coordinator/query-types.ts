/**
 * The coordinator's public query types: what a caller passes to `Coordinator.query` and what it
 * gets back (rows with their uncertainty, who answered, secure aggregation's outcome, timings).
 */
import type { Rational } from '../dp/rational.js';
import type { AnswerMode } from '../protocol/query-envelope.js';
import type { QueryPlan } from '../query/plan.js';
import type { FailedAgency, QueryProgress } from './query-context.js';
import type { Release } from './release.js';

/** Secure aggregation's outcome: who was unmasked, who dropped, who was lost in round 2 (tolerated). */
export interface SecureAggregationReport {
  readonly threshold: number;
  readonly survivors: readonly string[];
  readonly dropped: readonly string[];
  readonly unmaskFailed: readonly FailedAgency[];
  /** Coordinator work to remove the masks: reconstructing seeds, expanding masks, subtracting them under encryption. */
  readonly correctionMs: number;
}

export interface QueryTimings {
  readonly planMs: number;
  readonly discoverMs: number;
  /** From sending the query to the last contribution verified and added. */
  readonly gatherMs: number;
  /** Round 2 of secure aggregation and removing the masks from the encrypted sum. */
  readonly unmaskMs: number;
  readonly decryptMs: number;
  readonly releaseMs: number;
  readonly totalMs: number;
}

export interface QueryResult extends Release {
  readonly queryId: string;
  readonly sql: string;
  readonly plan: QueryPlan;
  readonly mode: AnswerMode;
  readonly agencies: { readonly answered: readonly string[]; readonly failed: readonly FailedAgency[] };
  /** Null in the benchmark modes, which skip masking. */
  readonly secureAggregation: SecureAggregationReport | null;
  readonly ciphertexts: number;
  readonly timings: QueryTimings;
}

/** What a query would do, computed without contacting anyone: the plan and the no-wrap proof. */
export interface QueryExplanation {
  readonly sql: string;
  readonly plan: QueryPlan;
  readonly groups: number;
  readonly measures: readonly string[];
  /** Agencies the federation allows to serve the dataset: the contributions the proof covers. */
  readonly parties: number;
  readonly limbBase: bigint;
  readonly slotsUsed: number;
  readonly ciphertexts: number;
  /** Width of the range any slot total can take (data plus noise); always below the plain modulus. */
  readonly worstSlotTotal: bigint;
  /** Per-agency bound on the noise in one cell (0 for an exact release). */
  readonly noiseBound: bigint;
  readonly plainModulus: bigint;
}

/** Differential privacy for one query. */
export interface PrivacyOptions {
  /** zCDP ρ to spend at every agency: an exact value, or text as for `--rho` ("0.05", "1/40"; see dp/rho.ts). */
  readonly rho: Rational | string;
  /** δ for the (ε, δ) shown beside ρ (display only; default 1e-9). */
  readonly delta?: number;
}

/** δ used to display ε when the caller gives none: well below 1/n for any population fedstat counts. */
export const DEFAULT_DISPLAY_DELTA = 1e-9;

export interface QueryOptions {
  /**
   * Release with distributed differential privacy: every agency charges ρ to its own budget and
   * adds Skellam noise. Without it the release is exact, which only `policy.exactRelease` allows.
   */
  readonly privacy?: PrivacyOptions;
  /** `encrypted-unmasked` and `plaintext` are for benchmarks only and need agencies that opted in. */
  readonly mode?: AnswerMode;
  /** Secure-aggregation threshold (default ⌈2n/3⌉ of the n agencies asked, at least a majority). */
  readonly threshold?: number;
  /** Time allowed for every agency to answer (default 30 s). */
  readonly deadlineMs?: number;
  /** Fail when any agency serving the dataset fails, instead of releasing over those that answered. */
  readonly requireAll?: boolean;
  readonly onProgress?: (event: QueryProgress) => void;
}
