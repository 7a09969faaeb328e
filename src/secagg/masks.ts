/**
 * Mask seeds and their expansion into uniform vectors mod the plain modulus.
 *
 * Seeds come from HKDF-SHA256 bound to the federation, the query and the parties, so a seed
 * revealed for one query (a pairwise seed with a dropped agency) says nothing about any other.
 * Expansion is the ChaCha20 keystream of node:crypto (a PRG under the usual assumption on
 * ChaCha20), read as 64-bit little-endian words, truncated to the modulus' bit length and
 * rejected when ≥ modulus, so every value is exactly uniform in [0, modulus) — no modulo bias.
 *
 * This runs once per peer per agency per query over up to 262,144 slots, so the hot loops work
 * on 32-bit halves as Numbers: no BigInt is created per value.
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { taggedDigest } from '../crypto/digest.js';
import { MAX_VECTOR_LENGTH, encodeExpiry, encodeId, isValidModulus } from './params.js';
import { fieldToBytes } from './shamir.js';

const SEED_BYTES = 32;

const PAIRWISE_TAG = 'fedstat/v1/secagg/pairwise';
const SELF_MASK_TAG = 'fedstat/v1/secagg/self-mask';
const PAIRWISE_COMMITMENT_TAG = 'fedstat/v1/secagg/pairwise-commitment';
const SELF_MASK_COMMITMENT_TAG = 'fedstat/v1/secagg/self-mask-commitment';
const ZERO_IV = new Uint8Array(16); // ChaCha20 in OpenSSL: 4-byte counter ‖ 12-byte nonce, all zero
const CHUNK_BYTES = 64 * 1024;
const ZEROS = new Uint8Array(CHUNK_BYTES);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1; // word order of a u64 inside a BigUint64Array's buffer
const HI = 1 - LO;
const TWO32 = 2 ** 32;
const ONE = new Uint8Array([1]);

const PAIRWISE_TAG_BYTES = Buffer.from(PAIRWISE_TAG, 'utf8');
const SELF_MASK_TAG_BYTES = Buffer.from(SELF_MASK_TAG, 'utf8');

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// HKDF-Extract of a long-term X25519 secret is the same for every query: cache the PRK per
// secret array (the participant keeps one array per peer), leaving one HMAC per seed.
const extracted = new WeakMap<Uint8Array, { readonly federationId: string; readonly prk: Buffer }>();

/** HKDF-SHA256 (RFC 5869) with salt = federation id and a 32-byte output: Expand is one HMAC. */
function hkdf(ikm: Uint8Array, federationId: string, info: Uint8Array, cache: boolean): Uint8Array {
  encodeId(federationId, 'federation id'); // validates
  let entry = cache ? extracted.get(ikm) : undefined;
  if (entry === undefined || entry.federationId !== federationId) {
    entry = { federationId, prk: createHmac('sha256', Buffer.from(federationId, 'utf8')).update(ikm).digest() };
    if (cache) extracted.set(ikm, entry);
  }
  return new Uint8Array(createHmac('sha256', entry.prk).update(info).update(ONE).digest());
}

/** Where a pairwise seed belongs: one query (id and expiry) and one unordered pair of parties. */
export interface PairwiseContext {
  readonly federationId: string;
  readonly queryId: string;
  /**
   * The query's expiry. Long-term keys make a pairwise seed a function of the query identity
   * alone, and agencies forget a query once it expires; binding the expiry too means a query id
   * re-issued later (necessarily with a later expiry) gets fresh masks, so seeds revealed for
   * one run can never unmask another.
   */
  readonly expiresAt: number;
  readonly a: string;
  readonly b: string;
}

/**
 * The seed of the pairwise mask between parties a and b for one query, from their X25519 shared
 * secret. The ids enter in sorted order, so both sides derive the same seed.
 */
export function pairwiseSeed(shared: Uint8Array, ctx: PairwiseContext): Uint8Array {
  if (!(shared instanceof Uint8Array) || shared.length !== 32) throw new TypeError('a shared secret has 32 bytes');
  if (ctx.a === ctx.b) throw new RangeError('a pairwise seed needs two distinct parties');
  const [first, second] = ctx.a < ctx.b ? [ctx.a, ctx.b] : [ctx.b, ctx.a];
  const info = concat([
    PAIRWISE_TAG_BYTES,
    encodeId(ctx.queryId, 'query id'),
    encodeExpiry(ctx.expiresAt),
    encodeId(first, 'party id'),
    encodeId(second, 'party id'),
  ]);
  return hkdf(shared, ctx.federationId, info, true);
}

/**
 * The public commitment to a pairwise seed that each side of the pair publishes in round 1. Both
 * sides' commitments are equal exactly when they derived the same seed (so a stale agreement key
 * is caught before anything is revealed), and a seed revealed in round 2 is checked against it.
 */
export function pairwiseCommitment(seed: Uint8Array, ctx: Omit<PairwiseContext, 'expiresAt'>): Uint8Array {
  const [first, second] = ctx.a < ctx.b ? [ctx.a, ctx.b] : [ctx.b, ctx.a];
  return taggedDigest(PAIRWISE_COMMITMENT_TAG, ctx.federationId, ctx.queryId, first, second, seed);
}

