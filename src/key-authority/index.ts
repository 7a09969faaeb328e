/** fedstat/key-authority: the holder of the BFV secret key, which decrypts only released totals. */
export { InProcessKeyAuthority, type KeyAuthority, type DecryptionRequest, type InProcessKeyAuthorityOptions } from './key-authority.js';
