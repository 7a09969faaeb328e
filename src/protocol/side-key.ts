/**
 * A side key travels sealed: every agency of one side of a join draws a candidate blinding key
 * when it starts and seals a copy to each peer of its side (nacl secretbox under the pair's
 * long-term X25519 box key, bound to the federation, query, sender and recipient). The coordinator,
 * who relays the boxes and cannot open them, picks one agency of each side as its leader and hands
 * the leader's boxes to the peers, so every agency of the side blinds with the same key and nobody
 * but that side's agencies ever holds it.
 */
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { taggedDigest } from '../crypto/digest.js';
import { FedstatError } from '../errors.js';
import { boxBefore } from '../secagg/sealed-share.js';

/** A candidate side key sealed from one agency to a peer of its side. */
export interface SealedSideKey {
  readonly from: string;
  readonly to: string;
  /** 24 random bytes. */
  readonly nonce: Uint8Array;
  /** secretbox of the 32-byte key: 48 bytes. */
  readonly box: Uint8Array;
}

/** What a sealed side key is bound to. */
export interface SideKeyBinding {
  readonly federationId: string;
  readonly queryId: string;
  readonly from: string;
  readonly to: string;
}

const KEY_BYTES = 32;
const BOX_BYTES = KEY_BYTES + nacl.secretbox.overheadLength;

/** The secretbox key of one ordered pair for one query: the box key hashed with the binding. */
function boxKey(binding: SideKeyBinding, ownSecret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  return taggedDigest(
    'fedstat/v1/psi/side-key',
    boxBefore(ownSecret, peerPublic),
    binding.federationId,
    binding.queryId,
    binding.from,
    binding.to,
  );
}

/** Seals `key` (32 bytes) from `binding.from` to `binding.to`. */
export function sealSideKey(
  key: Uint8Array,
  binding: SideKeyBinding,
  senderSecret: Uint8Array,
  recipientPublic: Uint8Array,
): SealedSideKey {
  if (key.length !== KEY_BYTES) throw new RangeError(`a side key has ${KEY_BYTES} bytes`);
  const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
  const box = nacl.secretbox(key, nonce, boxKey(binding, senderSecret, recipientPublic));
  return { from: binding.from, to: binding.to, nonce, box };
}

/** Opens a sealed side key addressed to `expected.to`; BAD_MESSAGE naming the sender otherwise. */
export function openSideKey(
  sealed: SealedSideKey,
  expected: SideKeyBinding,
  recipientSecret: Uint8Array,
  senderPublic: Uint8Array,
): Uint8Array {
  const bad = (why: string): FedstatError =>
    new FedstatError('BAD_MESSAGE', `side key from agency ${expected.from}: ${why}`);
  if (sealed.from !== expected.from || sealed.to !== expected.to) throw bad('addressed to or from another agency');
  if (sealed.nonce.length !== nacl.secretbox.nonceLength) throw bad('the nonce has the wrong length');
  if (sealed.box.length !== BOX_BYTES) throw bad('the box has the wrong length');
  // The binding is in the box key: a box of another query, pair or federation does not open.
  const key = nacl.secretbox.open(sealed.box, sealed.nonce, boxKey(expected, recipientSecret, senderPublic));
  if (key === null) throw bad('the box does not authenticate (tampered, or sealed for another query or agency)');
  return key;
}
