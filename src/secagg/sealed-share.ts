/**
 * A Shamir share of an agency's self-mask secret, sealed from its sender to one recipient with
 * nacl.box (X25519 + XSalsa20-Poly1305). The coordinator relays the boxes but cannot read them.
 *
 * The plaintext repeats the federation, query, sender, recipient and x-coordinate, so a box that
 * authenticates is still refused when replayed into another query or presented as a share from
 * another sender, to another recipient, or at another x (both directions of a pair share one box
 * key, which this binding also disambiguates).
 *
 * Plaintext: "fedstat/v1/secagg/share" ‖ id(federationId) ‖ id(queryId) ‖ expiresAt (u64 big-endian)
 * ‖ id(from) ‖ id(to) ‖ x (u32 big-endian) ‖ y (32 bytes big-endian), where id() is a 2-byte
 * big-endian length and the UTF-8 bytes.
 */
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { x25519SharedSecret } from '../crypto/x25519.js';
import { FedstatError } from '../errors.js';
import { encodeExpiry, encodeId } from './params.js';
import { FIELD_BYTES, fieldFromBytes, fieldToBytes, type Share } from './shamir.js';

export const NONCE_BYTES = nacl.box.nonceLength; // 24
const MAC_BYTES = nacl.box.overheadLength; // 16
const TAG = new TextEncoder().encode('fedstat/v1/secagg/share');
const MAX_CACHED_PEERS = 4096;

/** A sealed share as it travels: the ids in clear for routing, the share inside the box. */
export interface SealedShare {
  /** The participant who made the share. */
  readonly from: string;
  /** The participant who holds it (and alone can open it). */
  readonly to: string;
  /** The nacl.box nonce, 24 random bytes. */
  readonly nonce: Uint8Array;
  /** nacl.box of the share bound to the query, sender and receiver: share plaintext + 16 MAC bytes. */
  readonly box: Uint8Array;
}

/** What a share is bound to. */
export interface ShareBinding {
  readonly federationId: string;
  readonly queryId: string;
  /** The query's expiry: a query id re-issued later cannot reuse boxes of the earlier run. */
  readonly expiresAt: number;
  readonly from: string;
  readonly to: string;
  /** The recipient's x-coordinate: its index in the participant list + 1. */
  readonly x: number;
}

// Nonces are cut from a pooled CSPRNG buffer: a query seals n boxes per agency and each
// randomBytes call costs more than the box itself. Every byte is handed out once.
let noncePool = new Uint8Array(0);
let noncePoolAt = 0;

function freshNonce(): Uint8Array {
  if (noncePoolAt + NONCE_BYTES > noncePool.length) {
    noncePool = new Uint8Array(randomBytes(NONCE_BYTES * 256));
    noncePoolAt = 0;
  }
  const nonce = noncePool.slice(noncePoolAt, noncePoolAt + NONCE_BYTES);
  noncePoolAt += NONCE_BYTES;
  return nonce;
}

// nacl.box.before is HSalsa20 of the X25519 result under "expand 32-byte k" (crypto_box_beforenm).
// tweetnacl's scalar multiplication takes milliseconds; node:crypto's X25519 (same function,
// RFC 7748) about 50 µs, which at hundreds of neighbours per agency is most of round 1. The
// HSalsa20 step stays tweetnacl's. Long-term keys: each pair's box key is computed once.
const SIGMA = new TextEncoder().encode('expand 32-byte k');
const ZERO16 = new Uint8Array(16);
const hsalsa20 = (nacl as unknown as { lowlevel: { crypto_core_hsalsa20: HSalsa20 } }).lowlevel.crypto_core_hsalsa20;
type HSalsa20 = (out: Uint8Array, input: Uint8Array, key: Uint8Array, constant: Uint8Array) => number;

/** nacl.box.before(peerPublic, ownSecret), with X25519 by node:crypto (BAD_MESSAGE for a low-order key). */
export function boxBefore(ownSecret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  const key = new Uint8Array(32);
  hsalsa20(key, ZERO16, x25519SharedSecret(ownSecret, peerPublic), SIGMA);
  return key;
}

const boxKeys = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

