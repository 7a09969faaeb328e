/**
 * The coordinator's running encrypted sum, whatever holds it: the in-thread HeAccumulator, or
 * one living in an isolated SEAL worker. Every call may be asynchronous.
 */
export interface EncryptedSum {
  add(ciphertexts: readonly Uint8Array[]): Promise<void> | void;
  /** Subtracts a plaintext vector per ciphertext (secure aggregation's mask correction). */
  subtractPlain(slots: readonly BigUint64Array[]): Promise<void> | void;
  sum(): Promise<Uint8Array[]> | Uint8Array[];
  dispose(): void;
}
