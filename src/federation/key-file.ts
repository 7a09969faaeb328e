/**
 * One secret key file per party (mode 0600): its Ed25519 signing seed, its X25519 agreement
 * secret, its TLS certificate and private key (PEM) and, for the key authority, the BFV secret
 * key. Loading checks the permissions, that the keys match the party's public keys in the
 * federation file, and that the certificate was issued by the federation CA to this party: a key
 * file of another federation (or of an earlier init) is refused as such, KEY_INVALID.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, openSync, readFileSync, statSync, writeSync, closeSync } from 'node:fs';
import nacl from 'tweetnacl';
import { FedstatError } from '../errors.js';
import { fromBase64, toBase64 } from '../crypto/digest.js';
import { constantTimeEqual, signingKeyPairFromSeed, type SigningKeyPair } from '../crypto/ed25519.js';
import { partyCertificateProblem } from '../tls/verify.js';
import { isRecord } from '../util/is-record.js';
import { checkCaCertificate, readCaCertificate, type Federation, type Party, type PartyRole } from './federation.js';

/** A party's secret keys, as read from its key file (see `loadKeyFile`, `parseKeyFile`). */
export interface PartySecrets {
  /** Id of the party the keys belong to. */
  readonly party: string;
  /** The party's role, as the key file records it. */
  readonly role: PartyRole;
  /** Ed25519 key pair that signs the party's messages. */
  readonly signing: SigningKeyPair;
  /** X25519 secret key (32 bytes) for key agreement in secure aggregation. */
  readonly agreementSecret: Uint8Array;
  /** X25519 public key (32 bytes) of `agreementSecret`. */
  readonly agreementPublic: Uint8Array;
  /** Serialized BFV secret key; only the key authority has one. */
  readonly heSecretKey: Uint8Array | null;
  /**
   * The party's mTLS certificate (issued by the federation CA, CN and DNS name = party id) and
   * its private key, PEM. null in key files written before mTLS, or when the federation file
   * has no "tls" section: such a party can only run with --insecure on loopback.
   */
  readonly tls: PartyTls | null;
}

/** A party's mTLS identity, with the federation CA it was checked against (the only root to trust). */
export interface PartyTls {
  /** The party's certificate, PEM. */
  readonly certificatePem: string;
  /** The certificate's private key, PEM. */
  readonly privateKeyPem: string;
  /** The federation CA certificate (PEM), checked against the hash the federation file pins. */
  readonly caPem: string;
}

export function generatePartySecrets(
  party: string,
  role: PartyRole,
  heSecretKey: Uint8Array | null = null,
): PartySecrets {
  const agreementSecret = new Uint8Array(randomBytes(32));
  return {
    party,
    role,
    heSecretKey,
    agreementSecret,
    tls: null,
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
    ...(secrets.tls === null
      ? {}
      : { tlsCertificate: secrets.tls.certificatePem, tlsPrivateKey: secrets.tls.privateKeyPem }),
  };
  writeSecretFile(path, `${JSON.stringify(doc, null, 2)}\n`, overwrite);
}

/**
 * Writes a secret file (a key file, the CA private key) with mode 0600, refusing to overwrite
 * unless `overwrite`.
 */
export function writeSecretFile(path: string, text: string, overwrite = false): void {
  let fd: number;
  try {
    fd = openSync(path, overwrite ? 'w' : 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FedstatError(
      'IO',
      code === 'EEXIST'
        ? `key file ${path} already exists; keep it, or pass --force to replace every key of the federation`
        : `cannot write key file ${path}: ${code ?? 'error'}`,
      { cause: e },
    );
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600); // openSync's mode is masked by umask and ignored for existing files
}

function keyError(path: string, problem: string, fix: string): FedstatError {
  return new FedstatError('KEY_INVALID', `key file ${path}: ${problem}; ${fix}`, { details: { file: path } });
}

/** Loads a party's key file (mode 0600) and checks it against the federation's public keys. */
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
    throw new FedstatError(
      'KEY_INVALID',
      `cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}; check --key`,
      { cause: e },
    );
  }
  const ca = federation.tls === null ? null : lazy(() => readCaCertificate(federation));
  return parseKeyFile(text, federation, { source: path, caCertificate: ca });
}

/** Where a key file's text came from and the federation CA to check its certificate against. */
export interface KeyFileSource {
  /** Named in errors: a path, or a label such as "cd-psb's key from the vault". */
  readonly source: string;
  /**
   * The federation CA certificate (PEM), or a function returning it, when the federation has a
   * "tls" section; it is checked against the hash the federation pins. Not needed otherwise.
   */
  readonly caCertificate?: string | (() => string) | null;
}

/**
 * Parses the text of a party's key file held in memory (a secrets store, an environment) and
 * checks it as `loadKeyFile` does: the keys against the party's public keys in the federation,
 * the TLS certificate against the federation CA. KEY_INVALID, naming `source`, on any mismatch.
 */
