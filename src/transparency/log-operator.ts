/**
 * Whose key signs the log's tree heads. The federation file may name a dedicated log operator
 * key under "transparency": {"operatorKey": "<base64 Ed25519 public key>"}; without one the
 * coordinator runs the log and its signing key signs the heads. Either way the key comes from
 * the federation file, which every party and auditor already holds and whose hash is the log id.
 */
import { readFileSync } from 'node:fs';
import { fromBase64 } from '../crypto/digest.js';
import { isAcceptablePublicKey } from '../crypto/ed25519.js';
import { FedstatError } from '../errors.js';
import { partyOfRole, type Federation } from '../federation/federation.js';
import { isRecord } from '../util/is-record.js';

export interface LogOperator {
  /** Ed25519 public key that signs tree heads. */
  readonly publicKey: Uint8Array;
  /** Where it came from: the federation file's transparency.operatorKey, or the coordinator's key. */
  readonly source: 'transparency.operatorKey' | 'coordinator';
}

/**
 * The log operator of `federation`: transparency.operatorKey from the federation file when
 * present (re-read from `federation.file`: the parsed Federation does not carry it), else the
 * coordinator's signing key. CONFIG_INVALID for an operatorKey that is not a valid public key.
 */
export function logOperator(federation: Federation): LogOperator {
  let raw: unknown = null;
  try {
    raw = JSON.parse(readFileSync(federation.file, 'utf8'));
  } catch {
    // A federation built in memory (tests, benchmarks) has no file: fall back to the coordinator.
  }
  const section = isRecord(raw) ? raw['transparency'] : undefined;
  if (section !== undefined) {
    const text = isRecord(section) ? section['operatorKey'] : undefined;
    const key = typeof text === 'string' ? fromBase64(text) : null;
    if (key === null || !isAcceptablePublicKey(key)) {
      throw new FedstatError('CONFIG_INVALID', `${federation.file}: transparency.operatorKey must be a base64 Ed25519 public key of 32 bytes; fix it or remove the section to use the coordinator's key`);
    }
    return Object.freeze({ publicKey: key, source: 'transparency.operatorKey' });
  }
  return Object.freeze({ publicKey: partyOfRole(federation, 'coordinator').signingKey, source: 'coordinator' });
}
