/**
 * The coordinator's view of an agency, independent of how it is reached. Transport implements it
 * over gRPC; tests and embedded deployments may implement it in process. Keeping the coordinator
 * behind this interface is what lets protocol code stay free of transport imports.
 */
import type { Contribution } from './contribution.js';
import type {
  BlindedChunk,
  LinkBlindRequest,
  LinkEncryptAnswer,
  LinkEncryptRequest,
  LinkLoadRequest,
  LinkReblindRequest,
  LinkStartAnswer,
  LinkStartRequest,
} from './link-messages.js';
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
  /** Record linkage (join queries); absent on a link that cannot take part in them. */
  readonly linkage?: LinkagePhases;
  /** Releases the connection; the coordinator closes every link when it closes. */
  close(): void;
}

/**
 * The phases of record linkage (link-messages.ts), as the coordinator calls them on one agency;
 * each rejects with FedstatError (UNAVAILABLE when the agency does not answer within `deadlineMs`).
 */
export interface LinkagePhases {
  /** Admission of a join query; the agency's element count and sealed candidate side keys. */
  start(request: LinkStartRequest, deadlineMs: number): Promise<LinkStartAnswer>;
  /** The agency's elements raised to its side's key, as signed chunks in order. */
  blind(request: LinkBlindRequest, deadlineMs: number): Promise<readonly BlindedChunk[]>;
  /** A chunk of the other side raised to this agency's side key, signed by this agency. */
  reblind(request: LinkReblindRequest, deadlineMs: number): Promise<BlindedChunk>;
  /** Encrypting side: the agency's components at its positions, under BFV, signed. */
  encrypt(request: LinkEncryptRequest, deadlineMs: number): Promise<LinkEncryptAnswer>;
  /** Multiplying side: hands over the summed ciphertexts and the agency's positions before round 1. */
  load(request: LinkLoadRequest, deadlineMs: number): Promise<void>;
}

/** The phases of record linkage as an agency answers them (`Agency.linkage`); LinkagePhases without deadlines. */
export interface AgencyLinkage {
  start(request: LinkStartRequest): Promise<LinkStartAnswer>;
  blind(request: LinkBlindRequest): Promise<readonly BlindedChunk[]>;
  reblind(request: LinkReblindRequest): Promise<BlindedChunk>;
  encrypt(request: LinkEncryptRequest): Promise<LinkEncryptAnswer>;
  load(request: LinkLoadRequest): Promise<void>;
}
