/**
 * An agency's contribution: the encrypted (or, in benchmark mode, plain) slot vectors of one
 * query, signed over a digest that binds the federation, the exact query bytes, the agency, the
 * mode and the hash of every payload. The coordinator checks the signature before a single byte
 * of a payload reaches SEAL.
 */
import { FedstatError } from '../errors.js';
import { sha256, taggedDigest } from '../crypto/digest.js';
import { sign, verify } from '../crypto/ed25519.js';
import type { AnswerMode } from './query-envelope.js';

export interface Contribution {
  readonly agencyId: string;
  readonly queryId: string;
  readonly mode: AnswerMode;
  /** Serialized ciphertexts (encrypted mode) or little-endian u64 slot vectors (plaintext mode). */
  readonly payloads: readonly Uint8Array[];
  readonly signature: Uint8Array;
}

export function contributionDigest(
  federationId: string, queryDigest: Uint8Array, agencyId: string, mode: AnswerMode, payloads: readonly Uint8Array[],
): Uint8Array {
  return taggedDigest('fedstat/v1/contribution', federationId, queryDigest, agencyId, mode, payloads.length, ...payloads.map(sha256));
}

export function signContribution(
  federationId: string, queryDigest: Uint8Array, agencyId: string, queryId: string, mode: AnswerMode,
  payloads: readonly Uint8Array[], secretKey: Uint8Array,
): Contribution {
  const signature = sign(contributionDigest(federationId, queryDigest, agencyId, mode, payloads), secretKey);
  return { agencyId, queryId, mode, payloads, signature };
}

/** Throws BAD_MESSAGE unless the contribution is for this query, in this mode, signed by `agencyKey`. */
export function checkContribution(
  c: Contribution, expected: { federationId: string; queryDigest: Uint8Array; queryId: string; agencyId: string; mode: AnswerMode; payloads: number },
  agencyKey: Uint8Array,
): void {
  if (c.agencyId !== expected.agencyId || c.queryId !== expected.queryId) {
    throw new FedstatError('BAD_MESSAGE', 'contribution answers another query or comes from another agency');
  }
  if (c.mode !== expected.mode) throw new FedstatError('BAD_MESSAGE', `contribution is in ${c.mode} mode, ${expected.mode} was asked`);
  if (c.payloads.length !== expected.payloads) {
    throw new FedstatError('BAD_MESSAGE', `contribution has ${c.payloads.length} ciphertexts, the plan needs ${expected.payloads}`);
  }
  const digest = contributionDigest(expected.federationId, expected.queryDigest, c.agencyId, c.mode, c.payloads);
  if (!verify(digest, c.signature, agencyKey)) throw new FedstatError('BAD_MESSAGE', 'contribution signature does not verify');
}

/** Plaintext-mode payload encoding: little-endian u64 per slot. */
export function slotsToBytes(slots: BigUint64Array): Uint8Array {
  const out = new Uint8Array(slots.length * 8);
  const view = new DataView(out.buffer);
  slots.forEach((v, i) => view.setBigUint64(i * 8, v, true));
  return out;
}

export function bytesToSlots(bytes: Uint8Array, slotCount: number, plainModulus: bigint): BigUint64Array {
  if (bytes.length !== slotCount * 8) throw new FedstatError('BAD_MESSAGE', `plain payload has ${bytes.length} bytes, expected ${slotCount * 8}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new BigUint64Array(slotCount);
  for (let i = 0; i < slotCount; i++) {
    const v = view.getBigUint64(i * 8, true);
    if (v >= plainModulus) throw new FedstatError('BAD_MESSAGE', 'plain payload slot is not reduced modulo the plain modulus');
    out[i] = v;
  }
  return out;
}
