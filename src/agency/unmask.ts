/**
 * Round 2 of secure aggregation at the agency: for the coordinator-signed survivor set of a query
 * it answered, it reveals what removes the survivors' masks (self-mask shares of survivors,
 * pairwise seeds of the dropped), once per query, never both for the same peer.
 */
import { FedstatError } from '../errors.js';
import { openQuery, queryDigest } from '../protocol/query-envelope.js';
import { openSurvivorSet } from '../protocol/survivor-set.js';
import { signUnmaskAnswer, type UnmaskAnswer, type UnmaskRequest } from '../protocol/unmask.js';
import type { AgencyContext } from './agency-context.js';

/** The signed round-2 answer to `request`; POLICY_REFUSED, REPLAY or BAD_MESSAGE when it must not be given. */
export function answerUnmask(ctx: AgencyContext, request: UnmaskRequest, now: number): UnmaskAnswer {
  const { federation, me, audit } = ctx;
  // The query was admitted in round 1; here it only has to be genuine and unexpired.
  const env = openQuery(request.query, federation, ctx.params, now);
  const set = openSurvivorSet(request.survivors, federation, {
    queryId: env.queryId,
    queryDigest: queryDigest(request.query.bytes),
    agencies: env.agencies,
  });
  if (set.threshold !== env.threshold) {
    throw new FedstatError(
      'POLICY_REFUSED',
      `agency ${me.id} refuses: the survivor set's threshold differs from the query's`,
    );
  }
  let revealed;
  try {
    revealed = ctx.participant.round2(
      { queryId: env.queryId, survivors: set.survivors, dropped: set.dropped },
      request.shares,
      now,
    );
  } catch (e) {
    if (e instanceof FedstatError)
      audit.append({ type: 'refusal', at: now, queryId: env.queryId, agencyId: me.id, reason: e.message });
    throw e;
  }
  audit.append({
    type: 'unmask',
    at: now,
    queryId: env.queryId,
    agencyId: me.id,
    survivors: set.survivors,
    dropped: set.dropped,
  });
  return signUnmaskAnswer(
    federation.id,
    request,
    {
      agencyId: me.id,
      queryId: env.queryId,
      selfMaskShares: revealed.selfMaskShares,
      pairwiseSeeds: revealed.pairwiseSeeds,
    },
    ctx.secrets.signing.secretKey,
  );
}
