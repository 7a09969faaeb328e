/**
 * The one step of the key authority that touches SEAL: serialized ciphertexts in, slot vectors
 * out. It is an interface so the decryption can run where a SEAL abort on hostile bytes cannot
 * poison the serving process (a worker); the default runs in this thread with HeDecryptor, which
 * validates every ciphertext's header and layout before SEAL loads it.
 */
import { HeDecryptor } from '../he/decryptor.js';
import type { HeParams } from '../he/he-params.js';
import { IsolatedHe } from '../he/isolated/isolated-he.js';

/** Decrypts ciphertexts to slot vectors with the BFV secret key it holds; made by a SlotDecryptorFactory. */
export interface SlotDecryptor {
  /**
   * Decrypts each serialized ciphertext into its slot vector (`slotCount` slots, each below the
   * plain modulus), in order. Rejects with FedstatError BAD_MESSAGE for bytes that are not a
   * sound ciphertext of the parameters.
   */
  decrypt(ciphertexts: readonly Uint8Array[]): Promise<BigUint64Array[]>;
  /** Frees the secret key and everything else the decryptor holds. Idempotent. */
  close(): Promise<void>;
}

/**
 * Builds the decryptor the key authority uses, from its HE parameters and the serialized BFV
 * secret key of its key file. The key authority owns the result and closes it; it disposes
 * `params` only after that.
 */
export type SlotDecryptorFactory = (
  params: HeParams,
  heSecretKey: Uint8Array,
) => SlotDecryptor | Promise<SlotDecryptor>;

/** The default: HeDecryptor in the calling thread. */
export const inThreadSlotDecryptor: SlotDecryptorFactory = (params, heSecretKey) => {
  const decryptor = new HeDecryptor(params, heSecretKey);
  let closed = false;
  return {
    decrypt(ciphertexts) {
      if (closed) return Promise.reject(new TypeError('slot decryptor is closed'));
      try {
        return Promise.resolve(ciphertexts.map((ct) => decryptor.decrypt(ct)));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
    close() {
      closed = true;
      decryptor[Symbol.dispose]();
      return Promise.resolve();
    },
  };
};

/**
 * Decryption in an isolated SEAL worker thread (IsolatedHe), recycled if SEAL fails: what the
 * served key authority and the coordinator's in-process key authority use.
 */
export const isolatedSlotDecryptor: SlotDecryptorFactory = async (params, heSecretKey) => {
  const he = await IsolatedHe.create(params.preset, { secretKey: heSecretKey });
  return { decrypt: (ciphertexts) => he.decrypt(ciphertexts), close: () => he.close() };
};
