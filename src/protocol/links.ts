/**
 * The coordinator's view of an agency, independent of how it is reached. Transport implements it
 * over gRPC; tests and embedded deployments may implement it in process. Keeping the coordinator
 * behind this interface is what lets protocol code stay free of transport imports.
 */
import type { Contribution } from './contribution.js';
import type { SignedQuery } from './query-envelope.js';

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
  aggregate(query: SignedQuery, deadlineMs: number): Promise<Contribution>;
  close(): void;
}
