/**
 * Whose key signs the log's tree heads. The federation file may name a dedicated log operator
 * key under "transparency": {"operatorKey": "<base64 Ed25519 public key>"}; without one the
 * coordinator runs the log and its signing key signs the heads. Either way the key comes from
 * the federation file, which every party and auditor already holds and whose hash is the log id.
 */
import { partyOfRole, type Federation } from '../federation/federation.js';

export interface LogOperator {
  /** Ed25519 public key that signs tree heads. */
  readonly publicKey: Uint8Array;
  /** Where it came from: the federation file's transparency.operatorKey, or the coordinator's key. */
  readonly source: 'transparency.operatorKey' | 'coordinator';
}

/**
 * The log operator of `federation`: transparency.operatorKey of the federation file when it names
 * one (validated when the file was parsed), else the coordinator's signing key. Reads no file.
 */
export function logOperator(federation: Federation): LogOperator {
  if (federation.logOperatorKey !== undefined) {
    return Object.freeze({ publicKey: federation.logOperatorKey, source: 'transparency.operatorKey' });
  }
  return Object.freeze({ publicKey: partyOfRole(federation, 'coordinator').signingKey, source: 'coordinator' });
}
