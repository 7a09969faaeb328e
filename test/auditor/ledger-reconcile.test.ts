/**
 * Reconciling an agency's budget ledger with the log (issue 11, item 1: "the auditor can
 * reconcile one agency's ledger against the log"), on real ledger files written by BudgetLedger:
 * every ledger charge has its budget entry with the same dataset, query, ρ, total spent and
 * ledger head; every logged charge of the agency is in the ledger. The ledger is only read —
 * byte for byte unchanged, torn tail included, also while the agency holds it open — and read
 * exactly as the agency replays it: a corrupt ledger is refused, naming the line.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/transparency/events.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { rhoToString } from '../../src/dp/rho.js';
import { readLedgerCharges, type LedgerCharge } from '../../src/dp/ledger-charges.js';
import { FedstatError } from '../../src/errors.js';
import { verifyAuditLog, type AuditReport } from '../../src/auditor/verify.js';
import { createAuditFixture, type AuditFixture } from './audit-fixture.js';

let fx: AuditFixture;
const dir = mkdtempSync(join(tmpdir(), 'fedstat-ledger-reconcile-'));
beforeAll(async () => {
  fx = await createAuditFixture();
}, 60_000);
afterAll(() => {
  fx.close();
  rmSync(dir, { recursive: true, force: true });
});

const T = 1_800_000_000_000;
let n = 0;
type Ev = { event: AuditEvent; author: string };
const BUDGETS = { budgets: { residents: '1', firms: '1' } };

const query = (queryId: string, dataset = 'residents'): Ev => ({
  author: fx.coordinator,
  event: {
    type: 'query',
    at: T,
    queryId,
    digest: '11'.repeat(32),
    sql: `SELECT COUNT(*) FROM ${dataset}`,
    plan: { dataset, groupBy: [] },
    agencies: ['a1', 'a2'],
  },
});

/** Charges a1's ledger at `file` as the agency does, returning the budget entries it would log. */
async function charged(
  file: string,
  charges: readonly { queryId: string; dataset: string; rho: string }[],
): Promise<Ev[]> {
  const ledger = await BudgetLedger.open(file, BUDGETS);
  try {
    const out: Ev[] = [];
    for (const c of charges) {
      const entry = await ledger.charge({ dataset: c.dataset, queryId: c.queryId, rho: c.rho, at: new Date(T) });
      out.push({
        author: 'a1',
        event: {
          type: 'budget',
          at: T,
          queryId: c.queryId,
          agencyId: 'a1',
          dataset: c.dataset,
          rho: rhoToString(entry.rho),
          spent: rhoToString(ledger.spent(c.dataset)),
          budget: rhoToString(ledger.budget(c.dataset)),
          ledgerHead: ledger.head(),
        },
      });
    }
    return out;
  } finally {
    await ledger.close();
  }
}

async function reconcile(events: readonly Ev[], ledgerFile: string): Promise<AuditReport> {
  const { file } = await fx.writeLog(
    `reconcile-${n++}.tlog`,
    events.map((e) => fx.entry(e.event, e.author)),
  );
  return verifyAuditLog(file, {
    federation: fx.federation,
    ledgers: [{ agency: 'a1', file: ledgerFile, charges: await readLedgerCharges(ledgerFile) }],
  });
}
const found = (r: AuditReport): [string, number | null][] => r.findings.map((f) => [f.kind, f.entry]);
const CHARGES = [
  { queryId: 'q1', dataset: 'residents', rho: '0.05' },
  { queryId: 'q2', dataset: 'firms', rho: '0.1' },
  { queryId: 'q3', dataset: 'residents', rho: '1/3' },
];

