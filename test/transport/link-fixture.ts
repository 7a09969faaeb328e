/**
 * Record linkage over real gRPC on 127.0.0.1 without a federation: a fake `AgencyLinkage` that
 * produces signed chunks and ciphertexts of real sizes (random bytes, signed with a fresh Ed25519
 * key) and records what it was sent, served by the real linkage handlers; a raw client for
 * requests the real client would never send; and a server with hand-written handlers for answers
 * a real agency would never send.
 */
import { randomBytes } from 'node:crypto';
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type Client,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { generateSigningKeyPair, type SigningKeyPair } from '../../src/crypto/ed25519.js';
import {
  chunkElements,
  signChunk,
  signEncryptAnswer,
  type BlindedChunk,
  type LinkBlindRequest,
  type LinkEncryptAnswer,
  type LinkEncryptRequest,
  type LinkLoadRequest,
  type LinkReblindRequest,
  type LinkStartAnswer,
  type LinkStartRequest,
} from '../../src/protocol/link-messages.js';
import type { AgencyLinkage } from '../../src/protocol/links.js';
import type { SignedQuery } from '../../src/protocol/query-envelope.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { CHANNEL_OPTIONS, SERVER_OPTIONS } from '../../src/transport/limits.js';
import { linkageHandlers } from '../../src/transport/link-service.js';
import { listen, type RunningServer } from '../../src/transport/listen.js';
import { agencyServiceDefinition } from '../../src/transport/proto.js';

export const AGENCY = 'agency-1';
export const QUERY_ID = '0123456789abcdef0123456789abcdef';

/** A query the fake never opens: random bytes with a signature-sized tag. */
export function fakeQuery(bytes = 4096): SignedQuery {
  return { bytes: new Uint8Array(randomBytes(bytes)), signature: new Uint8Array(randomBytes(64)) };
}

/** What the fake agency produces and what it was sent. */
export interface FakeLinkage extends AgencyLinkage {
  readonly keys: SigningKeyPair;
  /** The packed elements `blind` answers with (set before calling it). */
  elements: Uint8Array;
  /** The ciphertexts `encrypt` answers with, and their shape. */
  ciphertexts: Uint8Array[];
  components: number;
  blocks: number;
  /** Thrown by the next call, then cleared. */
  failNext: Error | null;
  /** Ms each call waits before answering. */
  delayMs: number;
  readonly received: {
    start?: LinkStartRequest;
    blind?: LinkBlindRequest;
    reblind?: LinkReblindRequest;
    encrypt?: LinkEncryptRequest;
    load?: LinkLoadRequest;
  };
}

/** A fake agency answering as `agencyId`. */
export function fakeLinkage(agencyId = AGENCY): FakeLinkage {
  const keys = generateSigningKeyPair();
  const before = async (): Promise<void> => {
    if (fake.delayMs > 0) await new Promise((r) => setTimeout(r, fake.delayMs));
    const fail = fake.failNext;
    fake.failNext = null;
    if (fail !== null) throw fail;
  };
  const fake: FakeLinkage = {
    keys,
    elements: new Uint8Array(0),
    ciphertexts: [],
    components: 1,
    blocks: 1,
    failNext: null,
    delayMs: 0,
    received: {},
    async start(request): Promise<LinkStartAnswer> {
      await before();
      fake.received.start = request;
      const sideKeys = ['agency-2', 'agency-3'].map((to) => ({
        from: agencyId,
        to,
        nonce: new Uint8Array(randomBytes(24)),
        box: new Uint8Array(randomBytes(48)),
      }));
      return {
        agencyId,
        queryId: QUERY_ID,
        elements: fake.elements.length / 32,
        sideKeys,
        logEntries: [new Uint8Array(300).fill(7)],
      };
    },
    async blind(request): Promise<readonly BlindedChunk[]> {
      await before();
      fake.received.blind = request;
      const parts = chunkElements(fake.elements);
      return parts.map((elements, index) =>
        signChunk(
          request.query,
          { origin: agencyId, phase: 'blind', index, chunks: parts.length, elements, by: agencyId },
          keys.secretKey,
        ),
      );
    },
    async reblind(request): Promise<BlindedChunk> {
      await before();
      fake.received.reblind = request;
      const elements = request.chunk.elements.map((b) => b ^ 0xff);
      const { signature: _, ...chunk } = request.chunk;
      return signChunk(request.query, { ...chunk, phase: 'reblind', elements, by: agencyId }, keys.secretKey);
    },
    async encrypt(request): Promise<LinkEncryptAnswer> {
      await before();
      fake.received.encrypt = request;
      const answer = {
        agencyId,
        queryId: QUERY_ID,
        ciphertexts: fake.ciphertexts,
        components: fake.components,
        blocks: fake.blocks,
        logEntries: [new Uint8Array(500).fill(9)],
      };
      return signEncryptAnswer(request.query, answer, keys.secretKey);
    },
    async load(request): Promise<void> {
      await before();
      fake.received.load = request;
    },
  };
  return fake;
}

/** A server on 127.0.0.1 (insecure: loopback only) with the given Agency-service handlers. */
export async function serveHandlers(handlers: UntypedServiceImplementation): Promise<RunningServer> {
  const server = new Server(SERVER_OPTIONS);
  server.addService(agencyServiceDefinition(), handlers);
  return listen(server, '127.0.0.1', 0, ServerCredentials.createInsecure(), { graceMs: 100 });
}

/** Serves `linkage` with the real handlers (any caller: insecure loopback). */
export function serveLinkage(linkage: AgencyLinkage): Promise<RunningServer> {
  return serveHandlers(linkageHandlers(linkage, null));
}

/** The coordinator's real link to the server on `port`. */
export function linkTo(port: number): GrpcAgencyLink {
  return new GrpcAgencyLink(AGENCY, `127.0.0.1:${port}`, credentials.createInsecure());
}

/** A client of the Agency service that sends whatever plain objects it is given (the proto still encodes them). */
export function rawClient(port: number): Client & Record<string, (...args: unknown[]) => unknown> {
  const Ctor = makeGenericClientConstructor(agencyServiceDefinition(), 'RawAgency');
  return new Ctor(`127.0.0.1:${port}`, credentials.createInsecure(), CHANNEL_OPTIONS) as Client &
    Record<string, (...args: unknown[]) => unknown>;
}

/** `n` bytes that differ from one call to the next. */
export function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

export function deadlineIn(ms: number): { deadline: Date } {
  return { deadline: new Date(Date.now() + ms) };
}

/** Byte equality of two word arrays (vitest's deep equality walks large typed arrays slowly). */
export function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}