export function parseKeyFile(text: string, federation: Federation, from: KeyFileSource): PartySecrets {
  const path = from.source;
  const caPem = lazy(() => caCertificateOf(federation, from, path));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw keyError(path, 'not valid JSON', 'restore it from your backup or re-run fedstat init');
  }
  if (!isRecord(parsed))
    throw keyError(path, 'not a JSON object', 'restore it from your backup or re-run fedstat init');
  const doc = parsed;
  const partyId = doc['party'];
  if (typeof partyId !== 'string') throw keyError(path, 'no "party" field', 're-run fedstat init');
  const ca = sameCa(doc, federation, caPem);
  const p = partyOf(path, partyId, federation, ca);
  const seed = typeof doc['signingSeed'] === 'string' ? fromBase64(doc['signingSeed']) : null;
  const agreementSecret = typeof doc['agreementSecret'] === 'string' ? fromBase64(doc['agreementSecret']) : null;
  if (seed?.length !== 32 || agreementSecret?.length !== 32)
    throw keyError(path, 'malformed keys', 're-run fedstat init');
  const signing = signingKeyPairFromSeed(seed);
  const agreementPublic = nacl.scalarMult.base(agreementSecret);
  if (!constantTimeEqual(signing.publicKey, p.signingKey) || !constantTimeEqual(agreementPublic, p.agreementKey)) {
    throw keyError(
      path,
      `its keys do not match party ${partyId} in ${federation.file}`,
      ca === true
        ? "its certificate is from this federation's CA, so one of the two files was edited: restore both from what fedstat init wrote"
        : `it belongs to another federation, or one of the files was edited: use the key file fedstat init wrote with ${federation.file}`,
    );
  }
  let heSecretKey: Uint8Array | null = null;
  if (doc['heSecretKey'] !== undefined) {
    heSecretKey = typeof doc['heSecretKey'] === 'string' ? fromBase64(doc['heSecretKey']) : null;
    if (heSecretKey === null) throw keyError(path, 'malformed HE secret key', 're-run fedstat init');
  }
  return {
    party: partyId,
    role: p.role,
    signing,
    agreementSecret,
    agreementPublic,
    heSecretKey,
    tls: loadTls(path, doc, partyId, federation, caPem),
  };
}

/**
 * The party the key file is for, in this federation (`ca`: whether this federation's CA issued the
 * key file's certificate, see sameCa); KEY_INVALID when the key file belongs to another federation. Key files are bound to their federation by the party's public keys in the
 * federation file and by the TLS certificate the federation CA issued; a certificate from another
 * CA is the clearest sign of a key file from another federation (or from an earlier init), and is
 * reported before the keys are compared.
 */
function partyOf(path: string, partyId: string, federation: Federation, ca: boolean | null): Party {
  const fix = `use the key file fedstat init wrote together with ${federation.file}`;
  if (ca === false) {
    throw keyError(
      path,
      `it belongs to another federation: its TLS certificate was not issued by the federation CA (${federation.tls?.caFile ?? 'ca.crt'})`,
      fix,
    );
  }
  const p = federation.parties.find((x) => x.id === partyId);
  if (p !== undefined) return p;
  const listed = `parties: ${federation.parties.map((x) => x.id).join(', ')}`;
  if (ca === true) {
    throw keyError(
      path,
      `it is for party ${JSON.stringify(partyId)}, which ${federation.file} does not list (${listed}), though this federation's CA issued its certificate`,
      'the federation file was edited: restore the federation.json fedstat init wrote',
    );
  }
  throw keyError(
    path,
    `it is for party ${JSON.stringify(partyId)}, which ${federation.file} does not list (${listed}): it belongs to another federation`,
    fix,
  );
}

/**
 * Whether the key file's TLS certificate was issued by this federation's CA; null when that cannot
 * be told (no certificate, no CA in the federation, or one that does not parse: loadTls reports it).
 */
function sameCa(doc: Record<string, unknown>, federation: Federation, caPem: () => string): boolean | null {
  const pem = doc['tlsCertificate'];
  if (typeof pem !== 'string' || federation.tls === null) return null;
  let certificate: X509Certificate;
  let ca: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
    ca = new X509Certificate(caPem());
  } catch (e) {
    if (e instanceof FedstatError) throw e; // the CA file is missing or swapped: that is the problem to report
    return null;
  }
  return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
}

/**
 * The key file's TLS certificate and key, checked against the federation CA; null when the key
 * file predates mTLS or the federation has no CA (then only --insecure on loopback can run).
 */
function loadTls(
  path: string,
  doc: Record<string, unknown>,
  partyId: string,
  federation: Federation,
  ca: () => string,
): PartyTls | null {
  const certificatePem = doc['tlsCertificate'];
  const privateKeyPem = doc['tlsPrivateKey'];
  if (certificatePem === undefined && privateKeyPem === undefined) return null;
  if (typeof certificatePem !== 'string' || typeof privateKeyPem !== 'string') {
    throw keyError(path, '"tlsCertificate" and "tlsPrivateKey" must both be PEM text', 're-run fedstat init');
  }
  if (federation.tls === null) return null;
  const caPem = ca();
  const problem = partyCertificateProblem({ caPem, certificatePem, privateKeyPem, partyId });
  if (problem !== null)
    throw keyError(path, problem, `use the key file created with ${federation.file}, or re-run fedstat init`);
  return { certificatePem, privateKeyPem, caPem };
}

/** The CA a key file in memory is checked against: given, hash-checked; KEY_INVALID when missing. */
function caCertificateOf(federation: Federation, from: KeyFileSource, path: string): string {
  const given = typeof from.caCertificate === 'function' ? from.caCertificate() : from.caCertificate;
  if (given === undefined || given === null) {
    throw keyError(
      path,
      'its TLS certificate cannot be checked without the federation CA certificate',
      'pass the ca.crt that came with the federation file',
    );
  }
  return checkCaCertificate(federation, given);
}

/** `f()` computed at most once, on first use. */
function lazy<T>(f: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: f() }).v;
}