describe('reconciling a budget ledger with the log', () => {
  it('matches every charge of an honest agency', async () => {
    const file = join(dir, 'honest.ledger');
    const budget = await charged(file, CHARGES);
    const events = [query('q1'), query('q2', 'firms'), query('q3'), ...budget];
    const r = await reconcile(events, file);
    expect(r.findings).toEqual([]);
    expect(r.ledgers).toEqual([
      {
        agency: 'a1',
        file,
        ledgerCharges: 3,
        loggedCharges: 3,
        matched: 3,
        missingInLog: 0,
        missingInLedger: 0,
        mismatched: 0,
      },
    ]);
  });

  it('reports a ledger charge missing from the log, a logged charge missing from the ledger, and mismatches', async () => {
    const file = join(dir, 'drift.ledger');
    const budget = await charged(file, CHARGES);
    const [b1, b2, b3] = budget as [Ev, Ev, Ev];
    const wrongHead = { ...b2, event: { ...b2.event, ledgerHead: 'ab'.repeat(32) } as AuditEvent };
    const wrongRho = { ...b1, event: { ...b1.event, rho: '1/10', spent: '1/10' } as AuditEvent };
    // q3's charge never reached the log; q4 was logged by a1 but its ledger does not have it.
    const extra: Ev = { author: 'a1', event: { ...b3.event, queryId: 'q4', rho: '1/10', spent: '3/20' } as AuditEvent };
    const events = [query('q1'), query('q2', 'firms'), query('q3'), query('q4'), wrongRho, wrongHead, extra];
    const r = await reconcile(events, file);
    const kinds = found(r).filter(
      ([k]) => k === 'missing-in-log' || k === 'missing-in-ledger' || k === 'ledger-mismatch',
    );
    expect(kinds).toEqual([
      ['ledger-mismatch', 4],
      ['ledger-mismatch', 5],
      ['missing-in-log', null],
      ['missing-in-ledger', 6],
    ]);
    const message = (k: string): string => r.findings.find((f) => f.kind === k)!.message;
    expect(r.findings.find((f) => f.entry === 4 && f.kind === 'ledger-mismatch')!.message).toMatch(
      /charge 1 \(query q1 on residents, rho 0\.05, at 2027-01-15T08:00:00\.000Z\): rho 0\.1 logged, 0\.05 in the ledger; spent 0\.1 logged, 0\.05 in the ledger/,
    );
    expect(r.findings.find((f) => f.entry === 5 && f.kind === 'ledger-mismatch')!.message).toMatch(
      /ledger head abababababab… logged, [0-9a-f]{12}… in the ledger/,
    );
    expect(message('missing-in-log')).toMatch(
      /a1's ledger charge 3 \(query q3 on residents, rho 1\/3, .*\) has no budget entry by a1 in the log/,
    );
    expect(message('missing-in-ledger')).toMatch(
      /a1 logged a charge of rho 0\.1 for query q4 on residents that a1's ledger does not hold/,
    );
    expect(r.ledgers[0]).toMatchObject({
      ledgerCharges: 3,
      loggedCharges: 3,
      matched: 0,
      missingInLog: 1,
      missingInLedger: 1,
      mismatched: 2,
    });
  });

  it('reads the ledger without changing a byte: a torn tail, a charge missing only its newline, a ledger held open', async () => {
    const file = join(dir, 'torn.ledger');
    await charged(file, CHARGES.slice(0, 2));
    const clean = readFileSync(file);
    const charges = await readLedgerCharges(file);
    expect(charges.map((c: LedgerCharge) => [c.seq, c.dataset, c.queryId, c.rho, c.at])).toEqual([
      [1, 'residents', 'q1', '1/20', '2027-01-15T08:00:00.000Z'],
      [2, 'firms', 'q2', '1/10', '2027-01-15T08:00:00.000Z'],
    ]);
    expect(charges.every((c) => /^[0-9a-f]{64}$/.test(c.hash))).toBe(true);
    // A crash mid-append: a torn line is ignored, and the file is left as it is.
    appendFileSync(file, '{"seq":3,"dataset":"resid');
    const torn = readFileSync(file);
    expect((await readLedgerCharges(file)).length).toBe(2);
    expect(readFileSync(file).equals(torn)).toBe(true);
    // A complete last charge without its newline counts, as the agency counts it; still unchanged.
    writeFileSync(file, clean, { mode: 0o600 });
    await charged(file, CHARGES.slice(2));
    const full = readFileSync(file);
    writeFileSync(file, full.subarray(0, full.length - 1), { mode: 0o600 });
    expect((await readLedgerCharges(file)).map((c) => c.queryId)).toEqual(['q1', 'q2', 'q3']);
    expect(readFileSync(file).equals(full.subarray(0, full.length - 1))).toBe(true);
    // The agency holds it open (and locked): the auditor still reads it.
    writeFileSync(file, full, { mode: 0o600 });
    const ledger = await BudgetLedger.open(file, BUDGETS);
    try {
      expect((await readLedgerCharges(file)).length).toBe(3);
    } finally {
      await ledger.close();
    }
  });

  it('refuses a corrupt or missing ledger with the line and the fix, as the agency would', async () => {
    const file = join(dir, 'corrupt.ledger');
    await charged(file, CHARGES);
    const text = readFileSync(file, 'utf8').replace('"rho":"1/10"', '"rho":"1/100"');
    writeFileSync(file, text, { mode: 0o600 });
    const e = await readLedgerCharges(file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FedstatError);
    expect((e as FedstatError).code).toBe('IO');
    expect((e as FedstatError).message).toMatch(
      new RegExp(`budget ledger ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt at line 3`),
    );
    expect(readFileSync(file, 'utf8')).toBe(text);
    const missing = await readLedgerCharges(join(dir, 'absent.ledger')).catch((x: unknown) => x);
    expect([(missing as FedstatError).code, (missing as FedstatError).message]).toEqual([
      'IO',
      expect.stringMatching(/cannot read budget ledger .*absent\.ledger: ENOENT/) as unknown,
    ]);
  });
});
