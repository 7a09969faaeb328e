/**
 * Stopping a server takes a bounded time whatever its clients do: calls in flight finish within
 * the grace period or are cancelled at its end, and a hung client (connected but silent, mid TLS
 * handshake or with the handshake done) is disconnected instead of holding the server open.
 */
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  Server,
  makeGenericClientConstructor,
  type Client,
  type MethodDefinition,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { loadFederation, type Federation } from '../../src/federation/federation.js';
import { loadKeyFile, type PartySecrets } from '../../src/federation/key-file.js';
import {
  channelCredentials,
  channelOptionsFor,
  serverCredentials,
  tlsMaterial,
} from '../../src/transport/credentials.js';
import { listen, type RunningServer } from '../../src/transport/listen.js';
import { createTlsTestFederation, type TlsTestFederation } from '../tls/tls-federation.js';

/** Answers after the number of ms the request names ("never": not at all). */
const WAIT: MethodDefinition<Buffer, Buffer> = {
  path: '/fedstat.test.Wait/Wait',
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const WaitClient = makeGenericClientConstructor({ Wait: WAIT }, 'Wait');

function waitServer(): Server {
  const server = new Server();
  server.addService(
    { Wait: WAIT },
    {
      Wait: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        const what = call.request.toString();
        if (what !== 'never') setTimeout(() => callback(null, Buffer.from('done')), Number(what));
      },
    },
  );
  return server;
}

let fed: TlsTestFederation;
let federation: Federation;
let a1: PartySecrets;
let coordinator: PartySecrets;

beforeAll(async () => {
  fed = await createTlsTestFederation();
  federation = loadFederation(fed.federationFile);
  a1 = loadKeyFile(fed.keyFiles['a1']!, federation);
  coordinator = loadKeyFile(fed.keyFiles['coordinator']!, federation);
});

afterAll(() => fed.close());

async function serveA1(graceMs: number): Promise<RunningServer> {
  return listen(
    waitServer(),
    '127.0.0.1',
    0,
    serverCredentials(federation, a1, { insecure: false, host: '127.0.0.1' }),
    { graceMs },
  );
}

function client(port: number): Client {
  return new WaitClient(
    `127.0.0.1:${port}`,
    channelCredentials(federation, coordinator, { insecure: false, endpointHost: '127.0.0.1' }),
    channelOptionsFor('a1'),
  );
}

function wait(c: Client, what: string): Promise<string> {
  const fn = (
    c as unknown as Record<
      string,
      (req: Buffer, o: { deadline: Date }, cb: (e: ServiceError | null, r?: Buffer) => void) => void
    >
  )['Wait']!;
  return new Promise((resolve, reject) => {
    fn.call(c, Buffer.from(what), { deadline: new Date(Date.now() + 10_000) }, (e, r) =>
      e === null ? resolve(r!.toString()) : reject(e),
    );
  });
}

function closed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

async function timed(p: Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await p;
  return performance.now() - t0;
}

describe('listen: a server that stops within its grace period', () => {
  it('disconnects hung clients, one silent before the TLS handshake and one silent after it', async () => {
    const running = await serveA1(500);
    const raw = tcpConnect(running.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const m = tlsMaterial(federation, coordinator);
    const handshaken = tlsConnect({
      port: running.port,
      host: '127.0.0.1',
      ca: m.caPem,
      cert: m.certificatePem,
      key: m.privateKeyPem,
      servername: 'a1',
      ALPNProtocols: ['h2'],
    });
    handshaken.on('error', () => undefined);
    await new Promise<void>((resolve) => handshaken.once('secureConnect', () => resolve()));
    await new Promise<void>((resolve) =>
      raw.readyState === 'open' ? resolve() : raw.once('connect', () => resolve()),
    );
    raw.resume();
    handshaken.resume();
    // grpc-js alone never finished this close(): tryShutdown waited for the silent connection.
    const ms = await timed(running.close());
    expect(ms).toBeLessThan(500 + 1_000);
    await Promise.all([closed(raw), closed(handshaken)]);
  });

  it('lets a call in flight finish within the grace period', async () => {
    const running = await serveA1(3_000);
    const c = client(running.port);
    try {
      const call = wait(c, '300');
      await new Promise((r) => setTimeout(r, 100));
      const [answer, ms] = await Promise.all([call, timed(running.close())]);
      expect(answer).toBe('done');
      expect(ms).toBeLessThan(3_000);
    } finally {
      c.close();
    }
  });

  it('cancels a call that outlasts the grace period, and stops at its end', async () => {
    const running = await serveA1(300);
    const c = client(running.port);
    try {
      const call = wait(c, 'never').then(
        () => null,
        (e: unknown) => e as ServiceError,
      );
      await new Promise((r) => setTimeout(r, 200));
      const ms = await timed(running.close());
      expect(ms).toBeLessThan(300 + 1_000);
      const err = await call;
      expect(err).not.toBeNull();
    } finally {
      c.close();
    }
  });

  it('close() is idempotent', async () => {
    const running = await serveA1(100);
    await Promise.all([running.close(), running.close()]);
    await running.close();
  });

  it('a port in use is one UNAVAILABLE line naming it', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const err = await listen(
        waitServer(),
        '127.0.0.1',
        port,
        serverCredentials(federation, a1, { insecure: false, host: '127.0.0.1' }),
      ).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FedstatError);
      expect((err as FedstatError).code).toBe('UNAVAILABLE');
      expect((err as FedstatError).message).toMatch(
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*choose another --port`),
      );
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('a host name listens on the addresses it resolves to', async () => {
    const running = await listen(
      waitServer(),
      'localhost',
      0,
      serverCredentials(federation, a1, { insecure: false, host: '127.0.0.1' }),
      { graceMs: 100 },
    );
    const c = client(running.port);
    try {
      expect(await wait(c, '0')).toBe('done');
    } finally {
      c.close();
      await running.close();
    }
  });
});
