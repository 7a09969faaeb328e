/**
 * BFV key generation and key loading.
 *
 * Serialization measured at N=8192 (node-seal 7): the public key is saved seeded (its uniform
 * half is replaced by a PRNG seed), 327,874 bytes uncompressed vs 655,473 unseeded; zstd would
 * save another 17% (270,783 bytes) but costs 19 ms to save and 4.7 ms more per load, and it
 * would put a decompressor in front of every key file. Keys are written once and loaded once per
 * process, so fedstat stores them uncompressed and refuses compressed key bytes.
 * The secret key is 327,768 bytes uncompressed.
 */
import type { PublicKey, SecretKey } from 'node-seal';
import { FedstatError, isFedstatError } from '../errors.js';
import { checkSealHeader, ComprMode } from './ciphertext-header.js';
import type { HeParams } from './he-params.js';
import { ownBytes, sealFailureReason } from './seal.js';

/** A BFV key pair as serialized bytes, from `generateHeKeys`. */
export interface HeKeyPair {
  /** Seeded, uncompressed SEAL public key: public, stored beside the federation file and hashed. */
  readonly publicKey: Uint8Array;
  /** Uncompressed SEAL secret key: only the key authority holds it (key file, mode 0600). */
  readonly secretKey: Uint8Array;
}

/** Upper bound on a serialized key of `params`: two polynomials at the key level, plus slack. */
function maxKeyBytes(params: HeParams): number {
  const k = params.shape.coeffModuli.length + 1; // the key level adds the special prime
  return 1024 + 2 * 8 * params.slotCount * k;
}

/** Generates a fresh BFV key pair for `params` (about 20 ms at N=8192). */
export function generateHeKeys(params: HeParams): HeKeyPair {
  params.assertLive('generateHeKeys');
  const { seal } = params;
  const keygen = new seal.KeyGenerator(params.context);
  try {
    const seeded = keygen.createPublicKeySerializable();
    let publicKey: Uint8Array;
    try {
      publicKey = ownBytes(seeded.saveToArray(seal.ComprModeType.none));
    } finally {
      seeded.delete();
    }
    const secret = keygen.secretKey();
    try {
      const secretKey = ownBytes(secret.saveToArray(seal.ComprModeType.none));
      return Object.freeze({ publicKey, secretKey });
    } finally {
      secret.delete();
    }
  } finally {
    keygen.delete();
  }
}

function keyError(what: string, problem: string, cause?: unknown): FedstatError {
  return new FedstatError(
    'KEY_INVALID',
    `HE ${what} key is invalid: ${problem}; use the key generated for this federation (fedstat init)`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * @internal Loads serialized key bytes into a new SEAL key object owned by the caller.
 * KEY_INVALID when the bytes are malformed or belong to other parameters (SEAL checks the
 * key's parms_id against the context).
 */
export function loadHeKey(params: HeParams, kind: 'public', bytes: Uint8Array): PublicKey;
export function loadHeKey(params: HeParams, kind: 'secret', bytes: Uint8Array): SecretKey;
export function loadHeKey(params: HeParams, kind: 'public' | 'secret', bytes: Uint8Array): PublicKey | SecretKey {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`HE ${kind} key must be a Uint8Array`);
  try {
    checkSealHeader(bytes, maxKeyBytes(params), [ComprMode.none]);
  } catch (e) {
    if (isFedstatError(e)) throw keyError(kind, 'its SEAL header is malformed or it is too large', e);
    throw e;
  }
  const { seal } = params;
  const key = kind === 'public' ? new seal.PublicKey() : new seal.SecretKey();
  try {
    key.loadFromArray(params.context, bytes);
    return key;
  } catch (e) {
    key.delete();
    throw keyError(kind, `SEAL refused it (${sealFailureReason(seal, e)})`);
  }
}
