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

/** The encoder's output as a Buffer without a copy: `finish()` hands over a fresh array of its own. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
    requestStream: m.requestStream === true,
    responseStream: m.responseStream === true,
    requestSerialize: (v: object) => asBuffer(req.encode(req.fromObject(v)).finish()),
    requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { longs: String, defaults: true }),
    responseSerialize: (v: object) => asBuffer(res.encode(res.fromObject(v)).finish()),
    responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), { longs: String, defaults: true }),
  };
}

export function agencyServiceDefinition(): ServiceDefinition {
  const service = protoRoot().lookupService('fedstat.v1.Agency');
  return {
    Describe: method(service, 'Describe'),
    Aggregate: method(service, 'Aggregate'),
    Unmask: method(service, 'Unmask'),
    LinkStart: method(service, 'LinkStart'),
    LinkBlind: method(service, 'LinkBlind'),
    LinkReblind: method(service, 'LinkReblind'),
    LinkEncrypt: method(service, 'LinkEncrypt'),
    LinkLoad: method(service, 'LinkLoad'),
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

export interface SealedSideKeyMessage {
  from: string;
  to: string;
  nonce: Uint8Array;
  box: Uint8Array;
}
export interface LinkStartRequestMessage {
  query: Uint8Array;
  signature: Uint8Array;
  logProof?: LogProofMessage | null;
}
export interface LinkStartResponseMessage {
  agencyId: string;
  queryId: string;
  elements: number;
  sideKeys: SealedSideKeyMessage[];
  logEntries: Uint8Array[];
}
export interface LinkBlindRequestMessage {
  query: Uint8Array;
  signature: Uint8Array;
  leader: string;
  sideKey?: SealedSideKeyMessage | null;
}
export interface BlindedChunkMessage {
  origin: string;
  phase: string;
  index: number;
  chunks: number;
  elements: Uint8Array;
  by: string;
  signature: Uint8Array;
}
export interface LinkReblindRequestMessage {
  query: Uint8Array;
  signature: Uint8Array;
  chunk?: BlindedChunkMessage | null;
}
export interface LinkEncryptHeaderMessage {
  query: Uint8Array;
  signature: Uint8Array;
  positionCount: number;
  positions: number;
}
/** A oneof: exactly one field is set on a well-formed message (protobufjs leaves the others undefined). */
export interface LinkEncryptPartMessage {
  header?: LinkEncryptHeaderMessage | null;
  positions?: Uint8Array | null;
}
export interface LinkEncryptAnswerHeaderMessage {
  agencyId: string;
  queryId: string;
  components: number;
  blocks: number;
  logEntries: Uint8Array[];
  signature: Uint8Array;
}
export interface LinkEncryptAnswerPartMessage {
  header?: LinkEncryptAnswerHeaderMessage | null;
  ciphertext?: Uint8Array | null;
}
export interface LinkLoadHeaderMessage {
  query: Uint8Array;
  signature: Uint8Array;
  positionCount: number;
  positions: number;
  components: number;
  blocks: number;
}
export interface LinkLoadPartMessage {
  header?: LinkLoadHeaderMessage | null;
  positions?: Uint8Array | null;
  ciphertext?: Uint8Array | null;
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