/** The public commitment to a self-mask secret b, checked when the coordinator reconstructs b. */
export function selfMaskCommitment(
  b: bigint,
  ctx: { readonly federationId: string; readonly queryId: string; readonly party: string },
): Uint8Array {
  return taggedDigest(SELF_MASK_COMMITMENT_TAG, ctx.federationId, ctx.queryId, ctx.party, fieldToBytes(b));
}

/** The seed of a party's self-mask for one query, from its per-query secret b ∈ F_p. */
export function selfMaskSeed(
  b: bigint,
  ctx: { readonly federationId: string; readonly queryId: string; readonly party: string },
): Uint8Array {
  const info = concat([SELF_MASK_TAG_BYTES, encodeId(ctx.queryId, 'query id'), encodeId(ctx.party, 'party id')]);
  return hkdf(fieldToBytes(b), ctx.federationId, info, false);
}

function checkModulus(modulus: bigint): void {
  if (!isValidModulus(modulus)) throw new RangeError('modulus must be a prime bigint with 2 < m < 2^63');
}

function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_VECTOR_LENGTH)
    throw new RangeError(`mask length must be an integer in 0..${MAX_VECTOR_LENGTH}`);
}

/** Fills `target` with the mask of `seed`: uniform values in [0, modulus), deterministic per seed. */
export function expandMaskInto(target: BigUint64Array, seed: Uint8Array, modulus: bigint): void {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES)
    throw new TypeError(`a mask seed has ${SEED_BYTES} bytes`);
  checkModulus(modulus);
  checkLength(target.length);
  const bits = modulus.toString(2).length;
  const mHi = Number(modulus >> 32n);
  const mLo = Number(modulus & 0xffffffffn);
  const hiMask = bits > 32 ? 2 ** (bits - 32) - 1 : 0;
  const loMask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  const out = new Uint32Array(target.buffer, target.byteOffset, target.length * 2);
  const cipher = createCipheriv('chacha20', seed, ZERO_IV);
  let k = 0;
  while (k < target.length) {
    // Enough keystream for the rest (acceptance ≥ 1/2, almost 1 for real moduli), capped per chunk.
    const want = Math.min(CHUNK_BYTES, 8 * (target.length - k) + 64);
    const stream = cipher.update(ZEROS.subarray(0, want - (want % 8)));
    const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
    for (let off = 0; off < stream.byteLength && k < target.length; off += 8) {
      const lo = (view.getUint32(off, true) & loMask) >>> 0;
      const hi = view.getUint32(off + 4, true) & hiMask;
      if (hi < mHi || (hi === mHi && lo < mLo)) {
        out[2 * k + LO] = lo;
        out[2 * k + HI] = hi;
        k++;
      }
    }
  }
}

/** The mask of `seed`: `length` uniform values in [0, modulus). */
export function expandMask(seed: Uint8Array, length: number, modulus: bigint): BigUint64Array {
  checkLength(length);
  const target = new BigUint64Array(length);
  expandMaskInto(target, seed, modulus);
  return target;
}

/**
 * target ← target + sign·mask (mod modulus), in place. Both must hold values in [0, modulus)
 * (RangeError otherwise: a caller bug, never peer input) and have equal lengths.
 */
export function addMaskInto(target: BigUint64Array, mask: BigUint64Array, sign: 1 | -1, modulus: bigint): void {
  checkModulus(modulus);
  if (target.length !== mask.length) throw new RangeError('target and mask lengths differ');
  if (sign !== 1 && sign !== -1) throw new RangeError('sign is 1 or -1');
  const mHi = Number(modulus >> 32n);
  const mLo = Number(modulus & 0xffffffffn);
  const t = new Uint32Array(target.buffer, target.byteOffset, target.length * 2);
  const m = new Uint32Array(mask.buffer, mask.byteOffset, mask.length * 2);
  for (let i = 0; i < t.length; i += 2) {
    const aLo = t[i + LO] ?? 0;
    const aHi = t[i + HI] ?? 0;
    const bLo = m[i + LO] ?? 0;
    const bHi = m[i + HI] ?? 0;
    if (aHi > mHi || (aHi === mHi && aLo >= mLo) || bHi > mHi || (bHi === mHi && bLo >= mLo)) {
      throw new RangeError(`value at ${i / 2} is not below the modulus`);
    }
    let lo: number;
    let hi: number;
    if (sign === 1) {
      lo = aLo + bLo;
      hi = aHi + bHi;
      if (lo >= TWO32) {
        lo -= TWO32;
        hi += 1;
      }
      if (hi > mHi || (hi === mHi && lo >= mLo)) {
        lo -= mLo;
        hi -= mHi;
        if (lo < 0) {
          lo += TWO32;
          hi -= 1;
        }
      }
    } else {
      lo = aLo - bLo;
      hi = aHi - bHi;
      if (lo < 0) {
        lo += TWO32;
        hi -= 1;
      }
      if (hi < 0) {
        lo += mLo;
        hi += mHi;
        if (lo >= TWO32) {
          lo -= TWO32;
          hi += 1;
        }
      }
    }
    t[i + LO] = lo;
    t[i + HI] = hi;
  }
}
