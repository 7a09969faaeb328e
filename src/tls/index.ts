/**
 * fedstat/tls: the federation's certificate authority and the mTLS identities of its parties.
 * `fedstat init` uses these to write `ca.crt`, `keys/ca.key` and one certificate per key file;
 * transport turns them into gRPC credentials (fedstat/transport). Local computation only: this
 * module builds and checks certificates, it never opens a socket.
 */
export {
  createCertificateAuthority, issuePartyCertificate,
  type CertificateAndKey, type CertificateAuthorityOptions, type PartyCertificateOptions,
} from './certificate.js';
export { partyCertificateProblem, peerCertificatePartyId, type PartyCertificateCheck } from './verify.js';
export { assertInsecureAllowed, isLoopbackHost } from './loopback.js';
export { isDnsLabel, isDnsName } from './names.js';
