/**
 * Budget charges checked independently of log order (issue 11, item 1, the auditor's side): a
 * charge that reaches the log late — after later charges of the same agency, after its query's
 * release or failure — is fine as long as its query was logged before it; per agency and dataset
 * the reported totals, ordered, must chain from zero by exactly each charge. Spend no logged
 * charge explains is a `budget-gap` naming the agency, the dataset and the missing amount, also
 * before the first logged charge; a query charged twice is a `duplicate-charge`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/transparency/events.js';
import { verifyAuditLog, type AuditReport } from '../../src/auditor/verify.js';
import { createAuditFixture, queryEvents, type AuditFixture } from './audit-fixture.js';

let fx: AuditFixture;
beforeAll(async () => {
  fx = await createAuditFixture();
}, 60_000);
afterAll(() => fx.close());

const T = 1_800_000_000_000;
let n = 0;
type Ev = { event: AuditEvent; author: string };

const query = (queryId: string, agencies: readonly string[] = ['a1', 'a2']): Ev => ({
  author: fx.coordinator,
  event: {
    type: 'query',
    at: T,
    queryId,
    digest: '11'.repeat(32),
    sql: 'SELECT COUNT(*) FROM residents',
    plan: { dataset: 'residents', groupBy: [] },
    agencies,
  },
});
const charge = (queryId: string, agency: string, rho: string, spent: string, dataset = 'residents'): Ev => ({
  author: agency,
  event: {
    type: 'budget',
    at: T + 1,
    queryId,
    agencyId: agency,
    dataset,
    rho,
    spent,
    budget: '1/1',
    ledgerHead: '22'.repeat(32),
  },
});
/** A complete DP query in which each agency reports the given total after its charge of 1/20. */
const full = (queryId: string, spent: readonly [string, string]): Ev[] =>
  queryEvents(queryId, ['a1', 'a2'], T, {
    coordinator: fx.coordinator,
    keyAuthority: fx.keyAuthority,
    spentBefore: spent,
  });

async function audit(events: readonly Ev[]): Promise<AuditReport> {
  const { file, head } = await fx.writeLog(
    `chain-${n++}.tlog`,
    events.map((e) => fx.entry(e.event, e.author)),
  );
  return verifyAuditLog(file, { federation: fx.federation, heads: [head] });
}
const found = (r: AuditReport): [string, number | null][] => r.findings.map((f) => [f.kind, f.entry]);

describe('budget charges in any order', () => {
  it('accepts a charge delivered late: after later charges of the agency and after its query failed', async () => {
    // q1 failed after round 1: a2's charge was logged with the failure, a1's entry never arrived.
    // q2 ran (a1 now at 2/20), and a1 handed its q1 charge over with a later answer.
    const events = [
      query('q1'),
      charge('q1', 'a2', '1/20', '1/20'),
      ...full('q2', ['1/10', '1/10']),
      charge('q1', 'a1', '1/20', '1/20'),
    ];
    const r = await audit(events);
    expect(r.findings).toEqual([]);
    expect(r.budgets).toEqual([
      { agency: 'a1', dataset: 'residents', charges: 2, logged: '1/10', spent: '1/10', budget: '1/1' },
      { agency: 'a2', dataset: 'residents', charges: 2, logged: '1/10', spent: '1/10', budget: '1/1' },
    ]);
    // Also after its own query's release.
    const afterRelease = [
      ...full('q1', ['1/20', '1/20']).filter((e) => !(e.event.type === 'budget' && e.event.agencyId === 'a1')),
      charge('q1', 'a1', '1/20', '1/20'),
    ];
    const r2 = await audit(afterRelease);
    // The release at ρ 1/20 came before a1's charge was logged: still an unpaid release at that point.
    expect(found(r2)).toEqual([['unpaid-release', afterRelease.length - 2]]);
  });

  it('still requires a late charge to refer to a query logged before it', async () => {
    const events = [...full('q2', ['1/20', '1/20']), charge('q9', 'a1', '1/20', '1/10'), query('q9')];
    const r = await audit(events);
    expect(found(r)).toEqual([['unknown-query', events.length - 2]]);
  });

  it('flags spend before the first logged charge, naming agency, dataset and the amount', async () => {
    // a1 reports 1/10 spent after its only logged charge of 1/20: 1/20 was spent unlogged before.
    const events = [...full('q1', ['1/10', '1/20'])];
    const r = await audit(events);
    const at = events.findIndex((e) => e.event.type === 'budget' && e.event.agencyId === 'a1');
    expect(found(r)).toEqual([['budget-gap', at]]);
    expect(r.findings[0]!.message).toMatch(
      /^a1 on residents: 0\.05 of spent budget that no logged charge explains, before its first logged charge/,
    );
  });

  it('flags a gap between two charges with its amount, wherever the charges are in the log', async () => {
    // a1: 1/20 (q1), then 1/4 after q3's charge of 1/20: 3/20 unexplained between them. Logged in reverse.
    const events = [query('q1'), query('q3'), charge('q3', 'a1', '1/20', '1/4'), charge('q1', 'a1', '1/20', '1/20')];
    const r = await audit(events);
    expect(found(r)).toEqual([['budget-gap', 2]]);
    expect(r.findings[0]!.message).toMatch(
      /^a1 on residents: 0\.15 of spent budget that no logged charge explains, between the charge for query q1 \(entry 3, spent 0\.05\) and this one/,
    );
    // The missing charge arrives late: the chain closes.
    const closed = await audit([...events, query('q2'), charge('q2', 'a1', '3/20', '1/5')]);
    expect(closed.findings).toEqual([]);
  });

  it('keeps datasets and agencies apart, and flags two charges claiming the same spend', async () => {
    const events = [
      query('q1'),
      query('q2'),
      charge('q1', 'a1', '1/20', '1/20'),
      charge('q1', 'a1', '1/10', '1/10', 'firms'),
      charge('q2', 'a1', '1/20', '1/10'),
      charge('q2', 'a2', '1/20', '1/20'),
    ];
    expect((await audit(events)).findings).toEqual([]);
    const overlap = [query('q1'), query('q2'), charge('q1', 'a1', '1/20', '1/20'), charge('q2', 'a1', '1/20', '1/20')];
    const r = await audit(overlap);
    expect(found(r)).toEqual([['budget-gap', 3]]);
    expect(r.findings[0]!.message).toMatch(/already reach 0\.05: two charges claim the same spend/);
  });

  it('flags one query charged twice to one agency and dataset, and counts it once', async () => {
    const first = charge('q1', 'a1', '1/20', '1/20');
    const events = [query('q1'), first, { ...first, event: { ...first.event, at: T + 9 } }, first];
    const r = await audit(events);
    expect(found(r)).toEqual([
      ['duplicate-charge', 2],
      ['duplicate-charge', 3],
    ]);
    expect(r.findings[0]!.message).toMatch(/a1 on residents charged query q1 again \(first at entry 1\)/);
    expect(r.budgets[0]).toMatchObject({ charges: 1, logged: '1/20' });
  });

  it('checks the sum of the charges against the budget in the order of the totals', async () => {
    // Totals 1/2, 1, 3/2 under a budget of 1, logged last first; a1 under-reports the last one.
    const events = [
      query('q1'),
      query('q2'),
      query('q3'),
      charge('q3', 'a1', '1/2', '1/1'),
      charge('q2', 'a1', '1/2', '1/1'),
      charge('q1', 'a1', '1/2', '1/2'),
    ];
    const r = await audit(events);
    expect(found(r).sort()).toEqual([
      ['budget-exceeded', 4],
      ['budget-gap', 4],
    ]);
  });
});
