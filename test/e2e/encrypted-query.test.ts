/**
 * End to end over real gRPC on 127.0.0.1 with real DuckDB files: every encrypted result equals the
 * plaintext computed straight from the CSV files, and every misbehaving peer is named, never
 * silently folded into a wrong number.
 */
import { channelCredentials, channelOptionsFor } from '../../src/transport/credentials.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../../src/agency/agency.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { sign } from '../../src/crypto/ed25519.js';
import { compareRows, referenceRows } from '../../src/demo/reference.js';
import { FedstatError } from '../../src/errors.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { signContribution } from '../../src/protocol/contribution.js';
import { queryDigest, type SignedQuery } from '../../src/protocol/query-envelope.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { agencyServiceDefinition } from '../../src/transport/proto.js';
import { credentials, makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { DISTRICTS, createTestFederation, type TestFederation } from '../helpers/test-federation.js';

let tf: TestFederation;
let coordinator: Coordinator;

async function expectMatchesPlaintext(sql: string, over: readonly string[] = tf.ids): Promise<void> {
  const result = await coordinator.query(sql);
  const schema = datasetSchemaOf(tf.federation, 'residents');
  const expected = await referenceRows(
    result.plan,
    schema,
    over.map((id) => tf.csvFiles[id]!),
    tf.federation.policy,
  );
  expect(result.agencies.answered).toEqual([...over].sort());
  expect(compareRows(result.rows, expected.rows), sql).toBeNull();
  expect(result.suppressed).toBe(expected.suppressed);
}

/** An agency that answers, then corrupts its contribution and (optionally) re-signs it validly. */
function corrupting(id: string, corrupt: (payloads: Uint8Array[]) => Uint8Array[], resign: boolean) {
  return (agency: Agency): Agency => ({
    ...agency,
    answer: async (q: SignedQuery) => {
      const c = await agency.answer(q);
      const payloads = corrupt([...c.payloads]);
      if (!resign) return { ...c, payloads };
      const secrets = loadKeyFile(tf.keyFiles[id]!, tf.federation);
      return signContribution(
        tf.federation.id,
        queryDigest(q.bytes),
        id,
        c.queryId,
        c.mode,
        payloads,
        c.masking,
        secrets.signing.secretKey,
      );
    },
  });
}

/** Starts agency `id` in process and waits until the coordinator reaches it (its channel may be backing off). */
async function start(
  id: string,
  wrap?: (a: Agency) => Agency,
  extra?: Parameters<TestFederation['start']>[2],
): Promise<void> {
  await tf.start(id, wrap, extra);
  for (let i = 0; i < 100; i++) {
    if ((await coordinator.discover()).described.some((d) => d.agencyId === id)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`coordinator cannot reach ${id}`);
}

beforeAll(async () => {
  // Four agencies: with three, the safe secure-aggregation threshold is all three (no dropout tolerated).
  tf = await createTestFederation({ agencies: 4, rowsPerAgency: 300, minAgencies: 2, minGroupSize: 1 });
  for (const id of tf.ids) await tf.start(id);
  coordinator = await tf.coordinator();
});

afterAll(async () => {
  await coordinator?.close();
  await tf?.close();
});

describe('encrypted GROUP BY over gRPC', () => {
  const queries = [
    'SELECT COUNT(*) FROM residents',
    'SELECT district, COUNT(*), SUM(income), AVG(age) FROM residents GROUP BY district',
    'SELECT district, sex, COUNT(*) AS n, AVG(income) AS mean_income FROM residents GROUP BY district, sex',
    'SELECT sex, SUM(balance), AVG(balance) FROM residents WHERE age BETWEEN 18 AND 60 GROUP BY sex',
    "SELECT COUNT(*), SUM(income) FROM residents WHERE district IN ('锦江区', '武侯区') AND NOT (sex = '女' OR age < 30)",
    "SELECT district, COUNT(*) FROM residents WHERE income >= 1500000 AND district <> '成华区' GROUP BY district",
  ];
  for (const sql of queries) {
    it(`matches plaintext: ${sql}`, async () => {
      await expectMatchesPlaintext(sql);
    });
  }

  it('matches plaintext for random predicates (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 0, max: 120 }),
        fc.subarray([...DISTRICTS], { minLength: 1 }),
        fc.boolean(),
        async (a, b, districts, grouped) => {
          const list = districts.map((d) => `'${d}'`).join(', ');
          const sql = `SELECT ${grouped ? 'sex, ' : ''}COUNT(*), SUM(income), SUM(balance) FROM residents WHERE age BETWEEN ${Math.min(a, b)} AND ${Math.max(a, b)} AND district IN (${list})${grouped ? ' GROUP BY sex' : ''}`;
          await expectMatchesPlaintext(sql);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('an ungrouped query that matches nothing has its one row withheld, not silently missing', async () => {
    const result = await coordinator.query('SELECT COUNT(*), AVG(income) FROM residents WHERE age > 120');
    expect(result.rows).toEqual([]);
    expect(result.suppressed).toBe(1);
    const grouped = await coordinator.query('SELECT sex, COUNT(*) FROM residents WHERE age > 120 GROUP BY sex');
    expect(grouped.rows).toEqual([]);
    expect(grouped.suppressed).toBe(0);
  });

  it('suppresses small groups and counts them', async () => {
    const strict = await createTestFederation({
      agencies: 2,
      rowsPerAgency: 60,
      minAgencies: 2,
      minGroupSize: 15,
      skew: 2,
    });
    try {
      for (const id of strict.ids) await strict.start(id);
      await using c = await strict.coordinator();
      const result = await c.query('SELECT district, sex, COUNT(*) FROM residents GROUP BY district, sex');
      const expected = await referenceRows(
        result.plan,
        datasetSchemaOf(strict.federation, 'residents'),
        strict.ids.map((id) => strict.csvFiles[id]!),
        strict.federation.policy,
      );
      expect(expected.suppressed).toBeGreaterThan(0);
      expect(result.suppressed).toBe(expected.suppressed);
      expect(compareRows(result.rows, expected.rows)).toBeNull();
    } finally {
      await strict.close();
    }
  });

  it('reports malformed SQL with its position and unknown columns with the valid names', async () => {
    const syntax = await coordinator.query('SELECT district COUNT(*) FORM residents').catch((e: unknown) => e);
    expect(syntax).toBeInstanceOf(FedstatError);
    expect((syntax as FedstatError).code).toBe('QUERY_SYNTAX');
    expect((syntax as FedstatError).details).toHaveProperty('column');
    const unknown = await coordinator.query('SELECT SUM(incme) FROM residents').catch((e: unknown) => e);
    expect((unknown as FedstatError).code).toBe('QUERY_INVALID');
    expect((unknown as FedstatError).message).toMatch(/income/);
  });
});

describe('misbehaving and missing agencies', () => {
  it('names an agency that is down and releases over those that answered', async () => {
    await tf.stop('agency-3');
    try {
      const result = await coordinator.query('SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district');
      expect(result.agencies.failed.map((f) => [f.id, f.code])).toEqual([['agency-3', 'UNAVAILABLE']]);
      const expected = await referenceRows(
        result.plan,
        datasetSchemaOf(tf.federation, 'residents'),
        [tf.csvFiles['agency-1']!, tf.csvFiles['agency-2']!, tf.csvFiles['agency-4']!],
        tf.federation.policy,
      );
      expect(compareRows(result.rows, expected.rows)).toBeNull();
      const strict = await coordinator
        .query('SELECT COUNT(*) FROM residents', { requireAll: true })
        .catch((e: unknown) => e);
      expect((strict as FedstatError).code).toBe('POLICY_REFUSED');
      expect((strict as FedstatError).message).toContain('agency-3');
    } finally {
      await start('agency-3');
    }
  });

  it('refuses a release below minAgencies and says which agencies failed', async () => {
    for (const id of ['agency-2', 'agency-3', 'agency-4']) await tf.stop(id);
    try {
      const err = await coordinator.query('SELECT COUNT(*) FROM residents').catch((e: unknown) => e);
      expect((err as FedstatError).code).toBe('POLICY_REFUSED');
      expect((err as FedstatError).message).toMatch(/agency-2.*agency-3.*agency-4/);
    } finally {
      for (const id of ['agency-2', 'agency-3', 'agency-4']) await start(id);
    }
  });

  const misbehaviours: [string, (p: Uint8Array[]) => Uint8Array[], boolean, RegExp][] = [
    ['a truncated ciphertext (validly signed)', (p) => [p[0]!.subarray(0, p[0]!.length >> 1)], true, /.+/],
    ['random bytes as ciphertext (validly signed)', (p) => [new Uint8Array(p[0]!.length).fill(7)], true, /.+/],
    [
      'a bit flipped after signing',
      (p) => {
        const c = Uint8Array.from(p[0]!);
        c[c.length - 9]! ^= 1;
        return [c];
      },
      false,
      /signature/,
    ],
    ['too many ciphertexts', (p) => [...p, ...p], true, /ciphertexts/],
  ];
  for (const [what, corrupt, resign, message] of misbehaviours) {
    it(`names an agency sending ${what} and keeps the total exact over the others`, async () => {
      await tf.stop('agency-2');
      await start('agency-2', corrupting('agency-2', corrupt, resign));
      try {
        const result = await coordinator.query(
          'SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district',
        );
        expect(result.agencies.failed).toHaveLength(1);
        expect(result.agencies.failed[0]!.id).toBe('agency-2');
        expect(result.agencies.failed[0]!.code).toBe('BAD_MESSAGE');
        expect(result.agencies.failed[0]!.reason).toMatch(message);
        const expected = await referenceRows(
          result.plan,
          datasetSchemaOf(tf.federation, 'residents'),
          [tf.csvFiles['agency-1']!, tf.csvFiles['agency-3']!, tf.csvFiles['agency-4']!],
          tf.federation.policy,
        );
        expect(compareRows(result.rows, expected.rows)).toBeNull();
      } finally {
        await tf.stop('agency-2');
        await start('agency-2');
      }
    });
  }

  it('names an agency whose answer exceeds the message size limit', async () => {
    await tf.stop('agency-2');
    await start(
      'agency-2',
      corrupting('agency-2', (p) => Array.from({ length: 40 }, () => p[0]!), true),
    );
    try {
      const result = await coordinator.query('SELECT COUNT(*) FROM residents');
      expect(result.agencies.failed.map((f) => [f.id, f.code])).toEqual([['agency-2', 'MESSAGE_TOO_LARGE']]);
      expect(result.agencies.answered).toEqual(['agency-1', 'agency-3', 'agency-4']);
    } finally {
      await tf.stop('agency-2');
      await start('agency-2');
    }
  });

  it('an agency survives garbage bytes on the wire and keeps serving', async () => {
    const endpoint = tf.federation.parties.find((p) => p.id === 'agency-1')!.endpoint!;
    const def = agencyServiceDefinition();
    const garbage = { ...def, Aggregate: { ...def['Aggregate']!, requestSerialize: (b: Buffer) => b } };
    const Ctor = makeGenericClientConstructor(garbage, 'Agency');
    // Without a certificate from the federation CA nothing gets through: the TLS handshake fails.
    const stranger = new Ctor(endpoint, credentials.createInsecure());
    const refused = await new Promise<ServiceError | null>((resolve) => {
      (stranger as unknown as Record<string, (r: Buffer, o: object, cb: (e: ServiceError | null) => void) => void>)[
        'Aggregate'
      ]!.call(stranger, Buffer.from([1]), { deadline: new Date(Date.now() + 5000) }, (e) => resolve(e));
    });
    stranger.close();
    expect(refused?.code).toBe(status.UNAVAILABLE);
    // The coordinator's own certificate gets the bytes to the agency, which must survive them.
    const coordinatorSecrets = loadKeyFile(tf.keyFiles['coordinator']!, tf.federation);
    const client = new Ctor(
      endpoint,
      channelCredentials(tf.federation, coordinatorSecrets, { insecure: false, endpointHost: '127.0.0.1' }),
      channelOptionsFor('agency-1'),
    );
    try {
      // Malformed protobuf, random bytes, an empty message, and 8 MiB: more than any request may be.
      for (const bytes of [Buffer.from([0xff, 0xff, 0xff]), randomBytes(1000), Buffer.alloc(0), randomBytes(8 << 20)]) {
        const err = await new Promise<ServiceError | null>((resolve) => {
          (client as unknown as Record<string, (r: Buffer, o: object, cb: (e: ServiceError | null) => void) => void>)[
            'Aggregate'
          ]!.call(client, bytes, { deadline: new Date(Date.now() + 5000) }, (e) => resolve(e));
        });
        expect(err).not.toBeNull();
        if (bytes.length > 4 << 20) expect(err!.code).toBe(status.RESOURCE_EXHAUSTED);
      }
    } finally {
      client.close();
    }
    const result = await coordinator.query('SELECT COUNT(*) FROM residents');
    expect(result.agencies.answered).toEqual(['agency-1', 'agency-2', 'agency-3', 'agency-4']);
  });

  it('agencies refuse replayed, forged and plaintext-mode queries', async () => {
    let captured: SignedQuery | undefined;
    await tf.stop('agency-1');
    await start('agency-1', (a) => ({
      ...a,
      answer: async (q) => {
        captured = q;
        return a.answer(q);
      },
    }));
    const coordinatorSecrets = loadKeyFile(tf.keyFiles['coordinator']!, tf.federation);
    const link = new GrpcAgencyLink(
      'agency-1',
      tf.federation.parties.find((p) => p.id === 'agency-1')!.endpoint!,
      channelCredentials(tf.federation, coordinatorSecrets, { insecure: false, endpointHost: '127.0.0.1' }),
    );
    try {
      await coordinator.query('SELECT COUNT(*) FROM residents');
      expect(captured).toBeDefined();
      const answered = captured!;
      const replay = await link.aggregate(answered, 5_000).catch((e: unknown) => e);
      expect((replay as FedstatError).code).toBe('REPLAY');

      const forger = loadKeyFile(tf.keyFiles['agency-2']!, tf.federation); // any key but the coordinator's
      const forged = {
        bytes: captured!.bytes,
        signature: sign(queryDigest(captured!.bytes), forger.signing.secretKey),
      };
      const bad = await link.aggregate(forged, 5_000).catch((e: unknown) => e);
      expect((bad as FedstatError).code).toBe('BAD_MESSAGE');
      expect((bad as FedstatError).message).toMatch(/coordinator/);

      const plain = await coordinator
        .query('SELECT COUNT(*) FROM residents', { mode: 'plaintext' })
        .catch((e: unknown) => e);
      expect((plain as FedstatError).code).toBe('POLICY_REFUSED');
      expect((plain as FedstatError).message).toMatch(/plaintext answers are disabled/);

      // A restarted agency has forgotten the ids it answered; it refuses any query issued before it started.
      await tf.stop('agency-1');
      await start('agency-1');
      const afterRestart = await link.aggregate(answered, 5_000).catch((e: unknown) => e);
      expect((afterRestart as FedstatError).code).toBe('REPLAY');
      expect((afterRestart as FedstatError).message).toMatch(/issued before the agency \(re\)started/);
    } finally {
      link.close();
      await tf.stop('agency-1');
      await start('agency-1');
    }
  });

  it('plaintext benchmark mode gives the same totals when agencies opt in', async () => {
    for (const id of tf.ids) {
      await tf.stop(id);
      await start(id, undefined, { allowPlaintextMode: true });
    }
    try {
      const sql = 'SELECT district, COUNT(*), SUM(income), SUM(balance) FROM residents GROUP BY district';
      const plain = await coordinator.query(sql, { mode: 'plaintext' });
      const encrypted = await coordinator.query(sql);
      expect(plain.rows).toEqual(encrypted.rows);
    } finally {
      for (const id of tf.ids) {
        await tf.stop(id);
        await start(id);
      }
    }
  });
});
