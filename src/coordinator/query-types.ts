/**
 * The coordinator's public query types: what a caller passes to `Coordinator.query` and what it
 * gets back (rows with their uncertainty, who answered, secure aggregation's outcome, timings).
 */
import type { JoinExplanation } from './join-explain.js';
import type { LinkageReport } from './linkage-round.js';
import type { Rational } from '../dp/rational.js';
import type { AnswerMode } from '../protocol/query-envelope.js';
import type { QueryPlan } from '../query/plan.js';
import type { FailedAgency, QueryProgress } from './query-context.js';
import type { Release } from './release.js';

/** Secure aggregation's outcome: who was unmasked, who dropped, who was lost in round 2 (tolerated). */
export interface SecureAggregationReport {
  /** Secure-aggregation threshold: the fewest survivors whose shares remove the masks. */
  readonly threshold: number;
  /** Agencies whose round-1 contributions are in the total. */
  readonly survivors: readonly string[];
  /** Agencies asked whose contribution did not arrive in time: none of their data is in the total. */
  readonly dropped: readonly string[];
  /** Survivors that failed round 2; the others' shares were enough. */
  readonly unmaskFailed: readonly FailedAgency[];
  /** Coordinator work to remove the masks: reconstructing seeds, expanding masks, subtracting them under encryption. */
  readonly correctionMs: number;
}

/** Where a query's wall-clock time went, in milliseconds. */
export interface QueryTimings {
  /** Parsing and checking the SQL, before anyone is contacted. */
  readonly planMs: number;
  /** The Describe round: which agencies serve the dataset now. */
  readonly discoverMs: number;
  /** From sending the query to the last contribution verified and added. */
  readonly gatherMs: number;
  /** Round 2 of secure aggregation and removing the masks from the encrypted sum. */
  readonly unmaskMs: number;
  /** The key authority's decryption of the unmasked sum. */
  readonly decryptMs: number;
  /** Applying the release policy, and making the release durable in the transparency log. */
  readonly releaseMs: number;
  /** From planning to the release. */
  readonly totalMs: number;
}

/** A query's released rows, with who took part, how secure aggregation went, and timings. */
export interface QueryResult extends Release {
  /** The query's random id (32 hex digits), as in the audit trail and the transparency log. */
  readonly queryId: string;
  /** The SQL as the caller gave it. */
  readonly sql: string;
  /** The plan the agencies computed. */
  readonly plan: QueryPlan;
  /** How agencies answered: `encrypted`, or a benchmark mode. */
  readonly mode: AnswerMode;
  /** Agencies whose contributions are in the release, and those that failed (and why). */
  readonly agencies: { readonly answered: readonly string[]; readonly failed: readonly FailedAgency[] };
  /** Null in the benchmark modes, which skip masking. */
  readonly secureAggregation: SecureAggregationReport | null;
  /** BFV ciphertexts in each agency's contribution. */
  readonly ciphertexts: number;
  /** Where the time went. */
  readonly timings: QueryTimings;
  /** Join queries: which agencies of each side are in the join, and the linkage's sizes. */
  readonly linkage?: LinkageReport;
}

/** What a query would do, computed without contacting anyone: the plan and the no-wrap proof. */
export interface QueryExplanation {
  /** Join queries: sides, components, sensitivity and linkage costs (`plan` is then the join's virtual plan). */
  readonly join?: JoinExplanation;
  /** The plan written back as canonical SQL. */
  readonly sql: string;
  /** The parsed and validated plan. */
  readonly plan: QueryPlan;
  /** Groups each agency computes: the product of the GROUP BY columns' category counts (1 without GROUP BY). */
  readonly groups: number;
  /** What each agency computes per group: `COUNT(*)`, then `SUM(column)` per summed column. */
  readonly measures: readonly string[];
  /** Agencies the federation allows to serve the dataset: the contributions the proof covers. */
  readonly parties: number;
  /** Base B of the limbs a cell is split into, one slot each: `parties·(B−1)` stays below the plain modulus. */
  readonly limbBase: bigint;
  /** Slots all cells take together. */
  readonly slotsUsed: number;
  /** BFV ciphertexts each agency sends. */
  readonly ciphertexts: number;
  /** Width of the range any slot total can take (data plus noise); always below the plain modulus. */
  readonly worstSlotTotal: bigint;
  /** Per-agency bound on the noise in one cell (0 for an exact release). */
  readonly noiseBound: bigint;
  /** The plain modulus t of the federation's HE parameters: every slot is an integer mod t. */
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

/** How `Coordinator.query` runs a query; every field is optional. */
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
  /** Called as the query goes: asked, each agency answered or failed, unmasking, decrypting. */
  readonly onProgress?: (event: QueryProgress) => void;
  /**
   * Join queries only: at most this many rows may share one id at one agency (default 1, at most
   * 64). Agencies refuse (or with `--on-invalid skip`, leave out) ids with more; it bounds how many
   * joined records one record is part of, which sizes the noise.
   */
  readonly maxRowsPerId?: number;
}
