/**
 * Secure aggregation end to end over mTLS on 127.0.0.1, with agencies as real `fedstat agency
 * serve` processes (built CLI, DuckDB files): an agency killed between the rounds, an agency that
 * never answers round 1, both at once (the query fails with a retry hint, never a wrong number),
 * parties with certificates from another CA, and a captured round-2 request replayed with another
 * survivor set.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { toHex } from '../../src/crypto/digest.js';
import { sign } from '../../src/crypto/ed25519.js';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import { openQuery, queryDigest } from '../../src/protocol/query-envelope.js';
import { signSurvivorSet, survivorSetDigest } from '../../src/protocol/survivor-set.js';
import type { UnmaskAnswer, UnmaskRequest } from '../../src/protocol/unmask.js';
import { startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { compareRows, referenceRows } from '../../src/demo/reference.js';
import { FedstatError } from '../../src/errors.js';
import { datasetSchemaOf, partyOfRole, readCaCertificate } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { createCertificateAuthority, issuePartyCertificate } from '../../src/tls/certificate.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { channelCredentials, channelCredentialsFrom } from '../../src/transport/credentials.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

const SQL = 'SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district';
let tf: TestFederation;
let coordinator: Coordinator;
const processes = new Map<string, AgencyProcess>();

async function launch(id: string): Promise<void> {
  processes.set(
    id,
    await startAgencyProcess({
      id,
      federationFile: tf.federationFile,
      keyFile: tf.keyFiles[id]!,
      datasets: { residents: tf.csvFiles[id]! },
    }),
  );
  // The coordinator's channel may be backing off after the previous process died.
  for (let i = 0; i < 100; i++) {
    if ((await coordinator.discover()).described.some((d) => d.agencyId === id)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`coordinator cannot reach ${id}`);
}

function kill(id: string): void {
  processes.get(id)?.kill();
  processes.delete(id);
}

async function expectExact(rows: Parameters<typeof compareRows>[0], over: readonly string[]): Promise<void> {
  const expected = await referenceRows(
    coordinator.plan(SQL),
    datasetSchemaOf(tf.federation, 'residents'),
    over.map((id) => tf.csvFiles[id]!),
    tf.federation.policy,
  );
  expect(compareRows(rows, expected.rows)).toBeNull();
}

beforeAll(async () => {
  // Five agencies: the default threshold ⌈2·5/3⌉ = 4 tolerates one agency lost.
  tf = await createTestFederation({ agencies: 5, rowsPerAgency: 200, minAgencies: 2, minGroupSize: 1 });
  coordinator = await tf.coordinator();
  for (const id of tf.ids) await launch(id);
}, 120_000);

afterAll(async () => {
  await coordinator?.close();
  await Promise.all([...processes.values()].map((p) => p.stop()));
  await tf?.close();
});

describe('secure aggregation over mTLS with agency processes', () => {
  it('an agency killed between the rounds: its contribution stays in the sum, the others unmask it', async () => {
    const result = await coordinator.query(SQL, {
      onProgress: (e) => {
        if (e.phase === 'answered' && e.agency === 'agency-2') kill('agency-2');
      },
    });
    expect(result.agencies.answered).toEqual(tf.ids);
    expect(result.secureAggregation?.dropped).toEqual([]);
    expect(result.secureAggregation?.unmaskFailed.map((f) => f.id)).toEqual(['agency-2']);
    await expectExact(result.rows, tf.ids);
    await launch('agency-2');
  }, 60_000);

  it('an agency that never answers round 1 is dropped; the survivors reveal its pairwise seeds', async () => {
    const result = await coordinator.query(SQL, {
      onProgress: (e) => {
        if (e.phase === 'asked') kill('agency-4');
      },
    });
    const survivors = tf.ids.filter((id) => id !== 'agency-4');
    expect(result.agencies.answered).toEqual(survivors);
    expect(result.agencies.failed.map((f) => [f.id, f.code])).toEqual([['agency-4', 'UNAVAILABLE']]);
    expect(result.secureAggregation).toMatchObject({ threshold: 4, survivors, dropped: ['agency-4'] });
    await expectExact(result.rows, survivors);
    await launch('agency-4');
  }, 60_000);

  it('a dropout plus a survivor lost in round 2 fails cleanly with a retry hint, and the retry succeeds', async () => {
    const err = await coordinator
      .query(SQL, {
        onProgress: (e) => {
          if (e.phase === 'asked') kill('agency-5');
          if (e.phase === 'answered' && e.agency === 'agency-1') kill('agency-1');
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FedstatError);
    expect((err as FedstatError).code).toBe('UNAVAILABLE');
    expect((err as FedstatError).message).toMatch(/agency-1/);
    expect((err as FedstatError).message).toMatch(/retry/i);
    await launch('agency-1');
    await launch('agency-5');
    const retried = await coordinator.query(SQL);
    expect(retried.agencies.answered).toEqual(tf.ids);
    await expectExact(retried.rows, tf.ids);
  }, 90_000);

  it('refuses parties whose certificates come from another CA', async () => {
    const rogueCa = createCertificateAuthority({ commonName: 'rogue CA', validDays: 30 });
    const rogue = issuePartyCertificate(rogueCa, {
      partyId: 'coordinator',
      role: 'coordinator',
      hosts: ['127.0.0.1'],
      validDays: 30,
    });
    const ca = loadKeyFile(tf.keyFiles['coordinator']!, tf.federation);
    // A client claiming to be the coordinator with the rogue CA's certificate: the agency's TLS refuses it.
    const endpoint = tf.federation.parties.find((p) => p.id === 'agency-3')!.endpoint!;
    const link = new GrpcAgencyLink(
      'agency-3',
      endpoint,
      channelCredentialsFrom({
        caPem: ca.tls!.certificatePem,
        certificatePem: rogue.certificatePem,
        privateKeyPem: rogue.privateKeyPem,
      }),
    );
    try {
      const err = await link.describe(5_000).catch((e: unknown) => e);
      expect((err as FedstatError).code).toBe('UNAVAILABLE');
    } finally {
      link.close();
    }
    expect(partyOfRole(tf.federation, 'coordinator').id).toBe('coordinator');
    // The rogue CA's certificate does not verify against the federation CA.
    const agency = issuePartyCertificate(rogueCa, {
      partyId: 'agency-3',
      role: 'agency',
      hosts: ['127.0.0.1'],
      validDays: 30,
    });
    const federationCa = new X509Certificate(readCaCertificate(tf.federation));
    expect(new X509Certificate(agency.certificatePem).verify(federationCa.publicKey)).toBe(false);
  }, 30_000);

  it('a captured round-2 request replayed with another survivor set is refused; the same set gets the same answer', async () => {
    const secrets = loadKeyFile(tf.keyFiles['coordinator']!, tf.federation);
    const captured: UnmaskRequest[] = [];
    const answers: UnmaskAnswer[] = [];
    const links = tf.ids.map((id) => {
      const link = new GrpcAgencyLink(
        id,
        tf.federation.parties.find((p) => p.id === id)!.endpoint!,
        channelCredentials(tf.federation, secrets, { insecure: false, endpointHost: '127.0.0.1' }),
      );
      if (id !== 'agency-3') return link;
      return Object.assign(Object.create(link) as GrpcAgencyLink, {
        unmask: async (r: UnmaskRequest, deadline: number) => {
          captured.push(r);
          const answer = await link.unmask(r, deadline);
          answers.push(answer);
          return answer;
        },
      });
    });
    const keyAuthority = await InProcessKeyAuthority.create({
      federation: tf.federation,
      secrets: loadKeyFile(tf.keyFiles['key-authority']!, tf.federation),
    });
    await using spy = await Coordinator.create({ federation: tf.federation, secrets, keyAuthority, links });
    const result = await spy.query(SQL);
    await expectExact(result.rows, tf.ids);
    const request = captured[0]!;
    const agency3 = links[tf.ids.indexOf('agency-3')]!;

    const again = await agency3.unmask(request, 5_000);
    expect(again).toEqual(answers[0]);
    expect(again.selfMaskShares).toHaveLength(tf.ids.length);

    // A SQL query's envelope never reads the plain modulus (only a GLM round's encoding does).
    const he = { paramsId: (await agency3.describe(5_000)).paramsId, plainModulus: 0n };
    const query = openQuery(request.query, tf.federation, he, Date.now());
    const other = signSurvivorSet(
      {
        v: 1,
        round: 2,
        queryId: query.queryId,
        federationId: tf.federation.id,
        queryDigest: toHex(queryDigest(request.query.bytes)),
        survivors: tf.ids.filter((id) => id !== 'agency-1'),
        dropped: ['agency-1'],
        threshold: query.threshold,
      },
      secrets.signing.secretKey,
    );
    const refused = await agency3.unmask({ ...request, survivors: other }, 5_000).catch((e: unknown) => e);
    expect((refused as FedstatError).code).toBe('POLICY_REFUSED');

    const forger = loadKeyFile(tf.keyFiles['agency-1']!, tf.federation);
    const forged = { bytes: other.bytes, signature: sign(survivorSetDigest(other.bytes), forger.signing.secretKey) };
    const bad = await agency3.unmask({ ...request, survivors: forged }, 5_000).catch((e: unknown) => e);
    expect((bad as FedstatError).code).toBe('BAD_MESSAGE');
  }, 60_000);
});
