/**
 * The coordinator's view of an agency, independent of how it is reached. Transport implements it
 * over gRPC; tests and embedded deployments may implement it in process. Keeping the coordinator
 * behind this interface is what lets protocol code stay free of transport imports.
 */
import type { Contribution } from './contribution.js';
import type { SignedQuery } from './query-envelope.js';
import type { UnmaskAnswer, UnmaskRequest } from './unmask.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import type { SignedTreeHead } from '../merkle/tree-head.js';

/** What an agency says of itself in Describe, before any query is sent. */
export interface AgencyDescription {
  /** The party id the agency answers as; the coordinator fails an agency whose id is not its link's. */
  readonly agencyId: string;
  /** Id (hex SHA-256) of the federation file the agency loaded; it must equal the coordinator's. */
  readonly federationId: string;
  /** Id of the agency's HE parameters (`HeParams.paramsId`); it must equal the coordinator's. */
  readonly paramsId: string;
  /** Datasets the agency serves now. */
  readonly datasets: readonly string[];
  /** The agency's own privacy budgets, one per dataset it has a budget for (none: DP queries are refused). */
  readonly budgets: readonly BudgetStatus[];
  /** The last transparency-log tree head the agency accepted (null: none yet). */
  readonly logHead: SignedTreeHead | null;
  /**
   * The agency's signed budget-charge log entries that the log is not yet proven to hold, oldest
   * first, at most MAX_UNLOGGED_ENTRIES (none: absent or empty). The coordinator appends the
   * missing ones before its query and returns receipts with the query's log proof.
   */
  readonly unloggedEntries?: readonly Uint8Array[];
  /** Why the agency's budget ledger cannot charge now (absent or null: healthy). */
  readonly ledgerFault?: string | null;
}

/**
 * The most charges an agency holds whose entries the log is not proven to hold: it offers them
 * all in Describe, and refuses to charge more until they are logged.
 */
export const MAX_UNLOGGED_ENTRIES = 64;

/** One dataset's zCDP budget at an agency; ρ values are canonical fractions "n/d". */
export interface BudgetStatus {
  /** The dataset the budget is for. */
  readonly dataset: string;
  /** The agency's whole budget for the dataset. */
  readonly budget: string;
  /** The sum of every charge in the ledger. */
  readonly spent: string;
  /** `budget` − `spent`, never below 0: what later queries may still charge. */
  readonly remaining: string;
  /** How many queries have charged this dataset. */
  readonly charges: number;
}

/** How the coordinator reaches one agency: over gRPC (`connectCoordinator`), or in process. */
export interface AgencyLink {
  /** The party id of the agency this link reaches. */
  readonly agencyId: string;
  /** Asks the agency what it serves and holds now; rejects (UNAVAILABLE) when it does not answer within `deadlineMs`. */
  describe(deadlineMs: number): Promise<AgencyDescription>;
  /**
   * Round 1: the agency's signed (masked, encrypted) contribution. `logProof` shows the query in
   * the transparency log, consistent with the head the agency last accepted (logHead).
   */
  aggregate(query: SignedQuery, deadlineMs: number, logProof?: QueryLogProof): Promise<Contribution>;
  /** Round 2 of secure aggregation: what the survivor reveals to remove the masks. */
  unmask(request: UnmaskRequest, deadlineMs: number): Promise<UnmaskAnswer>;
  /** Releases the connection; the coordinator closes every link when it closes. */
  close(): void;
}
