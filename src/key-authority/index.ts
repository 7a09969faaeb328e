/** fedstat/key-authority: the holder of the BFV secret key, which decrypts only released totals. */
export {
  InProcessKeyAuthority, type KeyAuthority, type KeyAuthorityDescription, type ServableKeyAuthority, type ReleaseRecord,
  type InProcessKeyAuthorityOptions,
} from './key-authority.js';
export { admitDecryption, type AdmittedRequest, type ReleasePolicyContext } from './decryption-policy.js';
export { inThreadSlotDecryptor, isolatedSlotDecryptor, type SlotDecryptor, type SlotDecryptorFactory } from './slot-decryptor.js';
export { startKeyAuthorityNode, type KeyAuthorityNode, type KeyAuthorityNodeOptions } from './node.js';
export type { DecryptionRequest, DecryptionAnswer } from '../protocol/decryption.js';
