/**
 * Round 2 of secure aggregation: sign the survivor set, ask every survivor for its shares of the
 * survivors' self-mask seeds and its pairwise seeds with the dropped agencies, and turn them into
 * the correction that removes every mask from the encrypted sum. A survivor lost here is
 * tolerated when what it would have revealed is not needed; otherwise the query fails with a
 * retry hint — never with a wrong number.
 */
import { FedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import { splitFlat } from '../protocol/flat-slots.js';
import type { AgencyLink } from '../protocol/links.js';
import type { SignedQuery } from '../protocol/query-envelope.js';
import type { SignedSurvivorSet } from '../protocol/survivor-set.js';
import { checkUnmaskAnswer } from '../protocol/unmask.js';
import type { SecAggAggregation } from '../secagg/aggregation.js';
import type { EncryptedSum } from './encrypted-sum.js';
import { failure, type RoundOne } from './gather.js';
import type { FailedAgency, ProgressOption, QueryContext, SentQuery } from './query-context.js';

interface Round2Input {
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
async function unmaskRound(
  input: Round2Input,
): Promise<{ correction: BigUint64Array; failed: FailedAgency[]; finalizeMs: number }> {
  const { federation, secagg } = input;
  const failed: FailedAgency[] = [];
  await Promise.all(
    input.survivorIds.map(async (id) => {
      try {
        const link = input.links.find((l) => l.agencyId === id);
        const agency = federation.parties.find((p) => p.id === id);
        if (link === undefined || agency === undefined) throw new Error(`no link to ${id}`);
        const request = { query: input.query, survivors: input.survivors, shares: secagg.sharesFor(id) };
        const answer = await link.unmask(request, input.deadlineMs);
        checkUnmaskAnswer(
          answer,
          request,
          { federationId: federation.id, queryId: input.queryId, agencyId: id },
          agency.signingKey,
        );
        secagg.acceptRound2(id, {
          selfMaskShares: [...answer.selfMaskShares],
          pairwiseSeeds: [...answer.pairwiseSeeds],
        });
      } catch (e) {
        failed.push(failure(id, e));
      }
    }),
  );
  failed.sort((a, b) => a.id.localeCompare(b.id));
  const t0 = performance.now();
  const correction = secagg.finalize();
  return { correction, failed, finalizeMs: performance.now() - t0 };
}

/** What round 2 reports: the survivors lost in it (tolerated) and the coordinator's work to remove the masks. */
export interface Unmasked {
  readonly unmaskFailed: FailedAgency[];
  readonly correctionMs: number;
}

/**
 * Round 2 as a step of a query: in `encrypted` mode, the survivors' answers turned into the
 * correction and subtracted from the encrypted sum (a failure names the query, who answered and
 * who failed); the benchmark modes have no masks to remove.
 */
export async function unmaskSum(
  q: QueryContext,
  sent: SentQuery,
  r1: RoundOne,
  survivors: SignedSurvivorSet,
  sum: EncryptedSum | null,
  options: ProgressOption,
): Promise<Unmasked> {
  const { secagg, answered, failed } = r1;
  if (secagg === null || sum === null) return { unmaskFailed: [], correctionMs: 0 };
  options.onProgress?.({ phase: 'unmasking' });
  const { queryId } = q;
  const round2 = await unmaskRound({
    federation: q.federation,
    query: sent.signed,
    queryId,
    survivors,
    survivorIds: answered,
    links: q.links,
    deadlineMs: q.deadlineMs,
    secagg,
  }).catch((e: unknown) => {
    if (!(e instanceof FedstatError)) throw e;
    throw new FedstatError(e.code, `query ${queryId}: ${e.message}`, {
      cause: e,
      details: { queryId, answered, failed },
    });
  });
  const t = performance.now();
  await sum.subtractPlain(splitFlat(round2.correction, q.layout.slotCount, q.layout.ciphertextCount));
  return { unmaskFailed: round2.failed, correctionMs: round2.finalizeMs + performance.now() - t };
}
