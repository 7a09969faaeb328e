/**
 * The linkage methods of a served agency (serveAgencyService, mTLS with the federation's CA) take
 * the same callers as Aggregate: the coordinator's certificate is answered, another agency's is
 * refused with POLICY_REFUSED on every phase, unary and streamed alike, before the agency's
 * linkage sees anything. An agency object without linkage refuses with CONFIG_INVALID.
 */
import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../../src/agency/agency.js';
import { loadFederation, type Federation } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import type { LinkagePhases } from '../../src/protocol/links.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { serveAgencyService, type RunningServer } from '../../src/transport/agency-server.js';
import { channelCredentials, serverCredentials } from '../../src/transport/credentials.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { createTlsTestFederation, type TlsTestFederation } from '../tls/tls-federation.js';
import { bytes, fakeLinkage, fakeQuery, type FakeLinkage } from './link-fixture.js';

const query = fakeQuery(512);
let fed: TlsTestFederation;
let federation: Federation;
let fake: FakeLinkage;
let server: RunningServer;
const links: GrpcAgencyLink[] = [];

/** Only what the linkage handlers touch; the other rounds are not called here. */
function agencyWith(linkage: FakeLinkage | undefined): Agency {
  return { id: 'a1', ...(linkage === undefined ? {} : { linkage }) } as unknown as Agency;
}

function linkAs(party: string, port: number): LinkagePhases {
  const secrets = loadKeyFile(fed.keyFiles[party]!, federation);
  const creds = channelCredentials(federation, secrets, { insecure: false, endpointHost: '127.0.0.1' });
  const link = new GrpcAgencyLink('a1', `127.0.0.1:${port}`, creds);
  links.push(link);
  return link.linkage;
}

beforeAll(async () => {
  fed = await createTlsTestFederation();
  federation = loadFederation(fed.federationFile);
  fake = fakeLinkage('a1');
  const a1 = loadKeyFile(fed.keyFiles['a1']!, federation);
  server = await serveAgencyService(agencyWith(fake), '127.0.0.1', 0, {
    credentials: serverCredentials(federation, a1, { insecure: false, host: '127.0.0.1' }),
    allowedCallers: ['coordinator'],
  });
});

afterAll(async () => {
  for (const l of links) l.close();
  await server.close();
  fed.close();
});

describe('who may call the linkage phases', () => {
  it('the coordinator is answered', async () => {
    fake.elements = bytes(3 * 32);
    const phases = linkAs('coordinator', server.port);
    expect((await phases.start({ query }, 10_000)).elements).toBe(3);
    const chunks = await phases.blind({ query, leader: 'a1', sideKey: null }, 10_000);
    expect(chunks[0]?.elements).toEqual(fake.elements);
  });

  it('another agency is refused on every phase before the linkage sees it', async () => {
    const phases = linkAs('a2', server.port);
    const chunk = {
      origin: 'a2',
      phase: 'blind' as const,
      index: 0,
      chunks: 1,
      elements: bytes(32),
      by: 'a2',
      signature: bytes(64),
    };
    const calls: Promise<unknown>[] = [
      phases.start({ query }, 10_000),
      phases.blind({ query, leader: 'a1', sideKey: null }, 10_000),
      phases.reblind({ query, chunk }, 10_000),
      phases.encrypt({ query, positionCount: 3, positions: new Uint32Array([2]) }, 10_000),
      phases.load(
        {
          query,
          positionCount: 3,
          positions: new Uint32Array([1]),
          ciphertexts: [bytes(99)],
          components: 1,
          blocks: 1,
        },
        10_000,
      ),
    ];
    // Settled together: a refusal must not go unobserved while an earlier one is awaited.
    for (const e of await Promise.all(calls.map((c) => fedstatRejectionOf(c)))) {
      expect(e.code).toBe('POLICY_REFUSED');
      expect(e.message).toContain('caller a2 may not call this service');
    }
    expect(fake.received.reblind).toBeUndefined();
    expect(fake.received.encrypt).toBeUndefined();
    expect(fake.received.load).toBeUndefined();
  });

  it('an agency object without linkage refuses with CONFIG_INVALID', async () => {
    const bare = await serveAgencyService(agencyWith(undefined), '127.0.0.1', 0, {
      credentials: ServerCredentials.createInsecure(),
      allowedCallers: null,
    });
    const link = new GrpcAgencyLink('a1', `127.0.0.1:${bare.port}`, credentials.createInsecure());
    try {
      const e = await fedstatRejectionOf(link.linkage.blind({ query, leader: 'a1', sideKey: null }, 10_000));
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message).toContain('record linkage');
    } finally {
      link.close();
      await bare.close();
    }
  });
});
