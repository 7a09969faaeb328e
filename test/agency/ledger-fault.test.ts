/**
 * An agency whose budget ledger cannot be written (a failing or full disk, a file made immutable)
 * refuses DP queries saying why, in its printed events and in the log; reports the fault in
 * Describe, so that `fedstat budget` and dry runs show it and the coordinator stops sending
 * queries bound to fail; and recovers by itself once the file takes writes again.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryAuditSink } from '../../src/transparency/events.js';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { FedstatError } from '../../src/errors.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

let tf: TestFederation | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await tf?.close();
  tf = undefined;
});

const SQL = 'SELECT COUNT(*) AS n FROM residents';
const DP = { privacy: { rho: '0.1' } } as const;

describe('an agency whose ledger cannot be written', () => {
  it('refuses and says why, reports the fault in Describe, and recovers once the file takes writes again', async () => {
    const f = (tf = await createTestFederation({
      agencies: 3,
      rowsPerAgency: 40,
      exactRelease: false,
      transparencyLog: true,
    }));
    // Capture agency-1's ledger handle so that only its writes fail (every FileHandle shares one prototype).
    const open = fsp.open.bind(fsp);
    let handle: FileHandle | undefined;
    const file = join(f.dir, 'agency-1.ledger');
    vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      const h = await open(...args);
      if (args[0] === file) handle = h;
      return h;
    });
    const audit = new MemoryAuditSink();
    for (const id of f.ids) {
      const ledger = await BudgetLedger.open(join(f.dir, `${id}.ledger`), { budgets: { residents: '1' } });
      await f.start(id, undefined, { ledger, ...(id === 'agency-1' ? { audit } : {}) });
    }
    expect(handle).toBeDefined();
    const proto = Object.getPrototypeOf(handle) as { write: FileHandle['write']; truncate: FileHandle['truncate'] };
    let failing = false;
    const eperm = (): Promise<never> =>
      Promise.reject(Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' }));
    for (const method of ['write', 'truncate'] as const) {
      const original = proto[method] as (...a: unknown[]) => Promise<unknown>;
      vi.spyOn(proto, method).mockImplementation(function (this: FileHandle, ...a: unknown[]) {
        return failing && this === handle ? eperm() : original.apply(this, a);
      } as never);
    }

    await using coordinator = await connectCoordinator({ federation: f.federation });
    await coordinator.query(SQL, DP);
    failing = true; // e.g. chattr +i on the ledger: even the rollback is refused
    const e = await coordinator.query(SQL, DP).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FedstatError);
    expect((e as FedstatError).message).toMatch(
      /agency-1 \(agency agency-1 refuses: writing budget ledger .* failed \(EPERM\); nothing was charged/,
    );
    // Said where the operator looks (the agency prints its refusals), and signed into the log.
    expect(audit.events.filter((x) => x.type === 'refusal').map((x) => x.type === 'refusal' && x.reason)).toEqual([
      expect.stringMatching(/failed \(EPERM\)/),
    ]);
    const fault = (await f.agencies.get('agency-1')!.agency.describe()).ledgerFault;
    expect(fault).toMatch(/unknown state after a failed write \(EPERM\)/);
    // The coordinator sees the fault and sends nothing that would make the others spend in vain.
    const before = await Promise.all(
      ['agency-2', 'agency-3'].map(async (id) => (await f.agencies.get(id)!.agency.describe()).budgets[0]!.spent),
    );
    const dry = await coordinator.dryRun(SQL, DP);
    expect(dry.prediction.agencies.find((a) => a.id === 'agency-1')?.refusal).toMatch(
      /its budget ledger cannot charge/,
    );
    await expect(coordinator.query(SQL, DP)).rejects.toThrow(/not sent, nothing spent/);
    const after = await Promise.all(
      ['agency-2', 'agency-3'].map(async (id) => (await f.agencies.get(id)!.agency.describe()).budgets[0]!.spent),
    );
    expect(after).toEqual(before);

    failing = false; // fixed: the next health check rolls the file back and clears the fault
    expect((await f.agencies.get('agency-1')!.agency.describe()).ledgerFault).toBeNull();
    await coordinator.query(SQL, DP);
    expect((await f.agencies.get('agency-1')!.agency.describe()).budgets[0]).toMatchObject({
      charges: 2,
      spent: '1/5',
    });
  }, 120_000);
});
