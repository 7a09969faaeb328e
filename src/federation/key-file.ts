/**
 * One secret key file per party (mode 0600): its Ed25519 signing seed, its X25519 agreement
 * secret and, for the key authority, the BFV secret key. Loading checks the permissions and that
 * the keys match the party's public keys in the federation file.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, openSync, readFileSync, statSync, writeSync, closeSync } from 'node:fs';
import nacl from 'tweetnacl';
import { FedstatError } from '../errors.js';
import { fromBase64, toBase64 } from '../crypto/digest.js';
import { constantTimeEqual, signingKeyPairFromSeed, type SigningKeyPair } from '../crypto/ed25519.js';
import { party as findParty, type Federation, type PartyRole } from './federation.js';

export interface PartySecrets {
  readonly party: string;
  readonly role: PartyRole;
  readonly signing: SigningKeyPair;
  readonly agreementSecret: Uint8Array;
  readonly agreementPublic: Uint8Array;
  /** Serialized BFV secret key; only the key authority has one. */
  readonly heSecretKey: Uint8Array | null;
}

export function generatePartySecrets(party: string, role: PartyRole, heSecretKey: Uint8Array | null = null): PartySecrets {
  const agreementSecret = new Uint8Array(randomBytes(32));
  return {
    party, role, heSecretKey, agreementSecret,
    agreementPublic: nacl.scalarMult.base(agreementSecret),
    signing: signingKeyPairFromSeed(new Uint8Array(randomBytes(32))),
  };
}

/** Writes the key file with mode 0600, refusing to overwrite unless `overwrite`. */
export function writeKeyFile(path: string, secrets: PartySecrets, overwrite = false): void {
  const doc = {
    fedstat: 1,
    party: secrets.party,
    role: secrets.role,
    signingSeed: toBase64(secrets.signing.secretKey.subarray(0, 32)),
    agreementSecret: toBase64(secrets.agreementSecret),
    ...(secrets.heSecretKey === null ? {} : { heSecretKey: toBase64(secrets.heSecretKey) }),
  };
  let fd: number;
  try {
    fd = openSync(path, overwrite ? 'w' : 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FedstatError('IO', code === 'EEXIST'
      ? `key file ${path} already exists; keep it, or pass --force to replace every key of the federation`
      : `cannot write key file ${path}: ${code ?? 'error'}`, { cause: e });
  }
  try {
    writeSync(fd, `${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600); // openSync's mode is masked by umask and ignored for existing files
}

function keyError(path: string, problem: string, fix: string): FedstatError {
  return new FedstatError('KEY_INVALID', `key file ${path}: ${problem}; ${fix}`, { details: { file: path } });
}

/** Loads a party's key file and checks it against the federation's public keys. */
export function loadKeyFile(path: string, federation: Federation): PartySecrets {
  let text: string;
  try {
    const st = statSync(path);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw keyError(path, `permissions ${(st.mode & 0o777).toString(8)} let others read it`, `run chmod 600 ${path}`);
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof FedstatError) throw e;
    throw new FedstatError('KEY_INVALID', `cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}; check --key`, { cause: e });
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw keyError(path, 'not valid JSON', 'restore it from your backup or re-run fedstat init');
  }
  const partyId = doc['party'];
  if (typeof partyId !== 'string') throw keyError(path, 'no "party" field', 're-run fedstat init');
  const p = findParty(federation, partyId);
  const seed = typeof doc['signingSeed'] === 'string' ? fromBase64(doc['signingSeed']) : null;
  const agreementSecret = typeof doc['agreementSecret'] === 'string' ? fromBase64(doc['agreementSecret']) : null;
  if (seed?.length !== 32 || agreementSecret?.length !== 32) throw keyError(path, 'malformed keys', 're-run fedstat init');
  const signing = signingKeyPairFromSeed(seed);
  const agreementPublic = nacl.scalarMult.base(agreementSecret);
  if (!constantTimeEqual(signing.publicKey, p.signingKey) || !constantTimeEqual(agreementPublic, p.agreementKey)) {
    throw keyError(path, `its keys do not match party ${partyId} in ${federation.file}`, 'use the key file created with this federation file');
  }
  let heSecretKey: Uint8Array | null = null;
  if (doc['heSecretKey'] !== undefined) {
    heSecretKey = typeof doc['heSecretKey'] === 'string' ? fromBase64(doc['heSecretKey']) : null;
    if (heSecretKey === null) throw keyError(path, 'malformed HE secret key', 're-run fedstat init');
  }
  return { party: partyId, role: p.role, signing, agreementSecret, agreementPublic, heSecretKey };
}
