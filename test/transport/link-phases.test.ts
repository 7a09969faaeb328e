/**
 * Every record-linkage phase over real gRPC on 127.0.0.1, with payloads of real size: 100,000
 * blinded elements (four chunks, the first three of 32,768), 100,000 positions each way, 200
 * ciphertext-sized byte strings of 500 KB (100 MB) out of LinkEncrypt and into LinkLoad. What
 * arrives is byte-equal to what was sent and still verifies under the agency's signature. An
 * agency's error code survives the wire; a deadline covers a whole stream and gives UNAVAILABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { checkChunk, checkEncryptAnswer, LINK_CHUNK_ELEMENTS } from '../../src/protocol/link-messages.js';
import type { LinkagePhases } from '../../src/protocol/links.js';
import type { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import type { RunningServer } from '../../src/transport/listen.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { linkageHandlers } from '../../src/transport/link-service.js';
import {
  AGENCY,
  bytes,
  fakeLinkage,
  fakeQuery,
  linkTo,
  QUERY_ID,
  sameWords,
  serveHandlers,
  serveLinkage,
  type FakeLinkage,
} from './link-fixture.js';

const ELEMENTS = 100_000;
const POSITIONS = 100_000;
const CIPHERTEXTS = 200;
const CIPHERTEXT_BYTES = 500_000;
const DEADLINE_MS = 20_000;

let fake: FakeLinkage;
let server: RunningServer;
let link: GrpcAgencyLink;
let phases: LinkagePhases;
const query = fakeQuery();
/** Ciphertext-sized byte strings, made once: LinkEncrypt answers with them, LinkLoad sends them. */
let ciphertexts: Uint8Array[];

/** Distinct positions below `count`, in a scrambled order. */
function positions(n: number, count: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7919 + 13) % count;
  return out;
}

beforeAll(async () => {
  ciphertexts = Array.from({ length: CIPHERTEXTS }, () => bytes(CIPHERTEXT_BYTES));
  fake = fakeLinkage();
  server = await serveLinkage(fake);
  link = linkTo(server.port);
  phases = link.linkage;
});

afterAll(async () => {
  link.close();
  await server.close();
});

