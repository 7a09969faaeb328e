/**
 * What the key authority checks before it decrypts anything, in a fixed order: the coordinator's
 * signature over the whole request, the signed query (signature, federation, parameters, expiry),
 * the signed survivor set (same query, same query bytes, an exact partition of the query's
 * agencies, the query's threshold), enough survivors, and an answer mode that may be decrypted.
 * Local computation only; replay and decryption are the key authority's own state.
 */
import { FedstatError, type ErrorCode } from '../errors.js';
import { partyOfRole, type Federation } from '../federation/federation.js';
import { checkDecryptionRequest, type DecryptionRequest } from '../protocol/decryption.js';
import { openQuery, queryDigest, type QueryEnvelope } from '../protocol/query-envelope.js';
import { openSurvivorSet, type SurvivorSet } from '../protocol/survivor-set.js';

export interface ReleasePolicyContext {
  readonly federation: Federation;
  /** The key authority's HE parameters id: a query under other parameters is refused. */
  readonly paramsId: string;
  /** The plain modulus of those parameters (a GLM round's encoding plan is checked against it). */
  readonly plainModulus: bigint;
  readonly now: number;
  /** Also decrypt `encrypted-unmasked` sums (benchmarks only: they reveal each agency's aggregate). */
  readonly allowBenchmarkModes: boolean;
}

/** A request that passed every policy check: its opened query and survivor set. */
export interface AdmittedRequest {
  readonly query: QueryEnvelope;
  readonly set: SurvivorSet;
}

/**
 * A refusal of an authenticated query: carries the query id and the bare reason in `details`, so
 * callers can tell it from a request that never authenticated (whose query id cannot be trusted).
 */
export function refusal(code: ErrorCode, queryId: string, reason: string, cause?: unknown): FedstatError {
  return new FedstatError(code, `key authority refuses query ${queryId}: ${reason}`, {
    details: { queryId, reason },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Runs the release policy on `request`; returns the opened query and set, or throws FedstatError
 * BAD_MESSAGE (forged, altered or inconsistent messages), REPLAY (expired query),
 * MESSAGE_TOO_LARGE, or POLICY_REFUSED (too few survivors, a mode that may not be decrypted).
 */
export function admitDecryption(request: DecryptionRequest, ctx: ReleasePolicyContext): AdmittedRequest {
  const { federation } = ctx;
  checkDecryptionRequest(request, federation.id, partyOfRole(federation, 'coordinator').signingKey);
  const query = openQuery(request.query, federation, ctx, ctx.now);
  const id = query.queryId;
  let set: SurvivorSet;
  try {
    set = openSurvivorSet(request.survivors, federation, {
      queryId: id,
      queryDigest: queryDigest(request.query.bytes),
      agencies: query.agencies,
    });
  } catch (e) {
    if (e instanceof FedstatError) throw refusal(e.code, id, e.message, e);
    throw e;
  }
  if (set.threshold !== query.threshold) {
    throw refusal(
      'BAD_MESSAGE',
      id,
      `the survivor set's threshold ${set.threshold} differs from the query's ${query.threshold}`,
    );
  }
  const { minAgencies } = federation.policy;
  const needed = Math.max(minAgencies, query.threshold);
  if (set.survivors.length < needed) {
    throw refusal(
      'POLICY_REFUSED',
      id,
      `${set.survivors.length} agencies survived, the release needs at least ${needed} (policy minAgencies ${minAgencies}, query threshold ${query.threshold})`,
    );
  }
  switch (query.mode) {
    case 'encrypted':
      break;
    case 'encrypted-unmasked':
      if (!ctx.allowBenchmarkModes) {
        throw refusal(
          'POLICY_REFUSED',
          id,
          "encrypted-unmasked sums are decrypted only by a key authority started for benchmarks (they reveal each agency's aggregate)",
        );
      }
      break;
    case 'plaintext':
      throw refusal('POLICY_REFUSED', id, 'a plaintext query has nothing to decrypt');
  }
  return { query, set };
}
