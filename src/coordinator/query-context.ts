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
import type { PlanCells } from '../protocol/cells.js';
import type { AgencyDescription, AgencyLink } from '../protocol/links.js';
import type { PrivacyTerms } from '../protocol/privacy-terms.js';
import type { AnswerMode, QueryEnvelope, SignedQuery } from '../protocol/query-envelope.js';
import type { QueryPlan } from '../query/plan.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import type { QueryLog } from './query-log.js';
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

/** Plan: the SQL parsed and checked against the schema and the policy, before anyone is contacted. */
export interface PlannedQuery {
  readonly sql: string;
  readonly plan: QueryPlan;
  readonly schema: DatasetSchema;
  readonly cells: PlanCells;
  /** Agencies the federation allows to serve the dataset. */
  readonly candidates: readonly string[];
  /** ρ of a differentially private release; null for an exact one. */
  readonly rho: Rational | null;
}

/** Discover: which candidates serve the dataset now (sorted), and which could not be reached. */
export interface DiscoveredAgencies {
  readonly described: readonly AgencyDescription[];
  readonly serving: readonly string[];
  readonly failedServing: readonly FailedAgency[];
}

/** Everything fixed about a query before it is logged and sent. */
export interface QueryContext extends PlannedQuery, DiscoveredAgencies {
  readonly federation: Federation;
  readonly links: readonly AgencyLink[];
  readonly queryId: string;
  readonly mode: AnswerMode;
  readonly requireAll: boolean;
  readonly threshold: number;
  readonly terms: PrivacyTerms | null;
  readonly layout: SlotLayout;
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