describe('linkage phases round-trip over gRPC', () => {
  it('LinkStart carries the log proof-less request and the sealed side keys byte for byte', async () => {
    fake.elements = bytes(ELEMENTS * 32);
    const answer = await phases.start({ query }, DEADLINE_MS);
    expect(answer).toMatchObject({ agencyId: AGENCY, queryId: QUERY_ID, elements: ELEMENTS });
    expect(fake.received.start?.query.bytes).toEqual(query.bytes);
    expect(fake.received.start?.query.signature).toEqual(query.signature);
    expect(fake.received.start?.logProof).toBeUndefined();
    expect(answer.sideKeys.map((k) => k.to)).toEqual(['agency-2', 'agency-3']);
    expect(answer.sideKeys.every((k) => k.nonce.length === 24 && k.box.length === 48)).toBe(true);
    expect(answer.logEntries).toEqual([new Uint8Array(300).fill(7)]);
  });

  it('LinkBlind streams 100,000 elements as signed chunks, in order and byte-equal', async () => {
    fake.elements = bytes(ELEMENTS * 32);
    const sideKey = { from: 'agency-2', to: AGENCY, nonce: bytes(24), box: bytes(48) };
    const chunks = await phases.blind({ query, leader: 'agency-2', sideKey }, DEADLINE_MS);
    expect(fake.received.blind?.leader).toBe('agency-2');
    expect(fake.received.blind?.sideKey).toEqual(sideKey);
    expect(chunks.map((c) => c.elements.length / 32)).toEqual([
      LINK_CHUNK_ELEMENTS,
      LINK_CHUNK_ELEMENTS,
      LINK_CHUNK_ELEMENTS,
      ELEMENTS - 3 * LINK_CHUNK_ELEMENTS,
    ]);
    const joined = new Uint8Array(ELEMENTS * 32);
    let at = 0;
    for (const c of chunks) {
      checkChunk(query, c, fake.keys.publicKey);
      joined.set(c.elements, at);
      at += c.elements.length;
    }
    expect(Buffer.compare(joined, fake.elements)).toBe(0);
  });

  it('LinkBlind of a leader carries no side key, and an empty set is one empty chunk', async () => {
    fake.elements = new Uint8Array(0);
    const chunks = await phases.blind({ query, leader: AGENCY, sideKey: null }, DEADLINE_MS);
    expect(fake.received.blind?.sideKey).toBeNull();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.elements.length).toBe(0);
    checkChunk(query, chunks[0]!, fake.keys.publicKey);
  });

  it('LinkReblind carries a full 1 MiB chunk each way', async () => {
    const other = fakeLinkage();
    other.elements = bytes(LINK_CHUNK_ELEMENTS * 32);
    const [chunk] = await other.blind({ query, leader: 'agency-9', sideKey: null });
    const back = await phases.reblind({ query, chunk: chunk! }, DEADLINE_MS);
    expect(Buffer.compare(fake.received.reblind!.chunk.elements, chunk!.elements)).toBe(0);
    expect(fake.received.reblind!.chunk.signature).toEqual(chunk!.signature);
    expect(back.phase).toBe('reblind');
    expect(back.by).toBe(AGENCY);
    expect(
      Buffer.compare(
        back.elements,
        chunk!.elements.map((b) => b ^ 0xff),
      ),
    ).toBe(0);
    checkChunk(query, back, fake.keys.publicKey);
  });

  it('LinkEncrypt streams 100,000 positions in and 200 ciphertexts of 500 KB out', async () => {
    fake.ciphertexts = ciphertexts;
    fake.components = 2;
    fake.blocks = CIPHERTEXTS / 2;
    const sent = positions(POSITIONS, 3 * POSITIONS);
    const answer = await phases.encrypt({ query, positionCount: 3 * POSITIONS, positions: sent }, DEADLINE_MS);
    expect(fake.received.encrypt?.positionCount).toBe(3 * POSITIONS);
    expect(sameWords(fake.received.encrypt!.positions, sent)).toBe(true);
    expect(answer).toMatchObject({ agencyId: AGENCY, queryId: QUERY_ID, components: 2, blocks: CIPHERTEXTS / 2 });
    expect(answer.ciphertexts).toHaveLength(CIPHERTEXTS);
    answer.ciphertexts.forEach((c, i) => expect(Buffer.compare(c, fake.ciphertexts[i]!)).toBe(0));
    expect(answer.logEntries).toEqual([new Uint8Array(500).fill(9)]);
    checkEncryptAnswer(query, answer, fake.keys.publicKey);
  });

  it('LinkEncrypt with no positions still answers', async () => {
    fake.ciphertexts = [bytes(1000)];
    fake.components = 1;
    fake.blocks = 1;
    const answer = await phases.encrypt({ query, positionCount: 0, positions: new Uint32Array(0) }, DEADLINE_MS);
    expect(fake.received.encrypt?.positions).toHaveLength(0);
    expect(answer.ciphertexts[0]).toEqual(fake.ciphertexts[0]);
  });

  it('LinkLoad streams 100,000 positions and 200 ciphertexts of 500 KB in', async () => {
    const sent = positions(POSITIONS, 2 * POSITIONS);
    await phases.load(
      { query, positionCount: 2 * POSITIONS, positions: sent, ciphertexts, components: 4, blocks: CIPHERTEXTS / 4 },
      DEADLINE_MS,
    );
    const got = fake.received.load!;
    expect(got).toMatchObject({ positionCount: 2 * POSITIONS, components: 4, blocks: CIPHERTEXTS / 4 });
    expect(got.query.bytes).toEqual(query.bytes);
    expect(sameWords(got.positions, sent)).toBe(true);
    expect(got.ciphertexts).toHaveLength(CIPHERTEXTS);
    got.ciphertexts.forEach((c, i) => expect(Buffer.compare(c, ciphertexts[i]!)).toBe(0));
  });
});

