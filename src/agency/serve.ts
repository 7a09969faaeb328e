/**
 * The agency's gRPC service in one call (`serveAgency`), or mounted on a gRPC server the host
 * application already runs (`mountAgency` + `agencyCredentials`): mTLS with the certificate the
 * federation CA issued the agency, and only the federation's coordinator may call.
 */
import { Server, type ChannelOptions, type ServerCredentials } from '@grpc/grpc-js';
import { parseEndpoint, party, partyOfRole, type Federation } from '../federation/federation.js';
import { addAgencyService, type AllowedCallers } from '../transport/agency-server.js';
import { serverCredentials } from '../transport/credentials.js';
import { SERVER_OPTIONS } from '../transport/limits.js';
import { listen, type RunningServer } from '../transport/listen.js';
import type { Agency, AgencyMaterial } from './agency.js';

/** How an agency's service is reached. */
export interface AgencyServeOptions {
  /** Bind address; default the host of the agency's endpoint in the federation, else 127.0.0.1. */
  readonly host?: string;
  /** Default the port of the agency's endpoint; 0 picks a free one. */
  readonly port?: number;
  /** Plain TCP and any caller, for tests and demos: refused unless `host` is loopback. */
  readonly insecure?: boolean;
}

/** `serveAgency`'s options: where, and optionally credentials built beforehand. */
export interface ServeAgencyOptions extends AgencyServeOptions {
  /** Default `agencyCredentials(material, options)`; pass them to check them before loading data. */
  readonly credentials?: ServerCredentials;
}

/**
 * The server credentials of an agency: mTLS, the federation CA as the only root, a client
 * certificate required. With `insecure`, plain TCP (CONFIG_INVALID unless `host` is loopback).
 */
export function agencyCredentials(
  material: Pick<AgencyMaterial, 'federation' | 'secrets'>,
  options: AgencyServeOptions = {},
): ServerCredentials {
  const host = options.host ?? endpointOf(material).host;
  return serverCredentials(material.federation, material.secrets, { insecure: options.insecure === true, host });
}

/**
 * Adds the Agency service to `server` (created with AGENCY_SERVER_OPTIONS, bound with
 * `agencyCredentials`), callable by the federation's coordinator only (by the party id in its
 * mTLS certificate); with `insecure`, by anyone who reaches the port.
 */
export function mountAgency(
  server: Server,
  agency: Agency,
  federation: Federation,
  options: Pick<AgencyServeOptions, 'insecure'> = {},
): void {
  addAgencyService(server, agency, callersOf(federation, options.insecure === true));
}

/**
 * Serves the agency on its own gRPC server (credentials and callers as above) until `close()`,
 * which lets calls in flight finish briefly and then ends every connection. A port in use is a
 * one-line UNAVAILABLE error.
 */
export async function serveAgency(
  agency: Agency,
  material: Pick<AgencyMaterial, 'federation' | 'secrets'>,
  options: ServeAgencyOptions = {},
): Promise<RunningServer> {
  const endpoint = endpointOf(material);
  const host = options.host ?? endpoint.host;
  const credentials = options.credentials ?? agencyCredentials(material, { ...options, host });
  const server = new Server(AGENCY_SERVER_OPTIONS);
  mountAgency(server, agency, material.federation, options);
  return listen(server, host, options.port ?? endpoint.port, credentials);
}

/**
 * Options for a gRPC server that hosts the Agency service: message limits that keep a hostile peer
 * from making it buffer more than a query's worth of request, and keepalive bounds.
 */
export const AGENCY_SERVER_OPTIONS: ChannelOptions = SERVER_OPTIONS;

function endpointOf(material: Pick<AgencyMaterial, 'federation' | 'secrets'>): { host: string; port: number } {
  return (
    parseEndpoint(party(material.federation, material.secrets.party).endpoint ?? '') ?? { host: '127.0.0.1', port: 0 }
  );
}

function callersOf(federation: Federation, insecure: boolean): AllowedCallers {
  return insecure ? null : [partyOfRole(federation, 'coordinator').id];
}
