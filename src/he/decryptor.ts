/**
 * BFV decryption for the key authority: the only holder of the secret key.
 */
import type { Decryptor, Plaintext, SecretKey } from 'node-seal';
import { FedstatError } from '../errors.js';
import type { HeParams } from './he-params.js';
import { loadHeKey } from './keys.js';
import { decodeCoefficients } from './coefficients.js';
import { loadCiphertext } from './load-ciphertext.js';

/** BFV decryption with the secret key (the key authority's). Dispose it to free the key. */
export class HeDecryptor implements Disposable {
  /** The BFV parameters the key and the ciphertexts are under. */
  readonly params: HeParams;
  readonly #secretKey: SecretKey;
  readonly #decryptor: Decryptor;
  /** Scratch plaintext, zeroed after every use. */
  readonly #plain: Plaintext;
  #disposed = false;

  /** Loads `secretKey` (bytes from generateHeKeys); FedstatError KEY_INVALID if they are not a key of `params`. */
  constructor(params: HeParams, secretKey: Uint8Array) {
    params.assertLive('HeDecryptor');
    this.params = params;
    const { seal } = params;
    this.#secretKey = loadHeKey(params, 'secret', secretKey);
    try {
      this.#decryptor = new seal.Decryptor(params.context, this.#secretKey);
    } catch (e) {
      this.#secretKey.delete();
      throw e;
    }
    this.#plain = new seal.Plaintext();
  }

  /**
   * Decrypts one serialized ciphertext into its slotCount slots (each below plainModulus).
   * The bytes get the same validation as an accumulator's input; a ciphertext whose invariant
   * noise budget is exhausted would decrypt to garbage and is refused with BAD_MESSAGE.
   * A sum that includes a ciphertext under another public key is uniform noise under this key,
   * so it is refused here too (measured); signatures are still the first line of defence.
   */
  decrypt(ciphertext: Uint8Array): BigUint64Array {
    if (this.#disposed) throw new TypeError('HeDecryptor has been disposed');
    this.params.assertLive('HeDecryptor');
    const ct = loadCiphertext(this.params, ciphertext);
    try {
      if (this.#decryptor.invariantNoiseBudget(ct) <= 0) {
        throw new FedstatError(
          'BAD_MESSAGE',
          'ciphertext has no noise budget left and would decrypt to garbage; it was tampered with or summed far beyond the plan',
        );
      }
      this.#decryptor.decrypt(ct, this.#plain);
      return decodeCoefficients(this.params, this.#plain);
    } finally {
      this.#plain.setZero();
      ct.delete();
    }
  }

  /** Frees the secret key, the decryptor and the scratch plaintext. Idempotent. */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#plain.delete();
    this.#decryptor.delete();
    this.#secretKey.delete();
  }
}
