/**
 * The coordinator's view of an agency, independent of how it is reached. Transport implements it
 * over gRPC; tests and embedded deployments may implement it in process. Keeping the coordinator
 * behind this interface is what lets protocol code stay free of transport imports.
 */
import type { Contribution } from './contribution.js';
import type { SignedQuery } from './query-envelope.js';
import type { UnmaskAnswer, UnmaskRequest } from './unmask.js';

export interface AgencyDescription {
  readonly agencyId: string;
  readonly federationId: string;
  readonly paramsId: string;
  /** Datasets the agency serves now. */
  readonly datasets: readonly string[];
  /** The agency's own privacy budgets, one per dataset it has a budget for (none: DP queries are refused). */
  readonly budgets: readonly BudgetStatus[];
}

/** One dataset's zCDP budget at an agency; ρ values are canonical fractions "n/d". */
export interface BudgetStatus {
  readonly dataset: string;
  readonly budget: string;
  readonly spent: string;
  readonly remaining: string;
  readonly charges: number;
}

export interface AgencyLink {
  readonly agencyId: string;
  describe(deadlineMs: number): Promise<AgencyDescription>;
  /** Round 1: the agency's signed (masked, encrypted) contribution. */
  aggregate(query: SignedQuery, deadlineMs: number): Promise<Contribution>;
  /** Round 2 of secure aggregation: what the survivor reveals to remove the masks. */
  unmask(request: UnmaskRequest, deadlineMs: number): Promise<UnmaskAnswer>;
  close(): void;
}
