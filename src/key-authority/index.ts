/**
 * `fedstat/key-authority`: the holder of the BFV secret key, which decrypts only the unmasked
 * totals of signed, logged queries, once each. In the coordinator's process (`InProcessKeyAuthority`)
 * or as its own gRPC service (`startKeyAuthorityNode`).
 *
 * @packageDocumentation
 */
export {
  InProcessKeyAuthority,
  type InProcessKeyAuthorityOptions,
  type KeyAuthority,
  type KeyAuthorityDescription,
  type ReleaseRecord,
} from './key-authority.js';
export { startKeyAuthorityNode, type KeyAuthorityNode, type KeyAuthorityNodeOptions } from './node.js';
export {
  inThreadSlotDecryptor,
  isolatedSlotDecryptor,
  type SlotDecryptor,
  type SlotDecryptorFactory,
} from './slot-decryptor.js';
export type { RejectionListener } from '../transport/key-authority-server.js';
