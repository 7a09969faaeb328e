/**
 * Agencies and the key authority as witnesses of the transparency log, over real mTLS gRPC with
 * DuckDB files, in a federation whose policy requires the log: every query reaches them with the
 * proof that it is in the log and that the log extends the head they accepted before; their heads
 * follow the log (and survive a restart in their witness files); a forked or shortened log is
 * refused by every one of them and nothing is released; a query sent without its proof is
 * refused; refusals are signed and logged; a remote key authority decrypts only with the proof and
 * returns its signed decryption entry; concurrent queries all get through (stale proofs rebuilt).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/transparency/events.js';
import { connectCoordinator, defaultTransparencyLog } from '../../src/coordinator/connect.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { FedstatError } from '../../src/errors.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { startKeyAuthorityNode } from '../../src/key-authority/node.js';
import { newQueryId, signQuery } from '../../src/protocol/query-envelope.js';
import { verifyAuditLog } from '../../src/auditor/verify.js';
import { openEntry } from '../../src/transparency/log-entry.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { LogWitness } from '../../src/transparency/log-witness.js';
import { readTreeHeadFile, treeHeadFileFor } from '../../src/transparency/tree-head-file.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { channelCredentials } from '../../src/transport/credentials.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

let tf: TestFederation | undefined;
afterEach(async () => {
  await tf?.close();
  tf = undefined;
});

const witnessFile = (f: TestFederation, id: string): string => join(f.dir, `${id}.witness.json`);

/** Starts every agency with a persisted witness and, unless `noBudget` names it, a budget. */
async function startAll(f: TestFederation, noBudget: readonly string[] = []): Promise<void> {
  for (const id of f.ids) {
    const ledger = noBudget.includes(id)
      ? undefined
      : await BudgetLedger.open(join(f.dir, `${id}.ledger`), { budgets: { residents: '2' } });
    await f.start(id, undefined, {
      logWitness: await LogWitness.open(f.federation, `agency ${id}`, witnessFile(f, id)),
      ...(ledger === undefined ? {} : { ledger }),
    });
  }
}

async function heldSizes(f: TestFederation): Promise<number[]> {
  return Promise.all(f.ids.map(async (id) => (await f.agencies.get(id)!.agency.describe()).logHead?.size ?? -1));
}

const DP = { privacy: { rho: '0.1' } } as const;

/** Every entry of the log at `log`, opened (signature checked) with its author's id. */
async function loggedEvents(f: TestFederation, log: string): Promise<{ author: string; event: AuditEvent }[]> {
  const store = await TransparencyLogStore.open(log, {
    logId: f.federation.id,
    secretKey: loadKeyFile(f.keyFiles['coordinator']!, f.federation).signing.secretKey,
  });
  try {
    const out = [];
    for await (const { entry } of store.entries()) {
      const { event, author } = openEntry(entry, f.federation);
      out.push({ author: author.id, event });
    }
    return out;
  } finally {
    await store.close();
  }
}