function boxKey(ownSecret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  let perPeer = boxKeys.get(ownSecret);
  if (perPeer === undefined) {
    perPeer = new Map();
    boxKeys.set(ownSecret, perPeer);
  }
  const id = Buffer.from(peerPublic.buffer, peerPublic.byteOffset, peerPublic.byteLength).toString('hex');
  let key = perPeer.get(id);
  if (key === undefined) {
    // Throws BAD_MESSAGE for a low-order key, whose box key would be a public constant.
    key = boxBefore(ownSecret, peerPublic);
    if (perPeer.size >= MAX_CACHED_PEERS) perPeer.clear();
    perPeer.set(id, key);
  }
  return key;
}

function checkX(x: number): void {
  if (!Number.isSafeInteger(x) || x < 1 || x > 0xffffffff)
    throw new RangeError('share x-coordinate must be a positive 32-bit integer');
}

/** The binding prefix of the plaintext (everything but y). */
function bindingBytes(b: ShareBinding): Uint8Array {
  checkX(b.x);
  const parts = [
    TAG,
    encodeId(b.federationId, 'federation id'),
    encodeId(b.queryId, 'query id'),
    encodeExpiry(b.expiresAt),
    encodeId(b.from, 'sender id'),
    encodeId(b.to, 'recipient id'),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0) + 4);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  new DataView(out.buffer).setUint32(at, b.x);
  return out;
}

/** The exact plaintext of a share (the documented encoding above). */
export function encodeSharePlaintext(binding: ShareBinding, y: bigint): Uint8Array {
  const prefix = bindingBytes(binding);
  const out = new Uint8Array(prefix.length + FIELD_BYTES);
  out.set(prefix);
  out.set(fieldToBytes(y), prefix.length);
  return out;
}

/** The box length a share with this binding must have (plaintext + 16-byte MAC). */
export function sealedBoxLength(binding: Omit<ShareBinding, 'x' | 'expiresAt'>): number {
  const ids = [binding.federationId, binding.queryId, binding.from, binding.to];
  return TAG.length + ids.reduce((n, id) => n + encodeId(id, 'id').length, 0) + 8 + 4 + FIELD_BYTES + MAC_BYTES;
}

/**
 * Seals `share` (whose x is the recipient's) from `binding.from` to `binding.to`. The nonce comes
 * from the OS CSPRNG; a low-order recipient key is refused (BAD_MESSAGE).
 */
export function sealShare(
  share: Share,
  binding: Omit<ShareBinding, 'x'>,
  senderSecret: Uint8Array,
  recipientPublic: Uint8Array,
): SealedShare {
  const plaintext = encodeSharePlaintext({ ...binding, x: share.x }, share.y);
  const nonce = freshNonce();
  const box = nacl.box.after(plaintext, nonce, boxKey(senderSecret, recipientPublic));
  return { from: binding.from, to: binding.to, nonce, box };
}

/**
 * Opens a sealed share addressed to `expected.to` and returns it, or throws BAD_MESSAGE when the
 * box is malformed, does not authenticate, or is bound to anything but `expected`.
 */
export function openShare(
  sealed: SealedShare,
  expected: ShareBinding,
  recipientSecret: Uint8Array,
  senderPublic: Uint8Array,
): Share {
  const bad = (why: string): FedstatError =>
    new FedstatError('BAD_MESSAGE', `sealed share from ${expected.from} to ${expected.to}: ${why}`);
  if (typeof sealed !== 'object' || sealed === null) throw bad('not an object');
  if (sealed.from !== expected.from || sealed.to !== expected.to) throw bad('addressed to or from another party');
  const prefix = bindingBytes(expected);
  const { nonce, box } = sealed;
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) throw bad(`nonce must have ${NONCE_BYTES} bytes`);
  if (!(box instanceof Uint8Array) || box.length !== prefix.length + FIELD_BYTES + MAC_BYTES)
    throw bad('box has the wrong length');
  const plaintext = nacl.box.open.after(box, nonce, boxKey(recipientSecret, senderPublic));
  if (plaintext === null) throw bad('box does not authenticate (tampered, or sealed with other keys)');
  for (let i = 0; i < prefix.length; i++) {
    if (plaintext[i] !== prefix[i]) throw bad('box belongs to another federation, query, party pair or x-coordinate');
  }
  let y: bigint;
  try {
    y = fieldFromBytes(plaintext.subarray(prefix.length));
  } catch {
    throw bad('share value is not a field element');
  }
  return { x: expected.x, y };
}
