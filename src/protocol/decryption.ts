/**
 * What the coordinator asks of the key authority and what it gets back, both signed: the request
 * binds the signed query, the signed survivor set and the hash of every summed ciphertext; the
 * answer binds the same query and set to the hash of the decrypted slots. A request or answer
 * altered on the way (or replayed for another query) fails verification.
 */
import { FedstatError } from '../errors.js';
import { sha256, taggedDigest } from '../crypto/digest.js';
import { sign, verify } from '../crypto/ed25519.js';
import { slotsToBytes } from './contribution.js';
import { queryDigest, type SignedQuery } from './query-envelope.js';
import { survivorSetDigest, type SignedSurvivorSet } from './survivor-set.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';

export interface DecryptionRequest {
  readonly query: SignedQuery;
  readonly survivors: SignedSurvivorSet;
  /** The unmasked encrypted sums, one per ciphertext of the plan's layout. */
  readonly ciphertexts: readonly Uint8Array[];
  /** The coordinator's signature over `decryptionRequestDigest`. */
  readonly signature: Uint8Array;
  /**
   * The query's inclusion proof in the transparency log (outside the signature: it proves itself,
   * and is rebuilt when the key authority's head moved on).
   */
  readonly logProof?: QueryLogProof;
}

export interface DecryptionAnswer {
  readonly slots: readonly BigUint64Array[];
  /** The key authority's signature over `decryptionAnswerDigest`. */
  readonly signature: Uint8Array;
  /** The key authority's own signed log entries for this decryption, for the log operator to append. */
  readonly logEntries?: readonly Uint8Array[];
}

export function decryptionRequestDigest(
  federationId: string,
  query: SignedQuery,
  survivors: SignedSurvivorSet,
  ciphertexts: readonly Uint8Array[],
): Uint8Array {
  return taggedDigest(
    'fedstat/v1/decrypt-request',
    federationId,
    queryDigest(query.bytes),
    survivorSetDigest(survivors.bytes),
    ciphertexts.length,
    ...ciphertexts.map(sha256),
  );
}

function decryptionAnswerDigest(
  federationId: string,
  query: SignedQuery,
  survivors: SignedSurvivorSet,
  slots: readonly BigUint64Array[],
): Uint8Array {
  return taggedDigest(
    'fedstat/v1/decryption',
    federationId,
    queryDigest(query.bytes),
    survivorSetDigest(survivors.bytes),
    slots.length,
    ...slots.map((s) => sha256(slotsToBytes(s))),
  );
}

export function signDecryptionRequest(
  federationId: string,
  query: SignedQuery,
  survivors: SignedSurvivorSet,
  ciphertexts: readonly Uint8Array[],
  coordinatorSecretKey: Uint8Array,
): DecryptionRequest {
  const signature = sign(decryptionRequestDigest(federationId, query, survivors, ciphertexts), coordinatorSecretKey);
  return { query, survivors, ciphertexts, signature };
}

export function checkDecryptionRequest(
  request: DecryptionRequest,
  federationId: string,
  coordinatorKey: Uint8Array,
): void {
  const digest = decryptionRequestDigest(federationId, request.query, request.survivors, request.ciphertexts);
  if (!verify(digest, request.signature, coordinatorKey)) {
    throw new FedstatError(
      'BAD_MESSAGE',
      "decryption request signature does not verify against the federation's coordinator key",
    );
  }
}

export function signDecryptionAnswer(
  federationId: string,
  request: DecryptionRequest,
  slots: readonly BigUint64Array[],
  keyAuthoritySecretKey: Uint8Array,
): DecryptionAnswer {
  return {
    slots,
    signature: sign(
      decryptionAnswerDigest(federationId, request.query, request.survivors, slots),
      keyAuthoritySecretKey,
    ),
  };
}

export function checkDecryptionAnswer(
  answer: DecryptionAnswer,
  request: DecryptionRequest,
  federationId: string,
  keyAuthorityKey: Uint8Array,
): void {
  if (answer.slots.length !== request.ciphertexts.length) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `key authority returned ${answer.slots.length} slot vectors for ${request.ciphertexts.length} ciphertexts`,
    );
  }
  if (
    !verify(
      decryptionAnswerDigest(federationId, request.query, request.survivors, answer.slots),
      answer.signature,
      keyAuthorityKey,
    )
  ) {
    throw new FedstatError(
      'BAD_MESSAGE',
      "decryption answer signature does not verify against the federation's key authority key",
    );
  }
}
