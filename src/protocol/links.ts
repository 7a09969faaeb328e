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