describe('agencies and the key authority check the log with every request', () => {
  it('every query reaches the agencies with its proof; their heads follow the log and persist; a query without its proof is refused', async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: 40, exactRelease: false, transparencyLog: true });
    await startAll(tf);
    const coordinatorSecrets = loadKeyFile(tf.keyFiles['coordinator']!, tf.federation);
    // The policy requires the log: a coordinator without one explains and dry-runs, but runs no query.
    {
      await using unlogged = await connectCoordinator({ federation: tf.federation, transparencyLog: false });
      expect((await unlogged.dryRun('SELECT COUNT(*) AS n FROM residents', DP)).prediction.enough).toBe(true);
      await expect(unlogged.query('SELECT COUNT(*) AS n FROM residents', DP)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
      });
      expect(existsSync(defaultTransparencyLog(tf.federationFile))).toBe(false);
    }

    const log = defaultTransparencyLog(tf.federationFile);
    let plan;
    {
      await using coordinator = await connectCoordinator({ federation: tf.federation });
      plan = coordinator.plan('SELECT COUNT(*) AS n FROM residents');
      await coordinator.query('SELECT COUNT(*) AS n FROM residents', DP);
      const afterFirst = await heldSizes(tf);
      expect(afterFirst.every((s) => s >= 1)).toBe(true);
      await coordinator.query('SELECT district, COUNT(*) AS n FROM residents GROUP BY district', DP);
      const afterSecond = await heldSizes(tf);
      afterSecond.forEach((s, i) => expect(s).toBeGreaterThan(afterFirst[i]!));
    }
    expect(existsSync(log)).toBe(true);
    // Each agency's witness file holds exactly the head it reports, and the auditor finds every
    // head the agencies accepted consistent with the log.
    const held = await Promise.all(tf.ids.map(async (id) => (await readTreeHeadFile(witnessFile(tf!, id)))[0]!));
    for (const [i, id] of tf.ids.entries()) {
      const reported = (await tf.agencies.get(id)!.agency.describe()).logHead!;
      expect(Buffer.from(held[i]!.rootHash).equals(Buffer.from(reported.rootHash))).toBe(true);
      expect(held[i]!.size).toBe(reported.size);
    }
    const report = await verifyAuditLog(log, {
      federation: tf.federation,
      heads: [...held, ...(await readTreeHeadFile(treeHeadFileFor(log)))],
    });
    expect(report.findings).toEqual([]);
    expect(report.counts).toMatchObject({ query: 2, budget: 6, contribution: 6, decryption: 2, release: 2 });

    // A genuinely signed query sent straight to an agency, without its log proof, is refused.
    const envelope = {
      v: 1 as const,
      queryId: newQueryId(),
      federationId: tf.federation.id,
      paramsId: (await tf.agencies.get('agency-1')!.agency.describe()).paramsId,
      mode: 'encrypted' as const,
      plan,
      agencies: [...tf.ids],
      threshold: 2,
      issuedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      privacy: { rho: '1/10' },
    };
    const link = new GrpcAgencyLink(
      'agency-1',
      tf.federation.parties.find((p) => p.id === 'agency-1')!.endpoint!,
      channelCredentials(tf.federation, coordinatorSecrets, { insecure: false, endpointHost: '127.0.0.1' }),
    );
    try {
      await expect(
        link.aggregate(signQuery(envelope, coordinatorSecrets.signing.secretKey), 10_000),
      ).rejects.toMatchObject({
        code: 'POLICY_REFUSED',
        message: expect.stringMatching(/without a log proof/) as unknown,
      });
    } finally {
      link.close();
    }
  });

  it('a forked or shortened log is refused by every agency, nothing is released, and their heads stay where they were', async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: 40, exactRelease: false, transparencyLog: true });
    await startAll(tf);
    {
      // Two queries: the agencies then hold a head of more entries than a fresh log would have.
      await using coordinator = await connectCoordinator({ federation: tf.federation });
      await coordinator.query('SELECT COUNT(*) AS n FROM residents', DP);
      await coordinator.query('SELECT COUNT(*) AS n FROM residents', DP);
    }
    const before = await Promise.all(
      tf.ids.map(async (id) => (await tf!.agencies.get(id)!.agency.describe()).logHead!),
    );
    const coordinatorKey = loadKeyFile(tf.keyFiles['coordinator']!, tf.federation).signing.secretKey;

    // A fork: another log under the same operator key whose history differs but is longer.
    const forked = join(tf.dir, 'forked.tlog');
    {
      await using store = await TransparencyLogStore.open(forked, {
        logId: tf.federation.id,
        secretKey: coordinatorKey,
      });
      for (let i = 0; i < before[0]!.size + 3; i++)
        await store.append(new TextEncoder().encode(`another history ${i}`));
    }
    {
      await using coordinator = await connectCoordinator({ federation: tf.federation, transparencyLog: forked });
      const failure = await coordinator.query('SELECT COUNT(*) AS n FROM residents', DP).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(FedstatError);
      const failed = (failure as FedstatError).details['failed'] as { id: string; reason: string }[];
      expect(failed.map((f) => f.id).sort()).toEqual([...tf.ids]);
      for (const f of failed) expect(f.reason).toMatch(/does not extend|rewritten/);
    }
    // A shortened log: fewer entries than the heads the agencies hold.
    {
      await using coordinator = await connectCoordinator({
        federation: tf.federation,
        transparencyLog: join(tf.dir, 'short.tlog'),
      });
      const failure = await coordinator.query('SELECT COUNT(*) AS n FROM residents', DP).catch((e: unknown) => e);
      const failed = (failure as FedstatError).details['failed'] as { id: string; reason: string }[];
      expect(failed.map((f) => f.id).sort()).toEqual([...tf.ids]);
      for (const f of failed) expect(f.reason).toMatch(/shown another log/);
    }
    const after = await Promise.all(tf.ids.map(async (id) => (await tf!.agencies.get(id)!.agency.describe()).logHead!));
    after.forEach((h, i) => {
      expect(h.size).toBe(before[i]!.size);
      expect(Buffer.from(h.rootHash).equals(Buffer.from(before[i]!.rootHash))).toBe(true);
    });
    // No budget was spent on the refused queries: the log proof is checked before anything else.
    for (const id of tf.ids) expect((await tf.agencies.get(id)!.agency.describe()).budgets[0]?.charges).toBe(2);
  });

  it('an agency that refuses signs its refusal, and it is in the log the auditor verifies', async () => {
    tf = await createTestFederation({ agencies: 4, rowsPerAgency: 40, exactRelease: false, transparencyLog: true });
    await startAll(tf, ['agency-4']);
    const log = defaultTransparencyLog(tf.federationFile);
    {
      await using coordinator = await connectCoordinator({ federation: tf.federation });
      const result = await coordinator.query('SELECT COUNT(*) AS n FROM residents', DP);
      expect(result.agencies.failed.map((f) => f.id)).toEqual(['agency-4']);
    }
    const report = await verifyAuditLog(log, {
      federation: tf.federation,
      heads: await readTreeHeadFile(treeHeadFileFor(log)),
    });
    expect(report.findings).toEqual([]);
    expect(report.counts).toMatchObject({ query: 1, refusal: 1, contribution: 3, release: 1 });
    const refusals = (await loggedEvents(tf, log)).flatMap(({ author, event }) =>
      event.type === 'refusal' ? [{ author, reason: event.reason }] : [],
    );
    expect(refusals).toEqual([
      { author: 'agency-4', reason: expect.stringMatching(/no privacy budget for dataset residents/) as unknown },
    ]);
  });

  it('a remote key authority decrypts only with the inclusion proof and returns its own signed decryption entry', async () => {
    tf = await createTestFederation({
      agencies: 3,
      rowsPerAgency: 40,
      exactRelease: false,
      transparencyLog: true,
      remoteKeyAuthority: true,
    });
    await startAll(tf);
    const kaWitness = join(tf.dir, 'ka.witness.json');
    const ka = await startKeyAuthorityNode({
      federationFile: tf.federationFile,
      keyFile: tf.keyFiles['key-authority']!,
      logWitnessFile: kaWitness,
    });
    try {
      const log = defaultTransparencyLog(tf.federationFile);
      {
        await using coordinator = await connectCoordinator({ federation: tf.federation });
        await coordinator.query('SELECT COUNT(*) AS n FROM residents', DP);
        await coordinator.query('SELECT district, COUNT(*) AS n FROM residents GROUP BY district', DP);
      }
      const kaHead = (await ka.keyAuthority.describe()).logHead!;
      expect((await readTreeHeadFile(kaWitness))[0]!.size).toBe(kaHead.size);
      const report = await verifyAuditLog(log, {
        federation: tf.federation,
        heads: [kaHead, ...(await readTreeHeadFile(treeHeadFileFor(log)))],
      });
      expect(report.findings).toEqual([]);
      expect(report.counts).toMatchObject({ query: 2, decryption: 2, release: 2 });
      // Every decryption entry in the log is signed by the key authority itself.
      const authors = (await loggedEvents(tf, log))
        .filter(({ event }) => event.type === 'decryption')
        .map(({ author }) => author);
      expect(authors).toEqual(['key-authority', 'key-authority']);
    } finally {
      await ka.close();
    }
  });

  it('concurrent queries through one coordinator all get through: proofs made stale by each other are rebuilt', async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: 40, exactRelease: false, transparencyLog: true });
    await startAll(tf);
    const log = defaultTransparencyLog(tf.federationFile);
    {
      await using coordinator = await connectCoordinator({ federation: tf.federation });
      const results = await Promise.all(
        [0, 1, 2, 3].map(() => coordinator.query('SELECT COUNT(*) AS n FROM residents', DP)),
      );
      for (const r of results) expect(r.agencies.answered).toEqual([...tf.ids]);
    }
    const report = await verifyAuditLog(log, {
      federation: tf.federation,
      heads: await readTreeHeadFile(treeHeadFileFor(log)),
    });
    expect(report.findings).toEqual([]);
    expect(report.counts).toMatchObject({ query: 4, contribution: 12, decryption: 4, release: 4 });
  });
});
