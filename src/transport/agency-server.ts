/**
 * Serves an Agency over gRPC, or mounts it in a gRPC server the agency already runs. Handlers
 * convert wire messages to domain types and back; every failure becomes a status with a clear,
 * secret-free message, never a crash.
 */
import { Server, type ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Agency } from '../agency/agency.js';
import { SERVER_OPTIONS } from './limits.js';
import { listen, type RunningServer } from './listen.js';
import { bytesField, contributionToWire, unmaskAnswerToWire, unmaskRequestFromWire } from './agency-messages.js';
import {
  agencyServiceDefinition,
  type AggregateRequestMessage,
  type AggregateResponseMessage,
  type DescribeResponseMessage,
  type UnmaskRequestMessage,
  type UnmaskResponseMessage,
} from './proto.js';
import { linkageHandlers, linkageOf } from './link-service.js';
import { unaryHandler as unary, type AllowedCallers } from './stream-calls.js';
import { logHeadToWire, logProofFromWire } from './log-proof-messages.js';

export const FEDSTAT_VERSION = '0.1.0';

export type { AllowedCallers } from './stream-calls.js';

/**
 * Only the federation's coordinator may call an agency (null: any caller, insecure loopback only).
 * The record-linkage methods are answered by `agency.linkage` (link-service.ts).
 */
function agencyServiceImplementation(agency: Agency, allowed: AllowedCallers): UntypedServiceImplementation {
  return {
    ...linkageHandlers(linkageOf(agency), allowed),
    Describe: unary<unknown, DescribeResponseMessage>(allowed, async () => {
      const d = await agency.describe();
      return {
        agencyId: d.agencyId,
        federationId: d.federationId,
        paramsId: d.paramsId,
        datasets: [...d.datasets],
        version: FEDSTAT_VERSION,
        budgets: d.budgets.map((b) => ({ ...b })),
        logHead: logHeadToWire(d.logHead),
        unloggedEntries: [...(d.unloggedEntries ?? [])],
        ledgerFault: d.ledgerFault ?? '',
      };
    }),
    Aggregate: unary<AggregateRequestMessage, AggregateResponseMessage>(allowed, async (req) => {
      const query = { bytes: bytesField(req.query, 'query'), signature: bytesField(req.signature, 'signature') };
      return contributionToWire(await agency.answer(query, logProofFromWire(req.logProof, 'the coordinator')));
    }),
    Unmask: unary<UnmaskRequestMessage, UnmaskResponseMessage>(allowed, async (req) =>
      unmaskAnswerToWire(await agency.unmask(unmaskRequestFromWire(req))),
    ),
  };
}

/**
 * Adds the Agency service to an existing grpc-js server (embed an agency in your own service).
 * `allowed` = the party ids that may call it, normally `[coordinatorId]` with mTLS credentials.
 */
export function addAgencyService(server: Server, agency: Agency, allowed: AllowedCallers): void {
  server.addService(agencyServiceDefinition(), agencyServiceImplementation(agency, allowed));
}

export type { RunningServer } from './listen.js';

export interface ServeOptions {
  readonly credentials: ServerCredentials;
  readonly allowedCallers: AllowedCallers;
}

/** Serves the agency on host:port (port 0 picks a free one) with mTLS credentials (see credentials.ts). */
export async function serveAgencyService(
  agency: Agency,
  host: string,
  port: number,
  options: ServeOptions,
): Promise<RunningServer> {
  const server = new Server(SERVER_OPTIONS);
  addAgencyService(server, agency, options.allowedCallers);
  return bindServer(server, host, port, options.credentials);
}

/**
 * Binds and starts a server; a port in use becomes a one-line UNAVAILABLE error. Its close() lets
 * calls in flight finish for SHUTDOWN_GRACE_MS, then ends every connection, hung clients' too.
 */
export function bindServer(
  server: Server,
  host: string,
  port: number,
  credentials: ServerCredentials,
): Promise<RunningServer> {
  return listen(server, host, port, credentials);
}
