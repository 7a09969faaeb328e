/**
 * X25519 key agreement (RFC 7748) on node:crypto, byte-identical to tweetnacl's
 * `nacl.scalarMult` (tests cross-check both) and far faster. Raw 32-byte keys go in and out;
 * node's KeyObjects are built from fixed DER prefixes and memoised, because the long-term
 * agreement keys of a federation are reused for every query.
 *
 * A low-order peer public key makes the shared secret all-zero whatever our secret is: a peer
 * (or an attacker substituting keys) would then know the "shared" secret. RFC 7748 §6.1 allows
 * rejecting it; we always do, in constant time.
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { FedstatError } from '../errors.js';

const X25519_KEY_BYTES = 32;

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const privateKeys = new WeakMap<Uint8Array, KeyObject>();
// Keyed by hex so equal keys in different arrays share an entry; bounded so hostile input
// cannot grow it without limit.
const publicKeys = new Map<string, KeyObject>();
const MAX_CACHED_PUBLIC_KEYS = 4096;

function checkLength(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    throw new TypeError(`an X25519 ${what} is a Uint8Array of ${X25519_KEY_BYTES} bytes`);
  }
}

/**
 * The KeyObject of a secret key, memoised per array. Callers must not mutate a secret key array
 * after first use (fedstat never does: key files are read once into fresh arrays).
 */
function privateKeyObject(secretKey: Uint8Array): KeyObject {
  let key = privateKeys.get(secretKey);
  if (key === undefined) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
    privateKeys.set(secretKey, key);
  }
  return key;
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex');
  let key = publicKeys.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (publicKeys.size >= MAX_CACHED_PUBLIC_KEYS) publicKeys.clear();
    publicKeys.set(id, key);
  }
  return key;
}

/** The public key X25519(secretKey, 9) of a 32-byte secret key (clamped as RFC 7748 says). */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  checkLength(secretKey, 'secret key');
  const der = createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - X25519_KEY_BYTES));
}

/**
 * X25519(secretKey, publicKey). Throws TypeError on wrong lengths and FedstatError BAD_MESSAGE
 * when the result is all-zero (the public key has small order), so the result is always a secret
 * only the two key holders know.
 */
export function x25519SharedSecret(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  checkLength(secretKey, 'secret key');
  checkLength(publicKey, 'public key');
  let shared: Uint8Array;
  try {
    shared = new Uint8Array(
      diffieHellman({ privateKey: privateKeyObject(secretKey), publicKey: publicKeyObject(publicKey) }),
    );
  } catch (e) {
    // OpenSSL itself refuses an all-zero result; report it the same way as our own check.
    throw lowOrder(e);
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i] ?? 0; // no early exit: constant time
  if (acc === 0 || shared.length !== X25519_KEY_BYTES) throw lowOrder(undefined);
  return shared;
}

function lowOrder(cause: unknown): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    'X25519 peer public key has small order (all-zero shared secret); the party must publish a proper agreement key',
    { cause },
  );
}
