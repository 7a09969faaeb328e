/**
 * Loads the .proto files shipped in `proto/` with protobufjs and builds grpc-js service
 * definitions from them. Generated message types stay inside transport: handlers convert them to
 * the domain types of src/protocol at the boundary.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../util/package-root.js';

let root: protobuf.Root | undefined;

/**
 * The include root is `proto/`: files import each other by package path
 * (`import "fedstat/v1/transparency.proto";`), as `protoc -I proto` resolves them, so every name
 * resolves against it, never against the importing file's folder.
 */
function protoRoot(): protobuf.Root {
  if (root === undefined) {
    const includeRoot = join(packageRoot(), 'proto');
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => resolve(includeRoot, target);
    root = r.loadSync(['fedstat/v1/transparency.proto', 'fedstat/v1/agency.proto', 'fedstat/v1/key-authority.proto']);
  }
  return root;
}

function method(service: protobuf.Service, name: string): MethodDefinition<object, object> {
  const m = service.methods[name];
  if (m === undefined) throw new Error(`proto method ${name} missing`);
  m.resolve();
  const req = m.resolvedRequestType;
  const res = m.resolvedResponseType;
  if (req === null || res === null) throw new Error(`proto method ${name} unresolved`);
  return {
    path: `/${service.fullName.replace(/^\./, '')}/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: object) => Buffer.from(req.encode(req.fromObject(v)).finish()),
    requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { longs: String, defaults: true }),
    responseSerialize: (v: object) => Buffer.from(res.encode(res.fromObject(v)).finish()),
    responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), { longs: String, defaults: true }),
  };
}

export function agencyServiceDefinition(): ServiceDefinition {
  const service = protoRoot().lookupService('fedstat.v1.Agency');
  return {
    Describe: method(service, 'Describe'),
    Aggregate: method(service, 'Aggregate'),
    Unmask: method(service, 'Unmask'),
  };
}

export interface DescribeResponseMessage {
  agencyId: string;
  federationId: string;
  paramsId: string;
  datasets: string[];
  version: string;
  budgets: BudgetStatusMessage[];
  logHead: Uint8Array;
  unloggedEntries: Uint8Array[];
  ledgerFault: string;
}
export interface LogProofMessage {
  treeHead: Uint8Array;
  entry: Uint8Array;
  index: string | number;
  inclusion: Uint8Array[];
  fromSize: string | number;
  consistency: Uint8Array[];
  receipts: LogReceiptMessage[];
}
export interface LogReceiptMessage {
  leafHash: Uint8Array;
  index: string | number;
  inclusion: Uint8Array[];
}
export interface BudgetStatusMessage {
  dataset: string;
  budget: string;
  spent: string;
  remaining: string;
  charges: number;
}
export interface AggregateRequestMessage {
  query: Uint8Array;
  signature: Uint8Array;
  logProof?: LogProofMessage | null;
}
export interface SealedShareMessage {
  from: string;
  to: string;
  nonce: Uint8Array;
  box: Uint8Array;
}
export interface AggregateResponseMessage {
  agencyId: string;
  queryId: string;
  mode: string;
  payloads: Uint8Array[];
  signature: Uint8Array;
  shares: SealedShareMessage[];
  commitment: Uint8Array;
  pairwiseCommitments: Uint8Array[];
  logEntries: Uint8Array[];
}
export interface UnmaskRequestMessage {
  query: Uint8Array;
  querySignature: Uint8Array;
  survivors: Uint8Array;
  survivorsSignature: Uint8Array;
  shares: SealedShareMessage[];
}
export interface UnmaskResponseMessage {
  agencyId: string;
  queryId: string;
  selfMaskShares: { of: string; x: number; y: Uint8Array }[];
  pairwiseSeeds: { with: string; seed: Uint8Array }[];
  signature: Uint8Array;
}

export function keyAuthorityServiceDefinition(): ServiceDefinition {
  const service = protoRoot().lookupService('fedstat.v1.KeyAuthority');
  return { Describe: method(service, 'Describe'), Decrypt: method(service, 'Decrypt') };
}

export interface DescribeKeyAuthorityResponseMessage {
  partyId: string;
  federationId: string;
  paramsId: string;
  version: string;
  logHead: Uint8Array;
}
export interface DecryptRequestMessage {
  query: Uint8Array;
  querySignature: Uint8Array;
  survivors: Uint8Array;
  survivorsSignature: Uint8Array;
  ciphertexts: Uint8Array[];
  signature: Uint8Array;
  logProof?: LogProofMessage | null;
}
export interface DecryptResponseMessage {
  slots: Uint8Array[];
  signature: Uint8Array;
  logEntries: Uint8Array[];
}
