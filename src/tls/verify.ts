/**
 * Checking party certificates: when a key file is loaded (issued by this federation's CA, for
 * this party, still valid, with the private key that matches), and when a TLS peer presents one
 * (which party it names). The TLS stack has already verified the chain by then; here we only
 * read the identity, which is the subject CN and must also be a subjectAltName DNS entry.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { isDnsLabel } from './names.js';

export interface PartyCertificateCheck {
  /** The federation CA certificate (PEM). */
  readonly caPem: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** The party the certificate must name. */
  readonly partyId: string;
  /** Defaults to now. */
  readonly now?: Date;
}

/** The subject common names of a certificate as node prints them ("OU=agency\nCN=cd-psb"). */
function commonNames(subject: string): string[] {
  return subject
    .split('\n')
    .filter((l) => l.startsWith('CN='))
    .map((l) => l.slice(3));
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * Why a party's TLS certificate and key are unusable, as a one-line problem, or null if they are
 * fine: it must parse, be an end-entity certificate issued and signed by the federation CA, name
 * `partyId` as CN and as DNS subjectAltName, be within its validity period (as must the CA), and
 * the private key must match its public key.
 */
export function partyCertificateProblem(check: PartyCertificateCheck): string | null {
  let ca: X509Certificate;
  let certificate: X509Certificate;
  let key: KeyObject;
  try {
    ca = new X509Certificate(check.caPem);
  } catch {
    return 'the federation CA certificate does not parse';
  }
  try {
    certificate = new X509Certificate(check.certificatePem);
  } catch {
    return 'its TLS certificate does not parse';
  }
  try {
    key = createPrivateKey(check.privateKeyPem);
  } catch {
    return 'its TLS private key does not parse';
  }
  if (certificate.ca) return 'its TLS certificate is a CA certificate, not a party certificate';
  if (!certificate.checkIssued(ca) || !certificate.verify(ca.publicKey)) {
    return 'its TLS certificate was not issued by the federation CA';
  }
  const names = commonNames(certificate.subject);
  if (
    names.length !== 1 ||
    names[0] !== check.partyId ||
    certificate.checkHost(check.partyId, { subject: 'never', wildcards: false }) !== check.partyId
  ) {
    return `its TLS certificate names ${JSON.stringify(names.join(', '))}, not party ${check.partyId}`;
  }
  if (!certificate.checkPrivateKey(key)) return 'its TLS private key does not match its TLS certificate';
  const now = (check.now ?? new Date()).getTime();
  for (const [what, c] of [
    ['the federation CA certificate', ca],
    ['its TLS certificate', certificate],
  ] as const) {
    if (now < c.validFromDate.getTime())
      return `${what} is not valid before ${day(c.validFromDate)} (check this machine's clock)`;
    if (now > c.validToDate.getTime()) return `${what} expired on ${day(c.validToDate)}`;
  }
  return null;
}

/**
 * The party id a verified TLS peer certificate names: its single subject CN, when that is a DNS
 * label that the certificate also lists as a DNS subjectAltName (as every certificate fedstat
 * issues does), else null. Call it only on certificates the TLS stack has verified against the
 * federation CA; it reads, it does not verify.
 */
export function peerCertificatePartyId(certificate: PeerCertificate | undefined): string | null {
  if (certificate === undefined || typeof certificate.subject !== 'object' || certificate.subject === null) return null;
  const cn: unknown = certificate.subject.CN;
  if (typeof cn !== 'string' || !isDnsLabel(cn)) return null; // several CNs arrive as an array: ambiguous, refused
  const altNames = typeof certificate.subjectaltname === 'string' ? certificate.subjectaltname.split(', ') : [];
  return altNames.includes(`DNS:${cn}`) ? cn : null;
}
