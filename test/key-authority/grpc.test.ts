/**
 * The KeyAuthority service over real gRPC on 127.0.0.1 (plain TCP on loopback): Describe, the
 * Decrypt round trip, statuses that keep their code, answers the client must refuse, messages
 * above the limit, and a server that keeps serving after garbage.
 */
import { randomBytes } from 'node:crypto';
import {
  credentials,
  makeGenericClientConstructor,
  ServerCredentials,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import type { InProcessKeyAuthority, ServableKeyAuthority } from '../../src/key-authority/key-authority.js';
import { signDecryptionAnswer, type DecryptionRequest } from '../../src/protocol/decryption.js';
import type { RunningServer } from '../../src/transport/agency-server.js';
import { GrpcKeyAuthority } from '../../src/transport/key-authority-client.js';
import { keyAuthorityLimits } from '../../src/transport/key-authority-limits.js';
import { serveKeyAuthority } from '../../src/transport/key-authority-server.js';
import { keyAuthorityServiceDefinition } from '../../src/transport/proto.js';
import { fromServiceError } from '../../src/transport/status.js';
import { createKaFixture, plainSum, randomSlots, type KaFixture } from './fixture.js';

let f: KaFixture;
let ka: InProcessKeyAuthority;
let server: RunningServer;
let client: GrpcKeyAuthority;
const opened: { close(): Promise<void> | void }[] = [];

beforeAll(async () => {
  f = await createKaFixture({ agencies: 4, minAgencies: 2 });
  ka = await f.keyAuthority();
  server = await serveKeyAuthority(ka, '127.0.0.1', 0, ServerCredentials.createInsecure());
  client = new GrpcKeyAuthority(
    f.federation,
    `127.0.0.1:${server.port}`,
    credentials.createInsecure(),
    {},
    { params: f.params, deadlineMs: 10_000 },
  );
});
afterAll(async () => {
  for (const o of opened) await o.close();
  await client.close();
  await server.close();
  await ka.close();
  f[Symbol.dispose]();
});

function request(survivors: readonly string[]): { request: DecryptionRequest; expected: BigUint64Array } {
  const query = f.query({ threshold: 2 });
  const vs = survivors.map(() => randomSlots(f.params.slotCount));
  return {
    request: f.request(query, f.survivorSet(query, survivors), [f.encryptedSum(vs)]),
    expected: plainSum(vs, f.params.slotCount, f.params.plainModulus),
  };
}

/** Serves `wrap(ka)` on a fresh port and returns a client to it. */
async function serveWrapped(wrap: (inner: ServableKeyAuthority) => ServableKeyAuthority): Promise<GrpcKeyAuthority> {
  const s = await serveKeyAuthority(wrap(ka), '127.0.0.1', 0, ServerCredentials.createInsecure());
  const c = new GrpcKeyAuthority(
    f.federation,
    `127.0.0.1:${s.port}`,
    credentials.createInsecure(),
    {},
    { params: f.params },
  );
  opened.push(c, s);
  return c;
}

/** A client for raw bytes (no protobuf encoding), to send what a hostile peer would. */
function rawClient(port: number, sendLimit = 64 << 20): Client & Record<string, unknown> {
  const def = keyAuthorityServiceDefinition();
  const raw = Object.fromEntries(
    Object.entries(def).map(([name, m]) => [
      name,
      { ...m, requestSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    ]),
  ) as ServiceDefinition;
  const Ctor = makeGenericClientConstructor(raw, 'RawKeyAuthority');
  const c = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.max_send_message_length': sendLimit });
  opened.push(c);
  return c;
}

function rawCall(c: Client & Record<string, unknown>, method: string, body: Buffer): Promise<ServiceError | null> {
  return new Promise((resolve) => {
    (c[method] as (b: Buffer, o: object, cb: (e: ServiceError | null) => void) => void).call(
      c,
      body,
      { deadline: new Date(Date.now() + 10_000) },
      (e) => resolve(e),
    );
  });
}

describe('KeyAuthority over gRPC', () => {
  it('Describe names the party, federation and parameters', async () => {
    expect(await client.describe()).toEqual({
      partyId: 'key-authority',
      federationId: f.federation.id,
      paramsId: f.params.paramsId,
      version: '0.1.0',
      logHead: null,
    });
  });

  it('a client of another federation refuses the key authority on describe()', async () => {
    using other = await createKaFixture({ agencies: 2 });
    const c = new GrpcKeyAuthority(
      other.federation,
      `127.0.0.1:${server.port}`,
      credentials.createInsecure(),
      {},
      { params: other.params },
    );
    opened.push(c);
    await expect(c.describe()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/another federation file/) as unknown,
    });
  });

  it('Decrypt round trip: the exact sum, verified, recorded once on the server', async () => {
    const { request: req, expected } = request(['a1', 'a3']);
    const before = ka.releases().length;
    const answer = await client.decrypt(req);
    expect(answer.slots).toEqual([expected]);
    expect(ka.releases()).toHaveLength(before + 1);
    expect(ka.releases().at(-1)?.survivors).toEqual(['a1', 'a3']);
  });

  it('statuses keep their fedstat code and one-line message across the wire', async () => {
    const { request: req } = request(['a1', 'a2']);
    await client.decrypt(req);
    await expect(client.decrypt(req)).rejects.toMatchObject({
      code: 'REPLAY',
      message: expect.stringMatching(/decrypted before/) as unknown,
    });
    await expect(client.decrypt(request(['a4']).request)).rejects.toMatchObject({ code: 'POLICY_REFUSED' });
    await expect(
      client.decrypt({ ...request(['a1', 'a2']).request, signature: new Uint8Array(64) }),
    ).rejects.toMatchObject({
      code: 'BAD_MESSAGE',
      message: expect.stringMatching(/decryption request signature/) as unknown,
    });
  });

  it('the client refuses a tampered answer: altered slot, slot ≥ t even when signed, wrong count, foreign signature', async () => {
    const t = f.params.plainModulus;
    const kaKey = f.secrets['key-authority']!.signing.secretKey;
    const cases: [
      (
        r: DecryptionRequest,
        a: Awaited<ReturnType<InProcessKeyAuthority['decrypt']>>,
      ) => Awaited<ReturnType<InProcessKeyAuthority['decrypt']>>,
      RegExp,
    ][] = [
      [
        (_r, a) => {
          const s = a.slots[0]!.slice();
          s[7] = (s[7]! + 1n) % t;
          return { ...a, slots: [s] };
        },
        /answer signature does not verify/,
      ],
      [
        (r, a) => {
          const s = a.slots[0]!.slice();
          s[0] = t;
          return signDecryptionAnswer(f.federation.id, r, [s], kaKey);
        },
        /not 4096 values below the plain modulus/,
      ],
      [
        (r, a) => signDecryptionAnswer(f.federation.id, r, [a.slots[0]!, a.slots[0]!], kaKey),
        /2 slot vectors for 1 ciphertexts/,
      ],
      [
        (r, a) => signDecryptionAnswer(f.federation.id, r, a.slots, f.secrets['coordinator']!.signing.secretKey),
        /answer signature does not verify/,
      ],
    ];
    for (const [tamper, message] of cases) {
      const c = await serveWrapped((inner) => ({
        describe: () => inner.describe(),
        close: () => inner.close(),
        decrypt: async (r) => tamper(r, await inner.decrypt(r)),
      }));
      const e: unknown = await c.decrypt(request(['a1', 'a2']).request).then(
        () => null,
        (x: unknown) => x,
      );
      expect(isFedstatError(e, 'BAD_MESSAGE'), String(e)).toBe(true);
      expect((e as Error).message).toMatch(message);
    }
  });

  it('a request above the limit is refused with MESSAGE_TOO_LARGE, by the server and by the client', async () => {
    const limits = keyAuthorityLimits(await ka.describe());
    // By the server: a raw peer whose own send limit is higher.
    const big = rawClient(server.port, limits.requestBytes + (1 << 20));
    const err = await rawCall(big, 'Decrypt', Buffer.alloc(limits.requestBytes + 1024));
    expect(err).not.toBeNull();
    expect(fromServiceError(err!, 'key authority', 'here').code).toBe('MESSAGE_TOO_LARGE');
    // By the client before sending (its send limit is the server's receive limit).
    const { request: req } = request(['a1', 'a2']);
    const huge = { ...req, ciphertexts: [new Uint8Array(limits.requestBytes)] };
    await expect(client.decrypt(huge)).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
  });

  it('keeps serving after garbage: undecodable bytes, random fields, truncated and flipped ciphertexts', async () => {
    const raw = rawClient(server.port);
    for (let i = 0; i < 20; i++) {
      const err = await rawCall(raw, 'Decrypt', randomBytes(1 + ((i * 997) % 5000)));
      expect(err).not.toBeNull();
    }
    const { request: good, expected } = request(['a2', 'a4']);
    const ct = good.ciphertexts[0]!;
    const garbage: DecryptionRequest[] = [
      { ...good, query: { bytes: randomBytes(300), signature: randomBytes(64) } },
      { ...good, ciphertexts: [] },
      f.request(good.query, good.survivors, [ct.subarray(0, ct.length - 1)]),
      f.request(good.query, good.survivors, [randomBytes(ct.length)]),
    ];
    for (const g of garbage) await expect(client.decrypt(g)).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    expect(await client.describe()).toMatchObject({ partyId: 'key-authority' });
    expect((await client.decrypt(good)).slots).toEqual([expected]);
  });

  it('a call to a stopped key authority fails as UNAVAILABLE within the deadline', async () => {
    const s = await serveKeyAuthority(ka, '127.0.0.1', 0, ServerCredentials.createInsecure());
    const port = s.port;
    await s.close();
    const c = new GrpcKeyAuthority(
      f.federation,
      `127.0.0.1:${port}`,
      credentials.createInsecure(),
      {},
      { params: f.params, deadlineMs: 3_000 },
    );
    opened.push(c);
    await expect(c.describe()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await c.close();
    await expect(c.decrypt(request(['a1', 'a2']).request)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/closed/) as unknown,
    });
  });
});
