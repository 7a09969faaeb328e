/**
 * `fedstat/he`: BFV homomorphic encryption (node-seal 7 / Microsoft SEAL 4.1) for federated sums.
 * Local computation only: nothing here does I/O beyond loading the WASM module.
 */
export { loadSeal, type SealModule } from './seal.js';
export { BFV_N8192_T60, BFV_N16384_T60, HE_PRESETS, presetByName, type HePreset } from './presets.js';
export { HeParams, MIN_HEADROOM_BITS } from './he-params.js';
export { generateHeKeys, type HeKeyPair } from './keys.js';
export { HeEncryptor } from './encryptor.js';
export { HeAccumulator, type HeAccumulatorOptions } from './accumulator.js';
export { HeDecryptor } from './decryptor.js';
export {
  checkSealHeader, ComprMode, SEAL_HEADER_SIZE, SEAL_MAGIC, SEAL_VERSION_MAJOR, SEAL_VERSION_MINOR, type SealHeader,
} from './ciphertext-header.js';
export { checkCiphertextLayout, ciphertextByteLength, type CiphertextShape } from './ciphertext-layout.js';
export {
  addSlotsModT, MAX_CIPHERTEXTS, packSlots, planSlotLayout, proveNoWrap, unpackSlots,
  type CellSlots, type SlotLayout, type SlotSpace,
} from './packing.js';
export {
  DEFAULT_HE_RESOURCE_LIMITS, IsolatedHe, type IsolatedAccumulatorOptions, type IsolatedHeOptions, type IsolatedHeStats,
} from './isolated/isolated-he.js';
export { IsolatedAccumulator, type TransferOptions } from './isolated/isolated-accumulator.js';
export type { IsolatedHeInfo } from './isolated/protocol.js';
