/**
 * What one query carries from step to step of `Coordinator.query` (plan → discover → log →
 * round 1 → round 2 → decrypt → release): each step takes the values the steps before it fixed,
 * and none of them changes once the query is sent.
 */
import type { AuditSink } from '../transparency/events.js';
import type { Rational } from '../dp/rational.js';
import type { ErrorCode } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { SlotLayout } from '../he/packing.js';
import type { FlRoundPlan } from '../protocol/fl-round.js';
import type { GlmRoundPlan } from '../protocol/glm-round.js';
import type { AgencyDescription, AgencyLink } from '../protocol/links.js';
import type { PrivacyTerms } from '../protocol/privacy-terms.js';
import type { AnswerMode, QueryEnvelope, SignedQuery } from '../protocol/query-envelope.js';
import type { QueryPlan } from '../query/plan.js';
import type { JoinRoundPlan } from '../protocol/join-round.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import type { SurvivorSet } from '../protocol/survivor-set.js';
import type { RoundOne } from './gather.js';
import type { QueryLog } from './query-log.js';
import type { QueryOptions } from './query-types.js';
import type { Unmasked } from './unmask-round.js';
import type { LoggedEntry } from './unlogged-delivery.js';

/** An agency that failed the query (in Describe, round 1 or round 2), and why. */
export interface FailedAgency {
  /** The agency's party id. */
  readonly id: string;
  /** The kind of failure, as a FedstatError code (UNAVAILABLE when it did not answer in time). */
  readonly code: ErrorCode;
  /** One line saying what went wrong. */
  readonly reason: string;
}

/** What `Coordinator.query` reports as it goes (its `onProgress` option). */
export type QueryProgress =
  | { readonly phase: 'asked'; readonly agencies: readonly string[] }
  | { readonly phase: 'answered' | 'failed'; readonly agency: string; readonly done: number; readonly total: number }
  | { readonly phase: 'unmasking' }
  | { readonly phase: 'decrypting' };

/** The query option the steps report progress through (`QueryOptions.onProgress`). */
export interface ProgressOption {
  readonly onProgress?: (event: QueryProgress) => void;
}

/** The log proof for an agency: from the head it reported, or (`stale`) from the one it reports now. */
export type LogProofSource = (link: AgencyLink, stale: boolean) => Promise<QueryLogProof>;

/** A plan once the secure-aggregation threshold is known: its final form, its noise and its slots. */
export interface SizedPlan {
  readonly plan: QueryPlan | GlmRoundPlan | FlRoundPlan | JoinRoundPlan;
  /** Null for an exact release. */
  readonly terms: PrivacyTerms | null;
  readonly layout: SlotLayout;
}

/**
 * Plan: a SQL query or a GLM round, checked against the schema and the policy before anyone is
 * contacted; `size` completes it once discovery has fixed the threshold.
 */
export interface PlannedQuery {
  /** The SQL as given, or a GLM round described in words (the audit trail's `sql`). */
  readonly sql: string;
  readonly dataset: string;
  readonly schema: DatasetSchema;
  /** Agencies the federation allows to serve the dataset. */
  readonly candidates: readonly string[];
  /** ρ of a differentially private release; null for an exact one. */
  readonly rho: Rational | null;
  readonly size: (threshold: number, found: DiscoveredAgencies) => SizedPlan;
  /**
   * A join: record linkage, run once the query is logged and before round 1 (linkage-round.ts);
   * the round-1 agencies it lost, which round 1 then does not ask.
   */
  readonly link?: (q: QueryContext, sent: SentQuery) => Promise<readonly FailedAgency[]>;
  /** A GLM round's query id (derived from its fit and round); absent: a fresh random one. */
  readonly queryId?: string;
}

/** Discover: which candidates serve the dataset now (sorted), and which could not be reached. */
export interface DiscoveredAgencies {
  readonly described: readonly AgencyDescription[];
  readonly serving: readonly string[];
  readonly failedServing: readonly FailedAgency[];
}

/** Everything fixed about a query before it is logged and sent. */
export interface QueryContext extends PlannedQuery, DiscoveredAgencies, SizedPlan {
  readonly federation: Federation;
  readonly links: readonly AgencyLink[];
  readonly queryId: string;
  readonly mode: AnswerMode;
  readonly requireAll: boolean;
  /** Why every agency must answer, in messages (default `--require-all`). */
  readonly requireAllReason?: string;
  readonly threshold: number;
  /** Time each agency has to answer a round. */
  readonly deadlineMs: number;
  /** The unlogged charges each agency reported that are now in the log (it gets receipts for them). */
  readonly delivered: ReadonlyMap<string, readonly LoggedEntry[]>;
}

/** Log: the signed query, durably in the transparency log (when there is one) before anyone is asked. */
export interface SentQuery {
  readonly envelope: QueryEnvelope;
  readonly signed: SignedQuery;
  readonly queryLog: QueryLog | null;
  /** Where the survivor set and the release are recorded: the audit sink, and the log when there is one. */
  readonly audit: AuditSink;
  /** With a transparency log: each agency's proof that the query is in it. */
  readonly logProof: LogProofSource | undefined;
}

/** What one round (a query, or a GLM round) takes from its caller's options. */
export type RoundOptions = Pick<QueryOptions, 'mode' | 'threshold' | 'deadlineMs' | 'requireAll' | 'onProgress'> & {
  readonly requireAllReason?: string;
};

/** Reads the decrypted slots of a round (a release, or a GLM round's sums), records and returns the outcome. */
export type RoundFinish<T> = (
  q: QueryContext,
  sent: SentQuery,
  r1: RoundOne,
  slots: readonly BigUint64Array[],
) => Promise<T>;

/** A round that ran: its context, who answered, the survivor set, round 2's outcome, what `finish` made, and when each step ended. */
export interface RoundRun<T> {
  readonly q: QueryContext;
  readonly sent: SentQuery;
  readonly r1: RoundOne;
  readonly survivors: SurvivorSet;
  readonly unmasked: Unmasked;
  readonly result: T;
  readonly marks: {
    readonly discovered: number;
    readonly gathered: number;
    readonly unmasked: number;
    readonly decrypted: number;
  };
}
