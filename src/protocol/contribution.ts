/**
 * An agency's contribution (round 1): the masked, encrypted (or, in benchmark modes, unmasked or
 * plain) slot vectors of one query, and in `encrypted` mode the secure-aggregation material — the
 * Shamir shares of its self-mask seed sealed to each participant and a commitment to that seed.
 * It is signed over a digest that binds the federation, the exact query bytes, round 1, the
 * agency, the mode, the hash of every payload and every sealed share, so the coordinator checks
 * the signature before a single byte of a payload reaches SEAL.
 */
import { FedstatError } from '../errors.js';
import { sha256, taggedDigest, type DigestField } from '../crypto/digest.js';
import { sign, verify } from '../crypto/ed25519.js';
import type { SealedShare } from '../secagg/sealed-share.js';
import type { AnswerMode } from './query-envelope.js';

/** Secure-aggregation material of a round-1 contribution. */
export interface MaskingMaterial {
  /** One share per participant of the query, in the query's agency order, `from` = the sender. */
  readonly shares: readonly SealedShare[];
  /** Commitment to the self-mask seed, checked when the coordinator reconstructs it. */
  readonly commitment: Uint8Array;
  /** Commitments to the pairwise seeds with every other participant (query order, self skipped). */
  readonly pairwiseCommitments: readonly Uint8Array[];
}

export interface Contribution {
  readonly agencyId: string;
  readonly queryId: string;
  readonly mode: AnswerMode;
  /** Serialized ciphertexts (encrypted mode) or little-endian u64 slot vectors (plaintext mode). */
  readonly payloads: readonly Uint8Array[];
  /** Present exactly in `encrypted` mode. */
  readonly masking: MaskingMaterial | null;
  readonly signature: Uint8Array;
  /**
   * The agency's own signed transparency-log entries for this answer (its budget charge and its
   * contribution record), for the log operator to append. Each entry carries its author's
   * signature, so they are not covered by the contribution's.
   */
  readonly logEntries?: readonly Uint8Array[];
}

function maskingFields(m: MaskingMaterial | null): DigestField[] {
  if (m === null) return [0];
  return [
    m.shares.length,
    ...m.shares.flatMap((s) => [s.from, s.to, s.nonce, s.box]),
    m.commitment,
    m.pairwiseCommitments.length,
    ...m.pairwiseCommitments,
  ];
}

export function contributionDigest(
  federationId: string,
  queryDigest: Uint8Array,
  agencyId: string,
  mode: AnswerMode,
  payloads: readonly Uint8Array[],
  masking: MaskingMaterial | null,
): Uint8Array {
  return taggedDigest(
    'fedstat/v1/contribution',
    federationId,
    queryDigest,
    1,
    agencyId,
    mode,
    payloads.length,
    ...payloads.map(sha256),
    ...maskingFields(masking),
  );
}

export function signContribution(
  federationId: string,
  queryDigest: Uint8Array,
  agencyId: string,
  queryId: string,
  mode: AnswerMode,
  payloads: readonly Uint8Array[],
  masking: MaskingMaterial | null,
  secretKey: Uint8Array,
): Contribution {
  const signature = sign(contributionDigest(federationId, queryDigest, agencyId, mode, payloads, masking), secretKey);
  return { agencyId, queryId, mode, payloads, masking, signature };
}

/**
 * Throws BAD_MESSAGE unless the contribution is for this query, in this mode, signed by
 * `agencyKey`, and (in `encrypted` mode) carries exactly one sealed share from the sender to each
 * of `participants`, in order, and a 32-byte commitment.
 */
export function checkContribution(
  c: Contribution,
  expected: {
    federationId: string;
    queryDigest: Uint8Array;
    queryId: string;
    agencyId: string;
    mode: AnswerMode;
    payloads: number;
    participants: readonly string[];
    /** SecAgg+: who holds the sender's self-mask shares, in order (it and its neighbours); default every participant. */
    shareHolders?: readonly string[];
  },
  agencyKey: Uint8Array,
): void {
  if (c.agencyId !== expected.agencyId || c.queryId !== expected.queryId) {
    throw new FedstatError('BAD_MESSAGE', 'contribution answers another query or comes from another agency');
  }
  if (c.mode !== expected.mode)
    throw new FedstatError('BAD_MESSAGE', `contribution is in ${c.mode} mode, ${expected.mode} was asked`);
  if (c.payloads.length !== expected.payloads) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `contribution has ${c.payloads.length} ciphertexts, the plan needs ${expected.payloads}`,
    );
  }
  if ((c.masking !== null) !== (c.mode === 'encrypted')) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `contribution ${c.masking === null ? 'lacks' : 'carries'} secure-aggregation shares in ${c.mode} mode`,
    );
  }
  if (c.masking !== null) {
    const { shares, commitment, pairwiseCommitments } = c.masking;
    const holders = expected.shareHolders ?? expected.participants;
    if (commitment.length !== 32)
      throw new FedstatError('BAD_MESSAGE', "contribution's self-mask commitment must have 32 bytes");
    if (pairwiseCommitments.length !== holders.length - 1 || pairwiseCommitments.some((p) => p.length !== 32)) {
      throw new FedstatError(
        'BAD_MESSAGE',
        'contribution must carry a 32-byte commitment to its pairwise seed with every neighbour in the query',
      );
    }
    if (shares.length !== holders.length || shares.some((s, i) => s.from !== c.agencyId || s.to !== holders[i])) {
      throw new FedstatError(
        'BAD_MESSAGE',
        'contribution must carry one sealed share from its sender to each of its share holders in the query, in order',
      );
    }
  }
  const digest = contributionDigest(
    expected.federationId,
    expected.queryDigest,
    c.agencyId,
    c.mode,
    c.payloads,
    c.masking,
  );
  if (!verify(digest, c.signature, agencyKey))
    throw new FedstatError('BAD_MESSAGE', 'contribution signature does not verify');
}

/** Plaintext-mode payload encoding: little-endian u64 per slot. */
export function slotsToBytes(slots: BigUint64Array): Uint8Array {
  const out = new Uint8Array(slots.length * 8);
  const view = new DataView(out.buffer);
  slots.forEach((v, i) => view.setBigUint64(i * 8, v, true));
  return out;
}

export function bytesToSlots(bytes: Uint8Array, slotCount: number, plainModulus: bigint): BigUint64Array {
  if (bytes.length !== slotCount * 8)
    throw new FedstatError('BAD_MESSAGE', `plain payload has ${bytes.length} bytes, expected ${slotCount * 8}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new BigUint64Array(slotCount);
  for (let i = 0; i < slotCount; i++) {
    const v = view.getBigUint64(i * 8, true);
    if (v >= plainModulus)
      throw new FedstatError('BAD_MESSAGE', 'plain payload slot is not reduced modulo the plain modulus');
    out[i] = v;
  }
  return out;
}
