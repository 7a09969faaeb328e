/**
 * Secure aggregation, round 2. The coordinator sends each survivor the signed query, the signed
 * survivor set and the sealed shares addressed to it; the survivor answers with its shares of
 * the survivors' self-mask seeds and its pairwise seeds with the dropped agencies, signed over a
 * digest that binds the federation, the query, the set, round 2 and every revealed value.
 */
import { FedstatError } from '../errors.js';
import { taggedDigest, type DigestField } from '../crypto/digest.js';
import { sign, verify } from '../crypto/ed25519.js';
import type { RevealedSeed, RevealedShare } from '../secagg/participant.js';
import type { SealedShare } from '../secagg/sealed-share.js';
import { queryDigest, type SignedQuery } from './query-envelope.js';
import { survivorSetDigest, type SignedSurvivorSet } from './survivor-set.js';

export interface UnmaskRequest {
  readonly query: SignedQuery;
  readonly survivors: SignedSurvivorSet;
  /** The survivors' round-1 shares addressed to the recipient. */
  readonly shares: readonly SealedShare[];
}

export interface UnmaskAnswer {
  readonly agencyId: string;
  readonly queryId: string;
  readonly selfMaskShares: readonly RevealedShare[];
  readonly pairwiseSeeds: readonly RevealedSeed[];
  readonly signature: Uint8Array;
}

export function unmaskAnswerDigest(
  federationId: string,
  query: SignedQuery,
  survivors: SignedSurvivorSet,
  answer: Pick<UnmaskAnswer, 'agencyId' | 'queryId' | 'selfMaskShares' | 'pairwiseSeeds'>,
): Uint8Array {
  const fields: DigestField[] = [
    federationId,
    queryDigest(query.bytes),
    survivorSetDigest(survivors.bytes),
    2,
    answer.agencyId,
    answer.queryId,
    answer.selfMaskShares.length,
    ...answer.selfMaskShares.flatMap((s) => [s.of, s.x, s.y.toString(16)]),
    answer.pairwiseSeeds.length,
    ...answer.pairwiseSeeds.flatMap((s) => [s.with, s.seed]),
  ];
  return taggedDigest('fedstat/v1/unmask', ...fields);
}

export function signUnmaskAnswer(
  federationId: string,
  request: UnmaskRequest,
  answer: Omit<UnmaskAnswer, 'signature'>,
  secretKey: Uint8Array,
): UnmaskAnswer {
  return {
    ...answer,
    signature: sign(unmaskAnswerDigest(federationId, request.query, request.survivors, answer), secretKey),
  };
}

/** Throws BAD_MESSAGE unless the answer comes from `agencyId` for this request and its signature verifies. */
export function checkUnmaskAnswer(
  answer: UnmaskAnswer,
  request: UnmaskRequest,
  expected: { federationId: string; queryId: string; agencyId: string },
  agencyKey: Uint8Array,
): void {
  if (answer.agencyId !== expected.agencyId || answer.queryId !== expected.queryId) {
    throw new FedstatError('BAD_MESSAGE', 'unmask answer belongs to another query or agency');
  }
  if (
    !verify(
      unmaskAnswerDigest(expected.federationId, request.query, request.survivors, answer),
      answer.signature,
      agencyKey,
    )
  ) {
    throw new FedstatError('BAD_MESSAGE', 'unmask answer signature does not verify');
  }
}
