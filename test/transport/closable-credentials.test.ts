/**
 * A client channel to a hung server (it accepts the TCP connection and never answers the TLS
 * handshake, as a SIGSTOPped process does): the call fails at its deadline, and closing the
 * channel really ends the connection attempt, so nothing keeps the caller's process alive.
 * grpc-js alone kept that socket open forever.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import {
  ChannelCredentials,
  makeGenericClientConstructor,
  type Client,
  type MethodDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { loadFederation, type Federation } from '../../src/federation/federation.js';
import { loadKeyFile, type PartySecrets } from '../../src/federation/key-file.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { closableCredentials } from '../../src/transport/closable-credentials.js';
import { channelCredentials, channelOptionsFor, tlsMaterial } from '../../src/transport/credentials.js';
import { GrpcKeyAuthority } from '../../src/transport/key-authority-client.js';
import { createTlsTestFederation, type TlsTestFederation } from '../tls/tls-federation.js';

/** A TCP server that accepts connections and never says a word (the TLS handshake never ends). */
interface HungServer {
  readonly port: number;
  readonly accepted: Socket[];
  close(): Promise<void>;
}

async function hungServer(): Promise<HungServer> {
  const accepted: Socket[] = [];
  const server: NetServer = createServer((s) => {
    s.on('error', () => undefined);
    s.resume(); // reads and drops the ClientHello, so that the client's close is seen here
    accepted.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    accepted,
    close: async () => {
      for (const s of accepted) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const PING: MethodDefinition<Buffer, Buffer> = {
  path: '/fedstat.test.Ping/Ping',
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const PingClient = makeGenericClientConstructor({ Ping: PING }, 'Ping');

function ping(client: Client, deadlineMs: number): Promise<ServiceError> {
  const fn = (
    client as unknown as Record<
      string,
      (req: Buffer, o: { deadline: Date }, cb: (e: ServiceError | null) => void) => void
    >
  )['Ping']!;
  return new Promise((resolve, reject) => {
    fn.call(client, Buffer.from('ping'), { deadline: new Date(Date.now() + deadlineMs) }, (e) =>
      e === null ? reject(new Error('answered')) : resolve(e),
    );
  });
}

let fed: TlsTestFederation;
let federation: Federation;
let coordinator: PartySecrets;
let hung: HungServer;

beforeAll(async () => {
  fed = await createTlsTestFederation();
  federation = loadFederation(fed.federationFile);
  coordinator = loadKeyFile(fed.keyFiles['coordinator']!, federation);
});

afterAll(() => fed.close());

afterEach(async () => {
  await hung.close();
});

describe('client channels to a hung server', () => {
  it('an agency call fails at its deadline, and closing the link ends the TLS handshake', async () => {
    hung = await hungServer();
    const link = new GrpcAgencyLink(
      'a1',
      `127.0.0.1:${hung.port}`,
      channelCredentials(federation, coordinator, { insecure: false, endpointHost: '127.0.0.1' }),
    );
    const t0 = performance.now();
    const err = await link.describe(300).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FedstatError);
    expect((err as FedstatError).code).toBe('UNAVAILABLE');
    expect((err as FedstatError).message).toMatch(/did not answer before the deadline/);
    expect(performance.now() - t0).toBeLessThan(2_000);
    // The handshake is still waiting for the hung server …
    expect(hung.accepted.length).toBeGreaterThanOrEqual(1);
    const socket = hung.accepted[0]!;
    expect(socket.closed).toBe(false);
    // … until the link is closed: then the client gives the connection up at once.
    link.close();
    expect(await closedWithin(socket, 1_000)).toBe(true);
  });

  it("a remote key authority's Describe uses its own short deadline, not the 60 s one of Decrypt, and close() ends the handshake", async () => {
    hung = await hungServer();
    const ka = new GrpcKeyAuthority(
      federation,
      `127.0.0.1:${hung.port}`,
      channelCredentials(federation, coordinator, { insecure: false, endpointHost: '127.0.0.1' }),
      channelOptionsFor('key-authority'),
      { deadlineMs: 60_000, describeDeadlineMs: 1_500 },
    );
    try {
      const t0 = performance.now();
      const err = await ka.describe().then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as FedstatError).code).toBe('UNAVAILABLE');
      expect(performance.now() - t0).toBeLessThan(5_000);
      await until(() => hung.accepted.length > 0, 1_000);
    } finally {
      await ka.close();
    }
    expect(await closedWithin(hung.accepted[0]!, 1_000)).toBe(true);
  });

  it('a handshake that outlasts handshakeTimeoutMs is abandoned and retried while the channel lives', async () => {
    hung = await hungServer();
    const m = tlsMaterial(federation, coordinator);
    const credentials = closableCredentials(
      ChannelCredentials.createSsl(Buffer.from(m.caPem), Buffer.from(m.privateKeyPem), Buffer.from(m.certificatePem)),
      { handshakeTimeoutMs: 200 },
    );
    const client = new PingClient(`127.0.0.1:${hung.port}`, credentials, {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 200,
    });
    try {
      const call = ping(client, 3_000);
      await until(() => hung.accepted.length > 0, 1_000);
      expect(await closedWithin(hung.accepted[0]!, 1_500)).toBe(true);
      await until(() => hung.accepted.length > 1, 2_000);
      const err = await call;
      expect(err.code).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it('rejects a handshake timeout that is not a positive integer', () => {
    expect(() => closableCredentials(ChannelCredentials.createInsecure(), { handshakeTimeoutMs: 0 })).toThrow(
      RangeError,
    );
  });
});
