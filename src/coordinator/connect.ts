/**
 * Opening a coordinator from files: the federation file, the coordinator's key file and (for the
 * in-process key authority) the key authority's key file, found in `keys/` beside the federation
 * file unless given. Agencies are reached over gRPC at their federation endpoints.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FedstatError } from '../errors.js';
import type { AuditSink } from '../audit/events.js';
import { agencies, loadFederation, parseEndpoint, type Federation } from '../federation/federation.js';
import { loadKeyFile } from '../federation/key-file.js';
import { InProcessKeyAuthority } from '../key-authority/key-authority.js';
import { GrpcAgencyLink } from '../transport/agency-client.js';
import { channelCredentials } from '../transport/credentials.js';
import { Coordinator } from './coordinator.js';

export interface ConnectOptions {
  readonly federation: string | Federation;
  /** Coordinator key file; default `keys/coordinator.key` beside the federation file. */
  readonly keyFile?: string;
  /** Key authority key file for the in-process key authority; default `keys/key-authority.key`. */
  readonly keyAuthorityKeyFile?: string;
  readonly audit?: AuditSink;
  /** Plain TCP instead of mTLS; refused unless every endpoint is a loopback address. */
  readonly insecure?: boolean;
}

export function defaultKeyFile(federationFile: string, party: string): string {
  return join(dirname(federationFile), 'keys', `${party}.key`);
}

export async function connectCoordinator(options: ConnectOptions): Promise<Coordinator> {
  const federation = typeof options.federation === 'string' ? loadFederation(options.federation) : options.federation;
  const secrets = loadKeyFile(options.keyFile ?? defaultKeyFile(federation.file, 'coordinator'), federation);
  const ka = federation.parties.find((p) => p.role === 'key-authority');
  if (ka !== undefined && ka.endpoint !== null) {
    throw new FedstatError('CONFIG_INVALID', `${federation.file}: the key authority has an endpoint, but a remote key authority needs the secure-aggregation release of fedstat; remove the endpoint to run it in process`);
  }
  const kaKeyFile = options.keyAuthorityKeyFile ?? defaultKeyFile(federation.file, 'key-authority');
  if (!existsSync(kaKeyFile)) {
    throw new FedstatError('KEY_INVALID', `key authority key file ${kaKeyFile} not found; the in-process key authority needs it (pass --key-authority-key FILE)`);
  }
  const keyAuthority = await InProcessKeyAuthority.create({
    federation, secrets: loadKeyFile(kaKeyFile, federation), ...(options.audit === undefined ? {} : { audit: options.audit }),
  });
  const insecure = options.insecure === true;
  const links = agencies(federation).map((a) => {
    const endpointHost = parseEndpoint(a.endpoint ?? '')?.host ?? '';
    return new GrpcAgencyLink(a.id, a.endpoint ?? '', channelCredentials(federation, secrets, { insecure, endpointHost }));
  });
  try {
    return await Coordinator.create({ federation, secrets, keyAuthority, links, ...(options.audit === undefined ? {} : { audit: options.audit }) });
  } catch (e) {
    for (const l of links) l.close();
    await keyAuthority.close();
    throw e;
  }
}
