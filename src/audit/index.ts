/**
 * fedstat/audit: accountability events and sinks, and the transparency log an auditor verifies
 * offline (RFC 9162 Merkle log, signed tree heads and entries, inclusion and consistency proofs,
 * the streaming verifier with its policy findings).
 */
export * from './events.js';
export * from '../transparency/index.js';
