import {
  ChannelCredentials,
  Server,
  ServerCredentials,
  makeGenericClientConstructor,
  status,
  type ChannelOptions,
  type Client,
  type MethodDefinition,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFederation, readCaCertificate, type Federation } from '../../src/federation/federation.js';
import { loadKeyFile, type PartySecrets } from '../../src/federation/key-file.js';
import { createCertificateAuthority, issuePartyCertificate } from '../../src/tls/certificate.js';
import {
  channelCredentials,
  channelCredentialsFrom,
  channelOptionsFor,
  peerPartyId,
  serverCredentials,
  tlsMaterial,
} from '../../src/transport/credentials.js';
import { createTlsTestFederation, type TlsTestFederation } from './tls-federation.js';
import { fedstatErrorOf as thrown } from '../helpers/fedstat-error.js';

/** A one-method service with raw Buffer messages: the server answers "<peer party id or -> <request>". */
const ECHO: MethodDefinition<Buffer, Buffer> = {
  path: '/fedstat.test.Echo/Echo',
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const SERVICE = { Echo: ECHO };
const EchoClient = makeGenericClientConstructor(SERVICE, 'Echo');

/** Calls that reached a handler: a refused peer must never get that far. */
let handled = 0;

async function serve(credentials: ServerCredentials): Promise<{ port: number; server: Server }> {
  const server = new Server();
  server.addService(SERVICE, {
    Echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      handled++;
      callback(null, Buffer.from(`${peerPartyId(call) ?? '-'} ${call.request.toString()}`));
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err === null ? resolve(p) : reject(err)));
  });
  return { port, server };
}

async function echo(port: number, credentials: ChannelCredentials, options: ChannelOptions = {}): Promise<string> {
  const client: Client = new EchoClient(`127.0.0.1:${port}`, credentials, options);
  try {
    const fn = (
      client as unknown as Record<
        string,
        (req: Buffer, o: { deadline: Date }, cb: (e: ServiceError | null, r?: Buffer) => void) => void
      >
    )['Echo']!;
    return await new Promise<string>((resolve, reject) => {
      fn.call(client, Buffer.from('hello'), { deadline: new Date(Date.now() + 5_000) }, (err, res) =>
        err === null ? resolve(res!.toString()) : reject(err),
      );
    });
  } finally {
    client.close();
  }
}

async function failure(p: Promise<string>): Promise<ServiceError> {
  const before = handled;
  const r = await p.then(
    (v) => new Error(`expected a failure, got ${v}`),
    (e: unknown) => e,
  );
  expect(handled).toBe(before);
  if (r instanceof Error && 'code' in r) return r as ServiceError;
  throw r;
}

