/**
 * The bound on charges held unlogged: an agency holding MAX_UNLOGGED_ENTRIES (64) charges whose
 * entries the log is not proven to hold refuses to charge again, saying why, while a coordinator
 * that withholds them (here: Describe hides them from it); the next coordinator that sees them
 * logs all 64 before its query and returns 64 receipts over real gRPC, and the agency charges again.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { budgetEntrySigner } from '../../src/agency/charge-log.js';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { MAX_UNLOGGED_ENTRIES } from '../../src/protocol/links.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

let tf: TestFederation | undefined;
afterEach(async () => {
  await tf?.close();
  tf = undefined;
});

const SQL = 'SELECT COUNT(*) AS n FROM residents';
const DP = { privacy: { rho: '0.01' } } as const;

describe('charges held unlogged', () => {
  it('at 64 the agency charges nothing more; the next coordinator logs all 64 and receipts them', async () => {
    const f = (tf = await createTestFederation({
      agencies: 4,
      rowsPerAgency: 30,
      exactRelease: false,
      transparencyLog: true,
    }));
    // agency-1's ledger already holds 64 charges whose signed entries never reached the log.
    const ledger = await BudgetLedger.open(join(f.dir, 'agency-1.ledger'), { budgets: { residents: '10' } });
    const sign = budgetEntrySigner('agency-1', loadKeyFile(f.keyFiles['agency-1']!, f.federation).signing.secretKey);
    for (let i = 0; i < MAX_UNLOGGED_ENTRIES; i++)
      await ledger.charge({ dataset: 'residents', queryId: `earlier-${i}`, rho: '0.01', logEntry: sign });
    let hide = true; // a coordinator that is never shown the held charges cannot log them
    await f.start(
      'agency-1',
      (a) => ({ ...a, describe: async () => ({ ...(await a.describe()), ...(hide ? { unloggedEntries: [] } : {}) }) }),
      { ledger },
    );
    for (const id of ['agency-2', 'agency-3', 'agency-4']) {
      await f.start(id, undefined, {
        ledger: await BudgetLedger.open(join(f.dir, `${id}.ledger`), { budgets: { residents: '10' } }),
      });
    }
    expect((await f.agencies.get('agency-1')!.agency.describe()).unloggedEntries).toHaveLength(MAX_UNLOGGED_ENTRIES);

    await using coordinator = await connectCoordinator({ federation: f.federation });
    const refused = await coordinator.query(SQL, DP); // threshold 3 of 4: released without agency-1
    expect(refused.agencies.failed.map((x) => [x.id, x.code])).toEqual([['agency-1', 'POLICY_REFUSED']]);
    expect(refused.agencies.failed[0]!.reason).toMatch(/64 of its budget charges are not yet in the transparency log/);
    expect(ledger.charges('residents')).toBe(MAX_UNLOGGED_ENTRIES);

    hide = false;
    const released = await coordinator.query(SQL, DP);
    expect(released.agencies.answered).toEqual(f.ids);
    expect(ledger.charges('residents')).toBe(MAX_UNLOGGED_ENTRIES + 1);
    // All 64 were logged and receipted; what is left is this query's own charge, awaiting its receipt.
    expect(ledger.unlogged().map((u) => u.charge.queryId)).toEqual([released.queryId]);
    expect(
      ledger
        .entries()
        .slice(0, MAX_UNLOGGED_ENTRIES)
        .every((c) => ledger.loggedAt(c) !== undefined),
    ).toBe(true);
  }, 120_000);
});
