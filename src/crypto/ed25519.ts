/**
 * Ed25519 signatures (tweetnacl) with the hardening tweetnacl lacks: it accepts a non-canonical
 * S (S + L verifies too, so signatures are malleable) and small-order or non-canonical public
 * keys (for which forgeries are trivial). Both are rejected here. Sign digests, not megabytes:
 * tweetnacl is ~65× slower than node:crypto per byte.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import nacl from 'tweetnacl';

export const SIGNATURE_BYTES = 64;
export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = (-121665n * modInverse(121666n)) % P;
const SQRT_M1 = modPow(2n, (P - 1n) / 4n);

export interface SigningKeyPair {
  readonly publicKey: Uint8Array;
  /** tweetnacl's 64-byte secret key (seed ‖ public key). */
  readonly secretKey: Uint8Array;
}

/** A fresh key pair whose seed comes from the OS CSPRNG (node:crypto), never from tweetnacl's own RNG. */
export function generateSigningKeyPair(): SigningKeyPair {
  return signingKeyPairFromSeed(new Uint8Array(randomBytes(SEED_BYTES)));
}

export function signingKeyPairFromSeed(seed: Uint8Array): SigningKeyPair {
  if (seed.length !== SEED_BYTES) throw new RangeError(`an Ed25519 seed has ${SEED_BYTES} bytes`);
  const kp = nacl.sign.keyPair.fromSeed(seed);
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return nacl.sign.detached(message, secretKey);
}

/**
 * Verifies a detached signature, rejecting malformed lengths, S ≥ L, and public keys that are
 * non-canonical or of small order. Never throws for any input.
 */
export function verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  if (readLittleEndian(signature.subarray(32)) >= L) return false;
  if (!isAcceptablePublicKey(publicKey)) return false;
  return nacl.sign.detached.verify(message, signature, publicKey);
}

/** A public key is acceptable when it is a canonical encoding of a curve point of large order. */
export function isAcceptablePublicKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES) return false;
  const point = decodePoint(publicKey);
  if (point === null) return false;
  let q = point;
  for (let i = 0; i < 3; i++) q = edwardsAdd(q, q); // 8·P
  return !(q[0] === 0n && q[1] === 1n); // small order ⇔ 8·P is the identity
}

/** Constant-time equality for MACs, keys and digests. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function readLittleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = ((base % P) + P) % P;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

function modInverse(a: bigint): bigint {
  return modPow(a, P - 2n);
}

/** RFC 8032 §5.1.3 point decoding; null for non-canonical y or points off the curve. */
function decodePoint(bytes: Uint8Array): [bigint, bigint] | null {
  const copy = Uint8Array.from(bytes);
  const sign = ((copy[31] ?? 0) >> 7) & 1;
  copy[31] = (copy[31] ?? 0) & 0x7f;
  const y = readLittleEndian(copy);
  if (y >= P) return null;
  const y2 = (y * y) % P;
  const u = (y2 - 1n + P) % P;
  const v = (D * y2 + 1n) % P;
  const x2 = (u * modInverse(v)) % P;
  let x = modPow(x2, (P + 3n) / 8n);
  if ((x * x - x2) % P !== 0n) x = (x * SQRT_M1) % P;
  if ((((x * x - x2) % P) + P) % P !== 0n) return null;
  if (x === 0n && sign === 1) return null;
  if (Number(x & 1n) !== sign) x = P - x;
  return [x, y];
}

/** Affine twisted-Edwards addition (a = −1); complete because d is not a square. */
function edwardsAdd([x1, y1]: [bigint, bigint], [x2, y2]: [bigint, bigint]): [bigint, bigint] {
  const t = (D * x1 * x2 % P) * y1 * y2 % P;
  const x3 = ((x1 * y2 + y1 * x2) % P) * modInverse((1n + t) % P) % P;
  const y3 = ((y1 * y2 + x1 * x2) % P) * modInverse((1n - t + P) % P) % P;
  return [(x3 + P) % P, (y3 + P) % P];
}
