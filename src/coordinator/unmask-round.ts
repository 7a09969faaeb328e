/**
 * Round 2 of secure aggregation: sign the survivor set, ask every survivor for its shares of the
 * survivors' self-mask seeds and its pairwise seeds with the dropped agencies, and turn them into
 * the correction that removes every mask from the encrypted sum. A survivor lost here is
 * tolerated when what it would have revealed is not needed; otherwise the query fails with a
 * retry hint — never with a wrong number.
 */
import type { Federation } from '../federation/federation.js';
import type { AgencyLink } from '../protocol/links.js';
import type { SignedQuery } from '../protocol/query-envelope.js';
import type { SignedSurvivorSet } from '../protocol/survivor-set.js';
import { checkUnmaskAnswer } from '../protocol/unmask.js';
import type { SecAggAggregation } from '../secagg/aggregation.js';
import { failure, type FailedAgency } from './gather.js';

export interface Round2Input {
  readonly federation: Federation;
  readonly query: SignedQuery;
  readonly queryId: string;
  readonly survivors: SignedSurvivorSet;
  readonly survivorIds: readonly string[];
  readonly links: readonly AgencyLink[];
  readonly deadlineMs: number;
  readonly secagg: SecAggAggregation;
}

/** Runs round 2 and returns the flat mask correction, or throws (UNAVAILABLE with a retry hint). */
export async function unmaskRound(input: Round2Input): Promise<{ correction: BigUint64Array; failed: FailedAgency[]; finalizeMs: number }> {
  const { federation, secagg } = input;
  const failed: FailedAgency[] = [];
  await Promise.all(input.survivorIds.map(async (id) => {
    try {
      const link = input.links.find((l) => l.agencyId === id);
      const agency = federation.parties.find((p) => p.id === id);
      if (link === undefined || agency === undefined) throw new Error(`no link to ${id}`);
      const request = { query: input.query, survivors: input.survivors, shares: secagg.sharesFor(id) };
      const answer = await link.unmask(request, input.deadlineMs);
      checkUnmaskAnswer(answer, request, { federationId: federation.id, queryId: input.queryId, agencyId: id }, agency.signingKey);
      secagg.acceptRound2(id, { selfMaskShares: [...answer.selfMaskShares], pairwiseSeeds: [...answer.pairwiseSeeds] });
    } catch (e) {
      failed.push(failure(id, e));
    }
  }));
  failed.sort((a, b) => a.id.localeCompare(b.id));
  const t0 = performance.now();
  const correction = secagg.finalize();
  return { correction, failed, finalizeMs: performance.now() - t0 };
}
