/**
 * The coordinator as the operator of a transparency log, over real mTLS gRPC: every query, each
 * agency's own signed entries (budget charge, contribution), the survivor set, the in-process key
 * authority's decryption and the release land in the log, durably, before the result is
 * returned; the auditor's verifier accepts the log and its published head; a changed byte is
 * caught; and an agency that sends a log entry that is not its own record loses its contribution.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agency } from '../../src/agency/agency.js';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { verifyAuditLog } from '../../src/auditor/verify.js';
import { entryFromEvent } from '../../src/transparency/log-entry.js';
import { readTreeHeadFile, treeHeadFileFor } from '../../src/transparency/tree-head-file.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

let tf: TestFederation | undefined;
afterEach(async () => {
  await tf?.close();
  tf = undefined;
});

async function startWithBudget(f: TestFederation, id: string, wrap?: (a: Agency) => Agency): Promise<void> {
  const ledger = await BudgetLedger.open(join(f.dir, `${id}.ledger`), { budgets: { residents: '1' } });
  await f.start(id, wrap, { ledger });
}

describe('the transparency log, operated by the coordinator', () => {
  it('holds every query, contribution, budget charge, survivor set, decryption and release, and verifies', async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: 60 });
    for (const id of tf.ids) await startWithBudget(tf, id);
    const log = join(tf.dir, 'federation', 'audit.tlog');
    {
      await using coordinator = await connectCoordinator({ federation: tf.federation, transparencyLog: log });
      await coordinator.query('SELECT district, COUNT(*) AS n FROM residents GROUP BY district', {
        privacy: { rho: '0.1' },
      });
      await coordinator.query('SELECT COUNT(*) AS n FROM residents');
    }
    const heads = await readTreeHeadFile(treeHeadFileFor(log));
    const report = await verifyAuditLog(log, { federation: tf.federation, heads });
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({
      query: 2,
      contribution: 6,
      budget: 3,
      survivors: 2,
      decryption: 2,
      release: 2,
    });
    expect(report.signedSize).toBe(report.size);
    expect(report.budgets.map((b) => [b.agency, b.dataset, b.spent])).toEqual(
      tf.ids.map((id) => [id, 'residents', '1/10']),
    );

    // One changed byte anywhere in the entries is caught.
    const bytes = readFileSync(log);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    writeFileSync(log, bytes);
    expect((await verifyAuditLog(log, { federation: tf.federation, heads })).ok).toBe(false);
  });

  it('an agency sending a log entry that is not its own record of the query loses its contribution, named', async () => {
    tf = await createTestFederation({ agencies: 4, rowsPerAgency: 40 });
    for (const id of tf.ids.slice(0, 3)) await startWithBudget(tf, id);
    // agency-4 answers genuinely but slips in an entry claiming another agency's charge.
    const secrets = loadKeyFile(tf.keyFiles['agency-4']!, tf.federation);
    await startWithBudget(tf, 'agency-4', (a) => ({
      ...a,
      describe: () => a.describe(),
      answer: async (q) => {
        const c = await a.answer(q);
        const forged = entryFromEvent(
          { type: 'contribution', at: Date.now(), queryId: c.queryId, agencyId: 'agency-1', digest: '00'.repeat(32) },
          'agency-4',
          secrets.signing.secretKey,
        );
        return { ...c, logEntries: [...(c.logEntries ?? []), forged] };
      },
    }));
    const log = join(tf.dir, 'federation', 'audit.tlog');
    await using coordinator = await connectCoordinator({ federation: tf.federation, transparencyLog: log });
    const result = await coordinator.query('SELECT COUNT(*) AS n FROM residents', { privacy: { rho: '0.1' } });
    expect(result.agencies.answered).toEqual(['agency-1', 'agency-2', 'agency-3']);
    expect(result.agencies.failed.find((f) => f.id === 'agency-4')?.reason).toMatch(
      /log entry that is not its own budget or contribution record/,
    );
    const report = await verifyAuditLog(log, {
      federation: tf.federation,
      heads: await readTreeHeadFile(treeHeadFileFor(log)),
    });
    expect(report.findings).toEqual([]);
    expect(report.counts.contribution).toBe(3);
  });
});
