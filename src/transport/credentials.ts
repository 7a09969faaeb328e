/**
 * gRPC credentials for mTLS between parties. Both ends present a certificate issued by the
 * federation CA and trust only that CA; a peer without one cannot complete the handshake. A
 * server is authenticated as a party, not as an address: the client expects the party id (the
 * certificate's CN and DNS subjectAltName) whatever IP it dials, which `channelOptionsFor` sets.
 * Plain TCP exists for local tests only, behind an explicit `insecure` and only on loopback.
 */
import { ChannelCredentials, ServerCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { FedstatError } from '../errors.js';
import { caCertificatePath, type Federation } from '../federation/federation.js';
import type { PartySecrets } from '../federation/key-file.js';
import { assertInsecureAllowed } from '../tls/loopback.js';
import { peerCertificatePartyId } from '../tls/verify.js';
import { closableCredentials } from './closable-credentials.js';

/** What one party needs for mTLS: the federation CA and its own certificate and key (all PEM). */
export interface TlsMaterial {
  readonly caPem: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface ServerSecurityOptions {
  /** Plain TCP; refused unless `host` is a loopback address. */
  readonly insecure: boolean;
  /** The address the server binds to. */
  readonly host: string;
}

export interface ChannelSecurityOptions {
  /** Plain TCP; refused unless `endpointHost` is a loopback address. */
  readonly insecure: boolean;
  /** The host of the endpoint dialled. */
  readonly endpointHost: string;
}

/**
 * The federation CA (hash-checked) and this party's certificate and key. CONFIG_INVALID when the
 * federation file has no "tls" section, KEY_INVALID when the key file has no certificate.
 */
export function tlsMaterial(federation: Federation, secrets: PartySecrets): TlsMaterial {
  caCertificatePath(federation); // CONFIG_INVALID when the federation has no "tls" section
  if (secrets.tls === null) {
    throw new FedstatError(
      'KEY_INVALID',
      `the key file of ${secrets.party} has no TLS certificate; use the key file written by fedstat init with this federation, or run with --insecure on 127.0.0.1`,
    );
  }
  return {
    caPem: secrets.tls.caPem,
    certificatePem: secrets.tls.certificatePem,
    privateKeyPem: secrets.tls.privateKeyPem,
  };
}

/** Server credentials requiring a client certificate from the federation CA. */
function serverCredentialsFrom(material: TlsMaterial): ServerCredentials {
  return ServerCredentials.createSsl(
    Buffer.from(material.caPem),
    [{ private_key: Buffer.from(material.privateKeyPem), cert_chain: Buffer.from(material.certificatePem) }],
    true, // checkClientCertificate: a peer without a certificate from this CA is refused in the handshake
  );
}

/**
 * Credentials for a party's gRPC server: mTLS with the federation CA as the only root and a
 * client certificate required, or plain TCP when `insecure` and `host` is loopback (else
 * CONFIG_INVALID, before anything is bound).
 */
export function serverCredentials(
  federation: Federation,
  secrets: PartySecrets,
  options: ServerSecurityOptions,
): ServerCredentials {
  if (options.insecure) {
    assertInsecureAllowed(options.host, `server of ${secrets.party}`);
    return ServerCredentials.createInsecure();
  }
  return serverCredentialsFrom(tlsMaterial(federation, secrets));
}

/**
 * After the usual host name check (against the name `channelOptionsFor` sets), also insist that
 * the certificate's CN is that party: every party's certificate lists the loopback addresses, so
 * a channel that skipped the override would otherwise accept any party at 127.0.0.1.
 */
function checkPartyIdentity(expected: string, certificate: PeerCertificate): Error | undefined {
  const err = checkServerIdentity(expected, certificate);
  if (err !== undefined) return err;
  const party = peerCertificatePartyId(certificate);
  if (party !== expected) {
    return new Error(
      `the server's certificate is for party ${party ?? '(none)'}, not ${JSON.stringify(expected)}; dial parties with channelOptionsFor(partyId)`,
    );
  }
  return undefined;
}

/**
 * Channel credentials presenting this party's certificate and trusting only the federation CA. A
 * TLS handshake with a hung server never keeps the process alive and ends when the channel closes
 * (closable-credentials.ts).
 */
export function channelCredentialsFrom(material: TlsMaterial): ChannelCredentials {
  return closableCredentials(
    ChannelCredentials.createSsl(
      Buffer.from(material.caPem),
      Buffer.from(material.privateKeyPem),
      Buffer.from(material.certificatePem),
      { checkServerIdentity: checkPartyIdentity },
    ),
  );
}

/**
 * Credentials for a client channel to another party: mTLS (pass `channelOptionsFor(peer)` with
 * them), or plain TCP when `insecure` and the endpoint host is loopback (else CONFIG_INVALID).
 */
export function channelCredentials(
  federation: Federation,
  secrets: PartySecrets,
  options: ChannelSecurityOptions,
): ChannelCredentials {
  if (options.insecure) {
    assertInsecureAllowed(options.endpointHost, `link from ${secrets.party} to ${options.endpointHost}`);
    return closableCredentials(ChannelCredentials.createInsecure());
  }
  return channelCredentialsFrom(tlsMaterial(federation, secrets));
}

/**
 * Channel options that make the client authenticate the server as party `peerPartyId` (its
 * certificate's DNS subjectAltName) whatever address it is reached at. Merge them into the
 * channel's other options; harmless on an insecure channel.
 */
export function channelOptionsFor(peerPartyId: string): ChannelOptions {
  return { 'grpc.ssl_target_name_override': peerPartyId, 'grpc.default_authority': peerPartyId };
}

/** The part of a grpc-js server call that carries the TLS peer (grpc-js ≥ 1.10: `getAuthContext`). */
export interface CallWithAuthContext {
  getAuthContext?(): { readonly sslPeerCertificate?: PeerCertificate } | null;
}

/**
 * The party id of the authenticated peer of a server call: the CN (= DNS subjectAltName) of the
 * client certificate the TLS handshake verified against the federation CA. null on an insecure
 * server, or when the client certificate names no party. Check the id against the federation
 * (and the role it may play) before trusting the caller.
 */
export function peerPartyId(call: CallWithAuthContext): string | null {
  const context = call.getAuthContext?.() ?? null;
  return peerCertificatePartyId(context?.sslPeerCertificate);
}