describe('failures over the wire', () => {
  it.each([
    ['start', () => phases.start({ query }, DEADLINE_MS)],
    ['blind', () => phases.blind({ query, leader: AGENCY, sideKey: null }, DEADLINE_MS)],
    ['encrypt', () => phases.encrypt({ query, positionCount: 10, positions: new Uint32Array([1, 2]) }, DEADLINE_MS)],
    [
      'load',
      () =>
        phases.load(
          {
            query,
            positionCount: 10,
            positions: new Uint32Array([3]),
            ciphertexts: [bytes(10)],
            components: 1,
            blocks: 1,
          },
          DEADLINE_MS,
        ),
    ],
  ])('an agency error code survives %s (DATA_INVALID stays DATA_INVALID)', async (_, call) => {
    fake.failNext = new FedstatError('DATA_INVALID', 'dataset residents has an invalid citizen id; fix row 12');
    const e = await fedstatRejectionOf(call());
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toBe('dataset residents has an invalid citizen id; fix row 12');
  });

  it('a thrown non-fedstat error reaches the coordinator as INTERNAL without its text', async () => {
    fake.failNext = new Error('secret path /var/lib/agency/ids.db');
    const e = await fedstatRejectionOf(phases.start({ query }, DEADLINE_MS));
    expect(e.code).toBe('INTERNAL');
    expect(e.message).not.toContain('/var/lib');
  });

  it('an agency slower than the deadline gives UNAVAILABLE naming it, and the server keeps serving', async () => {
    fake.delayMs = 400;
    fake.ciphertexts = [bytes(1000)];
    fake.components = 1;
    fake.blocks = 1;
    try {
      const e = await fedstatRejectionOf(
        phases.encrypt({ query, positionCount: 5, positions: new Uint32Array([4, 0]) }, 150),
      );
      expect(e.code).toBe('UNAVAILABLE');
      expect(e.message).toContain(`agency ${AGENCY}`);
    } finally {
      fake.delayMs = 0;
    }
    await new Promise((r) => setTimeout(r, 300));
    fake.elements = bytes(64);
    expect(await phases.blind({ query, leader: AGENCY, sideKey: null }, DEADLINE_MS)).toHaveLength(1);
  });

  it('a deadline that expires while 2,000 MiB of chunks stream gives UNAVAILABLE, and the server keeps serving', async () => {
    // 2,000 chunks of 1 MiB sharing one buffer: the agency cannot send them within 300 ms.
    const one = bytes(LINK_CHUNK_ELEMENTS * 32);
    const heavy = fakeLinkage();
    const huge = {
      ...heavy,
      blind: () =>
        Promise.resolve(
          Array.from({ length: 2000 }, (_, index) => ({
            origin: AGENCY,
            phase: 'blind' as const,
            index,
            chunks: 2000,
            elements: one,
            by: AGENCY,
            signature: bytes(64),
          })),
        ),
    };
    // Count what the real handler writes, to see it stop once the call is cancelled.
    const handlers = linkageHandlers(huge, null);
    let written = 0;
    const s = await serveHandlers({
      ...handlers,
      LinkBlind: (call: { write(m: unknown): boolean }) => {
        const write = call.write.bind(call);
        call.write = (m) => {
          written++;
          return write(m);
        };
        (handlers['LinkBlind'] as (c: unknown) => void)(call);
      },
    });
    const l = linkTo(s.port);
    try {
      const t0 = performance.now();
      const e = await fedstatRejectionOf(l.linkage.blind({ query, leader: AGENCY, sideKey: null }, 300));
      expect(e.code).toBe('UNAVAILABLE');
      expect(e.message).toContain(`agency ${AGENCY}`);
      expect(performance.now() - t0).toBeLessThan(2_000);
      await new Promise((r) => setTimeout(r, 200));
      const after = written;
      await new Promise((r) => setTimeout(r, 300));
      expect(written).toBe(after);
      expect(written).toBeLessThan(2000);
      heavy.elements = bytes(96);
      const start = await l.linkage.start({ query }, DEADLINE_MS);
      expect(start.elements).toBe(3);
    } finally {
      l.close();
      await s.close();
    }
  });
});
