/**
 * The federation's certificate authority and the certificates it issues to parties, built with
 * node:crypto keys and the DER writer (node:crypto parses X.509 but cannot create it). Every
 * certificate is X.509 v3 (RFC 5280) with an ECDSA P-256 key, signed ecdsa-with-SHA256.
 *
 * A party certificate names the party twice: subject CN = party id, and subjectAltName
 * DNS:party-id. Peers are authenticated by that name, not by the address they are reached at,
 * so a certificate is valid for its party wherever the party runs.
 */
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { FedstatError } from '../errors.js';
import type { PartyRole } from '../federation/federation.js';
import {
  bitString,
  boolean,
  explicit,
  ia5String,
  implicit,
  integer,
  namedBits,
  octetString,
  oid,
  readChildren,
  readElement,
  sequence,
  set,
  time,
  utf8String,
} from './der.js';
import { ipAddressBytes, isDnsLabel, isDnsName, unbracket } from './names.js';

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface CertificateAndKey {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface CertificateAuthorityOptions {
  readonly commonName: string;
  readonly validDays: number;
  /** The issuing time (tests); defaults to now. */
  readonly now?: Date;
}

export interface PartyCertificateOptions {
  /** The party id: subject CN and the subjectAltName DNS name peers check. A DNS label. */
  readonly partyId: string;
  /** Recorded as the subject OU, for people reading the certificate. */
  readonly role: PartyRole;
  /** Further names the party is reached at: IP literals ("127.0.0.1", "[::1]") or DNS names. */
  readonly hosts: readonly string[];
  /** Clamped to the CA's own expiry. */
  readonly validDays: number;
  readonly now?: Date;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organizationalUnit: '2.5.4.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;
const DAY_MS = 86_400_000;
/** notBefore is backdated so a peer whose clock runs a little behind still accepts a fresh certificate. */
const CLOCK_SKEW_MS = 3_600_000;

function algorithm(): Uint8Array {
  return sequence(oid(OID.ecdsaWithSha256)); // parameters absent for ECDSA (RFC 5758 §3.2)
}

function name(attributes: readonly (readonly [string, string])[]): Uint8Array {
  return sequence(...attributes.map(([type, value]) => set(sequence(oid(type), utf8String(value)))));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  // DER omits a BOOLEAN equal to its DEFAULT (critical DEFAULT FALSE)
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function checkDays(days: number): void {
  if (!Number.isSafeInteger(days) || days < 1)
    throw new RangeError(`validDays must be a positive integer, got ${days}`);
}

/** A positive serial of at most 16 bytes from the CSPRNG (RFC 5280 §4.1.2.2: ≤ 20 octets, positive). */
function serialNumber(): Uint8Array {
  for (;;) {
    const bytes = new Uint8Array(randomBytes(16));
    bytes[0] = (bytes[0] ?? 0) & 0x7f;
    if (bytes.some((b) => b !== 0)) return bytes;
  }
}

/** subjectPublicKey bits of a DER SubjectPublicKeyInfo (the BIT STRING content minus its unused-bits byte). */
function publicKeyBits(spki: Uint8Array): Uint8Array {
  const [, key] = readChildren(readElement(spki, 0).content);
  if (key === undefined) throw new FedstatError('INTERNAL', 'SubjectPublicKeyInfo has no key');
  return key.content.subarray(1);
}

/** Key identifier per RFC 7093 §2 method 1: the leftmost 160 bits of SHA-256(subjectPublicKey). */
function keyIdentifier(publicKey: KeyObject): Uint8Array {
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  return new Uint8Array(createHash('sha256').update(publicKeyBits(spki)).digest()).subarray(0, 20);
}

function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

interface TbsFields {
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: KeyObject;
  readonly extensions: readonly Uint8Array[];
}

function signCertificate(fields: TbsFields, signer: KeyObject): string {
  const tbs = sequence(
    explicit(0, integer(2n)), // version v3
    integer(serialNumber()),
    algorithm(),
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    new Uint8Array(fields.publicKey.export({ type: 'spki', format: 'der' })),
    explicit(3, sequence(...fields.extensions)),
  );
  const signature = new Uint8Array(sign('sha256', tbs, signer)); // EC keys sign to a DER Ecdsa-Sig-Value
  return toPem(sequence(tbs, algorithm(), bitString(signature)));
}

function newKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/**
 * A self-signed federation CA: basicConstraints CA:true, pathlen 0 (it signs party certificates
 * only), keyUsage keyCertSign|cRLSign, both critical, and a subjectKeyIdentifier.
 */
export function createCertificateAuthority(options: CertificateAuthorityOptions): CertificateAndKey {
  checkDays(options.validDays);
  if (options.commonName.length === 0 || options.commonName.length > 64)
    throw new RangeError('commonName must have 1..64 characters');
  const now = (options.now ?? new Date()).getTime();
  const { publicKey, privateKey } = newKeyPair();
  const subject = name([[OID.commonName, options.commonName]]);
  const ski = keyIdentifier(publicKey);
  const certificatePem = signCertificate(
    {
      issuer: subject,
      subject,
      publicKey,
      notBefore: wholeSeconds(now - CLOCK_SKEW_MS),
      notAfter: wholeSeconds(now + options.validDays * DAY_MS),
      extensions: [
        extension(OID.basicConstraints, true, sequence(boolean(true), integer(0n))),
        extension(OID.keyUsage, true, namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
        extension(OID.subjectKeyIdentifier, false, octetString(ski)),
        extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, octetString(ski)))),
      ],
    },
    privateKey,
  );
  return { certificatePem, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** subjectAltName entries: DNS:partyId first, then each distinct host as an IP or DNS entry. */
function altNames(partyId: string, hosts: readonly string[]): Uint8Array[] {
  const seen = new Set<string>([partyId]);
  const out = [implicit(2, ia5String(partyId))];
  for (const raw of hosts) {
    const ip = ipAddressBytes(raw);
    const key = ip === null ? raw.toLowerCase() : `ip:${Buffer.from(ip).toString('hex')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (ip !== null) {
      out.push(implicit(7, octetString(ip)));
    } else if (isDnsName(key)) {
      out.push(implicit(2, ia5String(key)));
    } else {
      throw new FedstatError(
        'CONFIG_INVALID',
        `host ${JSON.stringify(unbracket(raw))} of party ${partyId} is neither an IP address nor a DNS name; fix its endpoint`,
      );
    }
  }
  return out;
}

/** The subject Name of a certificate, as its exact DER bytes (the issuer field of what it signs). */
function subjectName(certificate: X509Certificate): Uint8Array {
  const der = new Uint8Array(certificate.raw);
  const [tbs] = readChildren(readElement(der, 0).content);
  const fields = readChildren(tbs?.content ?? new Uint8Array(0));
  const subject = fields[(fields[0]?.tag === 0xa0 ? 1 : 0) + 4]; // [version] serial sig issuer validity subject
  if (subject === undefined)
    throw new FedstatError('KEY_INVALID', 'the CA certificate is malformed; re-run fedstat init');
  return subject.encoding;
}

/**
 * Issues a party certificate under `ca`: a fresh P-256 key, subject OU=role, CN=partyId,
 * subjectAltName DNS:partyId plus `hosts`, basicConstraints CA:false and keyUsage
 * digitalSignature (both critical), extKeyUsage serverAuth+clientAuth, authorityKeyIdentifier,
 * a random 128-bit serial, valid from an hour ago for `validDays` (never past the CA's expiry).
 */
export function issuePartyCertificate(ca: CertificateAndKey, options: PartyCertificateOptions): CertificateAndKey {
  checkDays(options.validDays);
  if (!isDnsLabel(options.partyId)) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `party id ${JSON.stringify(options.partyId)} cannot name a TLS peer; use lowercase letters, digits and inner dashes (a DNS label)`,
    );
  }
  let caCertificate: X509Certificate;
  let caKey: KeyObject;
  try {
    caCertificate = new X509Certificate(ca.certificatePem);
    caKey = createPrivateKey(ca.privateKeyPem);
  } catch (e) {
    throw new FedstatError(
      'KEY_INVALID',
      'the CA certificate or key does not parse; use the ca.crt and keys/ca.key written by fedstat init',
      { cause: e },
    );
  }
  if (!caCertificate.ca || !caCertificate.checkPrivateKey(caKey)) {
    throw new FedstatError(
      'KEY_INVALID',
      'the CA key does not belong to the CA certificate; use the ca.crt and keys/ca.key of the same federation',
    );
  }
  const now = (options.now ?? new Date()).getTime();
  const { publicKey, privateKey } = newKeyPair();
  const certificatePem = signCertificate(
    {
      issuer: subjectName(caCertificate),
      subject: name([
        [OID.organizationalUnit, options.role],
        [OID.commonName, options.partyId],
      ]),
      publicKey,
      notBefore: wholeSeconds(now - CLOCK_SKEW_MS),
      notAfter: wholeSeconds(Math.min(now + options.validDays * DAY_MS, caCertificate.validToDate.getTime())),
      extensions: [
        extension(OID.basicConstraints, true, sequence()),
        extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])),
        extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
        extension(OID.subjectAltName, false, sequence(...altNames(options.partyId, options.hosts))),
        extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(publicKey))),
        extension(
          OID.authorityKeyIdentifier,
          false,
          sequence(implicit(0, octetString(keyIdentifier(caCertificate.publicKey)))),
        ),
      ],
    },
    caKey,
  );
  if (!new X509Certificate(certificatePem).verify(caCertificate.publicKey)) {
    throw new FedstatError('INTERNAL', `the certificate issued to ${options.partyId} does not verify under its CA`);
  }
  return { certificatePem, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
