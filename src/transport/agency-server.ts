/**
 * Serves an Agency over gRPC, or mounts it in a gRPC server the agency already runs. Handlers
 * convert wire messages to domain types and back; every failure becomes a status with a clear,
 * secret-free message, never a crash.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Agency } from '../agency/agency.js';
import { FedstatError } from '../errors.js';
import { SERVER_OPTIONS } from './limits.js';
import { bytesField, contributionToWire, unmaskAnswerToWire, unmaskRequestFromWire } from './agency-messages.js';
import {
  agencyServiceDefinition, type AggregateRequestMessage, type AggregateResponseMessage, type DescribeResponseMessage,
  type UnmaskRequestMessage, type UnmaskResponseMessage,
} from './proto.js';
import { toServiceError } from './status.js';

export const FEDSTAT_VERSION = '0.1.0';

function unary<Req, Res>(handle: (req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    handle(call.request).then((res) => callback(null, res), (e: unknown) => callback(toServiceError(e), null));
  };
}

export function agencyServiceImplementation(agency: Agency): UntypedServiceImplementation {
  return {
    Describe: unary<unknown, DescribeResponseMessage>(async () => {
      const d = await agency.describe();
      return { agencyId: d.agencyId, federationId: d.federationId, paramsId: d.paramsId, datasets: [...d.datasets], version: FEDSTAT_VERSION };
    }),
    Aggregate: unary<AggregateRequestMessage, AggregateResponseMessage>(async (req) =>
      contributionToWire(await agency.answer({ bytes: bytesField(req.query, 'query'), signature: bytesField(req.signature, 'signature') }))),
    Unmask: unary<UnmaskRequestMessage, UnmaskResponseMessage>(async (req) =>
      unmaskAnswerToWire(await agency.unmask(unmaskRequestFromWire(req)))),
  };
}

/** Adds the Agency service to an existing grpc-js server (embed an agency in your own service). */
export function addAgencyService(server: Server, agency: Agency): void {
  server.addService(agencyServiceDefinition(), agencyServiceImplementation(agency));
}

export interface RunningServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Serves the agency on host:port (port 0 picks a free one). Plain TCP for now: bind to loopback. */
export async function serveAgency(agency: Agency, host: string, port: number): Promise<RunningServer> {
  const server = new Server(SERVER_OPTIONS);
  addAgencyService(server, agency);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, ServerCredentials.createInsecure(), (err, p) => {
      if (err !== null) reject(new FedstatError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${err.message}; choose another --port`, { cause: err }));
      else resolve(p);
    });
  });
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => {
      const force = setTimeout(() => server.forceShutdown(), 2_000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    }),
  };
}
