/**
 * Malformed record-linkage messages over real gRPC on 127.0.0.1, both ways. An agency's server
 * refuses a malformed request with BAD_MESSAGE naming the coordinator before its linkage sees it;
 * the coordinator refuses a malformed answer with BAD_MESSAGE naming the agency (and cancels a
 * stream at its first bad part).
 */
import type { ClientDuplexStream, ClientReadableStream, ClientWritableStream, ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FedstatError } from '../../src/errors.js';
import { MAX_POSITION_BLOCKS } from '../../src/he/position-blocks.js';
import { LINK_CHUNK_ELEMENTS, MAX_LINK_ELEMENTS } from '../../src/protocol/link-messages.js';
import { LINK_POSITIONS_PER_PART, MAX_LINK_CIPHERTEXTS } from '../../src/transport/limits.js';
import type { RunningServer } from '../../src/transport/listen.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import {
  AGENCY,
  bytes,
  deadlineIn,
  fakeLinkage,
  fakeQuery,
  linkTo,
  QUERY_ID,
  rawClient,
  serveHandlers,
  serveLinkage,
  type FakeLinkage,
} from './link-fixture.js';

const query = fakeQuery(256);
const header = { query: query.bytes, signature: query.signature };

describe('the agency refuses malformed requests', () => {
  let fake: FakeLinkage;
  let server: RunningServer;
  let client: ReturnType<typeof rawClient>;

  beforeAll(async () => {
    fake = fakeLinkage();
    server = await serveLinkage(fake);
    client = rawClient(server.port);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  function unary(method: string, request: object): Promise<ServiceError> {
    return new Promise((resolve, reject) => {
      client[method]!(request, deadlineIn(5_000), (e: ServiceError | null) =>
        e === null ? reject(new Error('accepted')) : resolve(e),
      );
    });
  }

  function streamed(method: 'LinkEncrypt' | 'LinkLoad', parts: object[]): Promise<ServiceError> {
    return new Promise((resolve, reject) => {
      const settle = (e: ServiceError | null): void => (e === null ? reject(new Error('accepted')) : resolve(e));
      let call: ClientWritableStream<object> | ClientDuplexStream<object, object>;
      if (method === 'LinkLoad') {
        call = client.LinkLoad!(deadlineIn(5_000), settle) as ClientWritableStream<object>;
      } else {
        const duplex = client.LinkEncrypt!(deadlineIn(5_000)) as ClientDuplexStream<object, object>;
        duplex.on('data', () => reject(new Error('answered')));
        duplex.on('end', () => reject(new Error('ended without a status error')));
        call = duplex;
      }
      call.on('error', (e: ServiceError) => resolve(e));
      for (const p of parts) call.write(p);
      call.end();
    });
  }

  function expectRefused(e: ServiceError, words: string): void {
    expect(e.metadata.get('fedstat-code')).toEqual(['BAD_MESSAGE']);
    expect(e.details).toContain('the coordinator');
    expect(e.details).toContain(words);
    expect(e.details).not.toContain('\n');
  }

  const encryptHeader = (positions: number, positionCount = 100) => ({
    header: { ...header, positionCount, positions },
  });
  const loadHeader = (positions: number, components: number, blocks: number) => ({
    header: { ...header, positionCount: 100, positions, components, blocks },
  });
  const le = (...values: number[]) => ({ positions: new Uint8Array(new Uint32Array(values).buffer) });

  it('a query signature of the wrong length', async () => {
    expectRefused(await unary('LinkStart', { query: query.bytes, signature: bytes(10) }), 'query signature');
  });

  it('a side key with a nonce of 10 bytes', async () => {
    const sideKey = { from: 'agency-2', to: AGENCY, nonce: bytes(10), box: bytes(48) };
    expectRefused(await blindError({ ...header, leader: 'agency-2', sideKey }), 'nonce');
  });

  function blindError(request: object): Promise<ServiceError> {
    return new Promise((resolve, reject) => {
      const call = client.LinkBlind!(request, deadlineIn(5_000)) as ClientReadableStream<object>;
      call.on('data', () => reject(new Error('answered')));
      call.on('error', (e: ServiceError) => resolve(e));
    });
  }

  it('a chunk to re-blind whose elements are truncated', async () => {
    const chunk = {
      origin: 'agency-2',
      phase: 'blind',
      index: 0,
      chunks: 1,
      elements: bytes(33),
      by: 'agency-2',
      signature: bytes(64),
    };
    expectRefused(await unary('LinkReblind', { ...header, chunk }), 'truncated');
  });

  it('a chunk to re-blind of more than 32,768 elements', async () => {
    const elements = bytes((LINK_CHUNK_ELEMENTS + 1) * 32);
    const chunk = {
      origin: 'agency-2',
      phase: 'blind',
      index: 0,
      chunks: 1,
      elements,
      by: 'agency-2',
      signature: bytes(64),
    };
    expectRefused(await unary('LinkReblind', { ...header, chunk }), 'more than');
  });

  it('positions that are not whole 4-byte values', async () => {
    expectRefused(await streamed('LinkEncrypt', [encryptHeader(2), { positions: bytes(6) }]), 'truncated');
  });

  it('a part that sets no field', async () => {
    expectRefused(await streamed('LinkEncrypt', [encryptHeader(1), {}, le(1)]), 'sets no field');
  });

  it('a part that sets both the header and positions keeps only the last (proto3 oneof)', async () => {
    expectRefused(await streamed('LinkEncrypt', [{ ...encryptHeader(1), ...le(1) }]), 'does not start with its header');
  });

  it('positions before the header', async () => {
    expectRefused(await streamed('LinkEncrypt', [le(1), encryptHeader(1)]), 'header');
  });

  it('fewer positions than declared', async () => {
    expectRefused(await streamed('LinkEncrypt', [encryptHeader(10), le(1, 2, 3, 4, 5)]), 'short');
  });

  it('more positions than declared', async () => {
    expectRefused(await streamed('LinkEncrypt', [encryptHeader(2), le(1, 2), le(3)]), 'exceed');
  });

  it('a position not below the position count', async () => {
    expectRefused(await streamed('LinkEncrypt', [encryptHeader(2, 50), le(1, 50)]), 'below');
  });

  it('a declared position count above the most elements an agency may link', async () => {
    expectRefused(await streamed('LinkEncrypt', [encryptHeader(MAX_LINK_ELEMENTS + 1)]), 'positions count');
  });

  it('a positions part over 1 MiB', async () => {
    const part = { positions: new Uint8Array((LINK_POSITIONS_PER_PART + 1) * 4) };
    expectRefused(await streamed('LinkLoad', [loadHeader(LINK_POSITIONS_PER_PART + 1, 1, 1), part]), 'more than');
  });

  it('ciphertexts before every position arrived', async () => {
    expectRefused(
      await streamed('LinkLoad', [loadHeader(2, 1, 1), le(1), { ciphertext: bytes(100) }, le(2)]),
      'before',
    );
  });

  it('fewer ciphertexts than components × blocks', async () => {
    const cts = [1, 2, 3].map(() => ({ ciphertext: bytes(1000) }));
    expectRefused(await streamed('LinkLoad', [loadHeader(1, 2, 2), le(7), ...cts]), 'short of components × blocks');
  });

  it('more blocks than a vector over positions may span', async () => {
    expectRefused(await streamed('LinkLoad', [loadHeader(0, 1, MAX_POSITION_BLOCKS + 1)]), 'block count');
  });

  it('more ciphertexts than the limit', async () => {
    expectRefused(await streamed('LinkLoad', [loadHeader(0, MAX_LINK_CIPHERTEXTS, 2)]), 'components × blocks');
  });

  it('an empty stream', async () => {
    expectRefused(await streamed('LinkLoad', []), 'no header');
  });

  it('none of them reached the agency, which still answers a well-formed request', async () => {
    expect(fake.received).toEqual({});
    fake.elements = bytes(64);
    const link = linkTo(server.port);
    try {
      expect((await link.linkage.start({ query }, 5_000)).elements).toBe(2);
    } finally {
      link.close();
    }
  });
});

describe('the coordinator refuses malformed answers, naming the agency', () => {
  let server: RunningServer;
  let link: ReturnType<typeof linkTo>;
  /** What the hand-written agency answers next. */
  let start: object = {};
  let chunks: object[] = [];
  let reblind: object = {};
  let encrypt: object[] = [];
  let stall = false;

  const chunk = (over: object = {}) => ({
    origin: AGENCY,
    phase: 'blind',
    index: 0,
    chunks: 1,
    elements: bytes(320),
    by: AGENCY,
    signature: bytes(64),
    ...over,
  });
  const encryptHeader = (components: number, blocks: number) => ({
    header: { agencyId: AGENCY, queryId: QUERY_ID, components, blocks, logEntries: [], signature: bytes(64) },
  });

  beforeAll(async () => {
    server = await serveHandlers({
      LinkStart: (_: unknown, cb: (e: null, r: object) => void) => cb(null, start),
      LinkReblind: (_: unknown, cb: (e: null, r: object) => void) => cb(null, reblind),
      LinkBlind: (call: { write(m: object): boolean; end(): void }) => {
        for (const c of chunks) call.write(c);
        call.end();
      },
      LinkEncrypt: (call: { write(m: object): boolean; end(): void; on(e: string, f: () => void): void }) => {
        call.on('data', () => undefined);
        call.on('end', () => {
          for (const p of encrypt) call.write(p);
          // A stalled agency: it never ends its answer.
          if (!stall) call.end();
        });
      },
    });
    link = linkTo(server.port);
  });
  afterAll(async () => {
    link.close();
    await server.close();
  });

  async function refusal(p: Promise<unknown>, words: string): Promise<FedstatError> {
    const e = await fedstatRejectionOf(p);
    expect(e.code).toBe('BAD_MESSAGE');
    expect(e.message).toContain(`agency ${AGENCY}`);
    expect(e.message).toContain(words);
    return e;
  }

  const blind = () => link.linkage.blind({ query, leader: AGENCY, sideKey: null }, 5_000);
  const encryptCall = () =>
    link.linkage.encrypt({ query, positionCount: 4, positions: new Uint32Array([0, 3]) }, 5_000);

  it('a sealed side key with a 23-byte nonce', async () => {
    const sideKeys = [{ from: AGENCY, to: 'agency-2', nonce: bytes(23), box: bytes(48) }];
    start = { agencyId: AGENCY, queryId: QUERY_ID, elements: 5, sideKeys, logEntries: [] };
    await refusal(link.linkage.start({ query }, 5_000), 'nonce');
  });

  it('a sealed side key with a 47-byte box', async () => {
    const sideKeys = [{ from: AGENCY, to: 'agency-2', nonce: bytes(24), box: bytes(47) }];
    start = { agencyId: AGENCY, queryId: QUERY_ID, elements: 5, sideKeys, logEntries: [] };
    await refusal(link.linkage.start({ query }, 5_000), 'box');
  });

  it('more elements than an agency may link', async () => {
    start = { agencyId: AGENCY, queryId: QUERY_ID, elements: MAX_LINK_ELEMENTS + 1, sideKeys: [], logEntries: [] };
    await refusal(link.linkage.start({ query }, 5_000), 'element count');
  });

  it('a malformed query id', async () => {
    start = { agencyId: AGENCY, queryId: 'not-hex', elements: 1, sideKeys: [], logEntries: [] };
    await refusal(link.linkage.start({ query }, 5_000), 'query id');
  });

  it('a chunk whose elements are truncated', async () => {
    chunks = [chunk({ elements: bytes(32 * 10 - 1) })];
    await refusal(blind(), 'truncated');
  });

  it('chunks out of order', async () => {
    chunks = [chunk({ index: 1, chunks: 2 }), chunk({ index: 0, chunks: 2 })];
    await refusal(blind(), 'order');
  });

  it('fewer chunks than the set declares', async () => {
    chunks = [chunk({ index: 0, chunks: 3 }), chunk({ index: 1, chunks: 3 })];
    await refusal(blind(), 'fewer chunks');
  });

  it('a chunk count that changes within the set', async () => {
    chunks = [chunk({ index: 0, chunks: 3 }), chunk({ index: 1, chunks: 2 })];
    await refusal(blind(), 'changes');
  });

  it('no chunk at all', async () => {
    chunks = [];
    await refusal(blind(), 'fewer chunks');
  });

  it('a blind chunk of another agency', async () => {
    chunks = [chunk({ origin: 'agency-2', by: 'agency-2' })];
    await refusal(blind(), 'another agency');
  });

  it('a re-blinded chunk that is not the chunk sent', async () => {
    const sent = {
      origin: 'agency-2',
      phase: 'blind' as const,
      index: 0,
      chunks: 1,
      elements: bytes(64),
      by: 'agency-2',
      signature: bytes(64),
    };
    reblind = chunk({ origin: 'agency-2', phase: 'reblind', elements: bytes(96) });
    await refusal(link.linkage.reblind({ query, chunk: sent }, 5_000), 'another element count');
    reblind = chunk({ origin: 'agency-3', phase: 'reblind', elements: bytes(64) });
    await refusal(link.linkage.reblind({ query, chunk: sent }, 5_000), 'another chunk');
  });

  it('a re-blinded chunk with a 63-byte signature', async () => {
    reblind = chunk({ phase: 'reblind', signature: bytes(63) });
    const sent = {
      origin: 'agency-2',
      phase: 'blind' as const,
      index: 0,
      chunks: 1,
      elements: bytes(64),
      by: 'agency-2',
      signature: bytes(64),
    };
    await refusal(link.linkage.reblind({ query, chunk: sent }, 5_000), 'signature');
  });

  it('fewer ciphertexts than components × blocks', async () => {
    encrypt = [encryptHeader(2, 2), ...[1, 2, 3].map(() => ({ ciphertext: bytes(1000) }))];
    await refusal(encryptCall(), 'short of components × blocks');
  });

  it('more ciphertexts than components × blocks', async () => {
    encrypt = [encryptHeader(2, 2), ...[1, 2, 3, 4, 5].map(() => ({ ciphertext: bytes(1000) }))];
    await refusal(encryptCall(), 'exceed');
  });

  it('a ciphertext before the header', async () => {
    encrypt = [{ ciphertext: bytes(1000) }, encryptHeader(1, 1)];
    await refusal(encryptCall(), 'header');
  });

  it('a ciphertext over 600 KiB', async () => {
    encrypt = [encryptHeader(1, 1), { ciphertext: bytes(600 * 1024 + 1) }];
    await refusal(encryptCall(), 'over');
  });

  it('a deadline that expires after part of the answer gives UNAVAILABLE naming the agency', async () => {
    encrypt = [encryptHeader(2, 2), { ciphertext: bytes(1000) }];
    stall = true;
    try {
      const t0 = performance.now();
      const e = await fedstatRejectionOf(
        link.linkage.encrypt({ query, positionCount: 4, positions: new Uint32Array([0, 3]) }, 300),
      );
      expect(e.code).toBe('UNAVAILABLE');
      expect(e.message).toContain(`agency ${AGENCY} did not answer before the deadline`);
      expect(performance.now() - t0).toBeLessThan(2_000);
    } finally {
      stall = false;
    }
  });

  it('components × blocks over the limit', async () => {
    encrypt = [encryptHeader(MAX_LINK_CIPHERTEXTS, 2)];
    await refusal(encryptCall(), 'components × blocks');
  });
});