describe('mTLS between parties over real gRPC on 127.0.0.1', () => {
  let fed: TlsTestFederation;
  let federation: Federation;
  let a1: PartySecrets;
  let coordinator: PartySecrets;
  let server: Server;
  let port: number;
  const servers: Server[] = [];

  beforeAll(async () => {
    fed = await createTlsTestFederation();
    federation = loadFederation(fed.federationFile);
    a1 = loadKeyFile(fed.keyFiles['a1']!, federation);
    coordinator = loadKeyFile(fed.keyFiles['coordinator']!, federation);
    ({ server, port } = await serve(serverCredentials(federation, a1, { insecure: false, host: '127.0.0.1' })));
    servers.push(server);
  });
  afterAll(() => {
    for (const s of servers) s.forceShutdown();
    fed.close();
  });

  const coordinatorChannel = (): ChannelCredentials =>
    channelCredentials(federation, coordinator, { insecure: false, endpointHost: '127.0.0.1' });

  it('lets a party with a federation certificate call, and tells the server who called', async () => {
    expect(await echo(port, coordinatorChannel(), channelOptionsFor('a1'))).toBe('coordinator hello');
    const a2 = loadKeyFile(fed.keyFiles['a2']!, federation);
    expect(
      await echo(
        port,
        channelCredentials(federation, a2, { insecure: false, endpointHost: '127.0.0.1' }),
        channelOptionsFor('a1'),
      ),
    ).toBe('a2 hello');
  });

  it('refuses a client whose certificate comes from another CA, even under a federation party name', async () => {
    const otherCa = createCertificateAuthority({ commonName: 'fedstat CA fedstat-federation', validDays: 1 });
    const forged = issuePartyCertificate(otherCa, {
      partyId: 'coordinator',
      role: 'coordinator',
      hosts: ['127.0.0.1'],
      validDays: 1,
    });
    const creds = channelCredentialsFrom({ caPem: readCaCertificate(federation), ...forged });
    const e = await failure(echo(port, creds, channelOptionsFor('a1')));
    expect(e.code).toBe(status.UNAVAILABLE);
  });

  it('refuses a client that presents no certificate', async () => {
    const creds = ChannelCredentials.createSsl(Buffer.from(readCaCertificate(federation)));
    const e = await failure(echo(port, creds, channelOptionsFor('a1')));
    expect(e.code).toBe(status.UNAVAILABLE);
    expect(e.details).toMatch(/certificate required/);
  });

  it('refuses a plain-TCP client', async () => {
    const e = await failure(echo(port, ChannelCredentials.createInsecure()));
    expect(e.code).toBe(status.UNAVAILABLE);
  });

  it('refuses a server that is party a1 when the client expects a2', async () => {
    const e = await failure(echo(port, coordinatorChannel(), channelOptionsFor('a2')));
    expect(e.code).toBe(status.UNAVAILABLE);
    expect(e.details).toMatch(/Host: a2\. is not in the cert's altnames: DNS:a1/);
  });

  it('refuses a server identified only by its address: every party certificate lists 127.0.0.1', async () => {
    const e = await failure(echo(port, coordinatorChannel()));
    expect(e.code).toBe(status.UNAVAILABLE);
    expect(e.details).toMatch(/certificate is for party a1, not "127\.0\.0\.1"/);
  });

  it('refuses a server whose certificate comes from another CA', async () => {
    const otherCa = createCertificateAuthority({ commonName: 'other', validDays: 1 });
    const imposter = issuePartyCertificate(otherCa, {
      partyId: 'a1',
      role: 'agency',
      hosts: ['127.0.0.1'],
      validDays: 1,
    });
    const fake = await serve(
      ServerCredentials.createSsl(
        Buffer.from(otherCa.certificatePem),
        [{ private_key: Buffer.from(imposter.privateKeyPem), cert_chain: Buffer.from(imposter.certificatePem) }],
        true,
      ),
    );
    servers.push(fake.server);
    const e = await failure(echo(fake.port, coordinatorChannel(), channelOptionsFor('a1')));
    expect(e.code).toBe(status.UNAVAILABLE);
    expect(e.details).toMatch(/self-signed certificate in certificate chain/);
  });

  it('speaks plain TCP on 127.0.0.1 only when asked, and then knows no peer party', async () => {
    const plain = await serve(serverCredentials(federation, a1, { insecure: true, host: '127.0.0.1' }));
    servers.push(plain.server);
    const creds = channelCredentials(federation, coordinator, { insecure: true, endpointHost: 'localhost' });
    expect(await echo(plain.port, creds, channelOptionsFor('a1'))).toBe('- hello');
  });

  it('refuses plain TCP on a non-loopback address before anything is bound', () => {
    for (const host of ['10.1.2.3', '0.0.0.0', '::', 'agency.example.org', '[2001:db8::1]']) {
      const e = thrown(() => serverCredentials(federation, a1, { insecure: true, host }));
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message).toContain(`plain TCP (--insecure) is refused on non-loopback address ${host}`);
    }
    const e = thrown(() => channelCredentials(federation, coordinator, { insecure: true, endpointHost: '192.0.2.7' }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/192\.0\.2\.7.*use the federation's TLS certificates/);
  });

  it('explains what is missing when TLS cannot be set up', () => {
    const noTls = { ...federation, tls: null };
    expect(thrown(() => serverCredentials(noTls, a1, { insecure: false, host: '127.0.0.1' })).code).toBe(
      'CONFIG_INVALID',
    );
    expect(thrown(() => tlsMaterial(noTls, a1)).message).toMatch(/no "tls" section.*--insecure/);
    const e = thrown(() =>
      channelCredentials(federation, { ...coordinator, tls: null }, { insecure: false, endpointHost: '127.0.0.1' }),
    );
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toMatch(/key file of coordinator has no TLS certificate/);
  });

  it('sets the peer name for both the TLS check and the HTTP/2 authority', () => {
    expect(channelOptionsFor('cd-psb')).toEqual({
      'grpc.ssl_target_name_override': 'cd-psb',
      'grpc.default_authority': 'cd-psb',
    });
  });
});
