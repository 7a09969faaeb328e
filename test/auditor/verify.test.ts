/**
 * The offline verifier over crafted logs written by the real store with entries signed by the
 * parties of a real federation: a clean log verifies; each policy violation (release without
 * query, double release, too few contributions, overspent budget, hidden charges, decryption
 * without query, …), each forged or wrong-role entry, and each tree-head problem (wrong key,
 * other log, fork, rollback, rewrite since a kept head, truncation, corruption) is reported with
 * the entry it is about. Budget sums are exact: three charges of 1/3 fill a budget of 1 exactly.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/transparency/events.js';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { isFedstatError } from '../../src/errors.js';
import { verifyAuditLog, type AuditReport } from '../../src/auditor/verify.js';
import { hashLeaf } from '../../src/merkle/merkle-hash.js';
import { signTreeHead, type SignedTreeHead } from '../../src/merkle/tree-head.js';
import { createAuditFixture, queryEvents, type AuditFixture } from './audit-fixture.js';

let fx: AuditFixture;
beforeAll(async () => {
  fx = await createAuditFixture();
}, 60_000);
afterAll(() => fx.close());

let n = 0;
const T = 1_800_000_000_000;
const q = (
  id: string,
  agencies: readonly string[] = ['a1', 'a2'],
  extra: Parameters<typeof queryEvents>[3] extends infer O ? Partial<O> : never = {},
) => queryEvents(id, agencies, T, { coordinator: fx.coordinator, keyAuthority: fx.keyAuthority, ...extra });
const sign = (events: readonly { event: AuditEvent; author: string }[]): Uint8Array[] =>
  events.map((e) => fx.entry(e.event, e.author));
const write = (entries: readonly Uint8Array[]) => fx.writeLog(`log-${n++}.tlog`, entries);

async function audit(entries: readonly Uint8Array[], heads?: 'final'): Promise<AuditReport> {
  const { file, head } = await write(entries);
  return verifyAuditLog(file, { federation: fx.federation, ...(heads === 'final' ? { heads: [head] } : {}) });
}
const twoQueries = () => [...q('q1'), ...q('q2', ['a1', 'a2'], { spentBefore: ['1/10', '1/10'] })];
const found = (r: AuditReport): [string, number | null][] => r.findings.map((f) => [f.kind, f.entry]);

describe('verifyAuditLog', () => {
  it('passes a clean log of two queries, with counts, exact budgets and the signed size', async () => {
    const events = [...q('q1'), ...q('q2', ['a1', 'a2', 'a3'], { spentBefore: ['1/10', '1/10', '1/20'] })];
    const r = await audit(sign(events), 'final');
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.size).toBe(events.length);
    expect(r.signedSize).toBe(events.length);
    expect(r.counts).toEqual({
      query: 2,
      contribution: 5,
      refusal: 0,
      survivors: 2,
      unmask: 5,
      decryption: 2,
      budget: 5,
      release: 2,
    });
    expect(r.budgets).toEqual([
      { agency: 'a1', dataset: 'residents', charges: 2, logged: '1/10', spent: '1/10', budget: '1/1' },
      { agency: 'a2', dataset: 'residents', charges: 2, logged: '1/10', spent: '1/10', budget: '1/1' },
      { agency: 'a3', dataset: 'residents', charges: 1, logged: '1/20', spent: '1/20', budget: '1/1' },
    ]);
  });

  it('reports a release without its query, with its index', async () => {
    const events = q('q1').filter((e) => e.event.type !== 'query');
    const r = await audit(sign(events));
    const release = events.findIndex((e) => e.event.type === 'release');
    const decryption = events.findIndex((e) => e.event.type === 'decryption');
    expect(found(r)).toContainEqual(['release-without-query', release]);
    expect(found(r)).toContainEqual(['decryption-without-query', decryption]);
    expect(r.ok).toBe(false);
  });

  it('reports a query released twice and decrypted twice', async () => {
    const events = q('q1');
    const again = [events.find((e) => e.event.type === 'decryption')!, events.find((e) => e.event.type === 'release')!];
    const r = await audit(sign([...events, ...again]));
    expect(found(r)).toEqual([
      ['decrypted-twice', events.length],
      ['released-twice', events.length + 1],
    ]);
  });

  it('reports a release with fewer contributions than minAgencies, and contributors that never contributed', async () => {
    const events = q('q1', ['a1', 'a2']).filter((e) => !(e.event.type === 'contribution' && e.event.agencyId === 'a2'));
    const r = await audit(sign(events));
    const release = events.length - 1;
    expect(found(r)).toEqual([
      ['too-few-contributions', release],
      ['unbacked-contributor', release],
    ]);
    expect(r.findings[0]!.message).toMatch(/1 logged contribution.*at least 2/);
  });

  it('reports a release before its contributions were logged', async () => {
    const events = q('q1');
    const release = events.pop()!;
    const firstContribution = events.findIndex((e) => e.event.type === 'contribution');
    events.splice(firstContribution, 0, release);
    const r = await audit(sign(events));
    expect(found(r)).toContainEqual(['too-few-contributions', firstContribution]);
  });

  it('sums budgets exactly: three charges of 1/3 fill a budget of 1, a fourth overspends it', async () => {
    const third = (id: string, spent: string) => q(id, ['a1', 'a2'], { rho: '1/3', spentBefore: [spent, spent] });
    const ok = [...third('q1', '1/3'), ...third('q2', '2/3'), ...third('q3', '1/1')];
    expect((await audit(sign(ok))).findings).toEqual([]);
    // The fourth charge is logged honestly (spent 4/3): the agency's own record exceeds its budget.
    const over = [...ok, ...third('q4', '4/3')];
    const r = await audit(sign(over));
    const budgets = over
      .map((e, i) => [e, i] as const)
      .filter(([e]) => e.event.type === 'budget' && e.event.queryId === 'q4')
      .map(([, i]) => i);
    expect(found(r)).toEqual(budgets.map((i) => ['budget-exceeded', i]));
    expect(r.findings[0]!.message).toMatch(/a1 on residents reports spent 4\/3 over its budget 1/);
  });

  it('reports an overspend the agency hid by under-reporting, and charges missing from the log', async () => {
    // a1 claims spent 1/2 after charges of 1/2 + 1/2 + 1/2 (the log sums to 3/2 > 1).
    const events = [
      ...q('q1', ['a1', 'a2'], { rho: '1/2', spentBefore: ['1/2', '1/2'] }),
      ...q('q2', ['a1', 'a2'], { rho: '1/2', spentBefore: ['1/2', '1/1'] }),
      ...q('q3', ['a1', 'a2'], { rho: '1/2', spentBefore: ['1/2', '3/2'] }),
    ];
    const r = await audit(sign(events));
    const idx = (id: string, a: string): number =>
      events.findIndex((e) => e.event.type === 'budget' && e.event.queryId === id && e.event.agencyId === a);
    expect(found(r).sort()).toEqual(
      (
        [
          ['budget-gap', idx('q2', 'a1')], // spent stayed 1/2 after a charge of 1/2
          ['budget-exceeded', idx('q3', 'a1')],
          ['budget-gap', idx('q3', 'a1')],
          ['budget-exceeded', idx('q3', 'a2')],
        ] as [string, number][]
      ).sort(),
    );
    expect(r.findings.find((f) => f.kind === 'budget-exceeded' && f.entry === idx('q3', 'a1'))!.message).toMatch(
      /add up to 1.5, over its budget 1$/,
    );
    // A jump in spent between two logged charges: a charge the log does not show.
    const hidden = [...q('q1'), ...q('q2', ['a1', 'a2'], { spentBefore: ['3/20', '1/10'] })];
    const r2 = await audit(sign(hidden));
    expect(found(r2)).toEqual([
      ['budget-gap', hidden.findIndex((e) => e.event.type === 'budget' && e.event.queryId === 'q2')],
    ]);
  });

  it("reports a wrong-role signer and an agency signing in another's name, and does not count them", async () => {
    const events = q('q1');
    const i = events.findIndex((e) => e.event.type === 'decryption');
    events[i] = { ...events[i]!, author: fx.coordinator }; // the coordinator claims a decryption
    const c = events.findIndex((e) => e.event.type === 'contribution' && e.event.agencyId === 'a2');
    events[c] = { ...events[c]!, author: 'a1' }; // a1 contributes in a2's name
    const r = await audit(sign(events));
    expect(found(r)).toEqual([
      ['wrong-author', c],
      ['wrong-author', i],
      ['too-few-contributions', events.length - 1],
      ['unbacked-contributor', events.length - 1],
    ]);
    expect(r.counts.decryption).toBe(0);
  });

  it('reports a forged signature and an unknown author by index, and ignores those entries', async () => {
    const entries = sign(q('q1'));
    const forger = signingKeyPairFromSeed(new Uint8Array(32).fill(7)).secretKey;
    const release = entries.length - 1;
    const ev = q('q1')[release]!;
    entries[release] = fx.entry(ev.event, ev.author, forger);
    const extra = fx.entry({ type: 'refusal', at: T, queryId: 'q1', agencyId: 'a9', reason: 'x' }, 'a9', forger);
    const r = await audit([...entries, extra]);
    expect(found(r)).toEqual([
      ['bad-signature', release],
      ['unknown-author', entries.length],
    ]);
    expect(r.counts.release).toBe(0);
  });

  it('reports entries about queries the log never showed, and agencies that were not asked', async () => {
    const events = q('q1', ['a1', 'a2']);
    const late = {
      author: 'a3',
      event: { type: 'contribution' as const, at: T, queryId: 'q1', agencyId: 'a3', digest: '00'.repeat(32) },
    };
    const ghost = {
      author: 'a1',
      event: { type: 'contribution' as const, at: T, queryId: 'q7', agencyId: 'a1', digest: '00'.repeat(32) },
    };
    const r = await audit(sign([...events, late, ghost, events[0]!]));
    expect(found(r)).toEqual([
      ['not-asked', events.length],
      ['unknown-query', events.length + 1],
      ['duplicate-query', events.length + 2],
    ]);
  });

  it('checks tree heads: operator key, log id, fork, rollback, consistency with a kept head, truncation', async () => {
    const entries = sign(twoQueries());
    const { file, heads } = await write(entries);
    const early = heads[4]!;
    const final = heads[heads.length - 1]!;
    const run = (o: { heads?: SignedTreeHead[]; since?: SignedTreeHead[] }) =>
      verifyAuditLog(file, { federation: fx.federation, ...o });
    const ok = await run({ heads: [final], since: [early] });
    expect(ok.findings).toEqual([]);
    expect([ok.headsVerified, ok.signedSize]).toEqual([2, entries.length]);
    const coordKey = fx.keys.get(fx.coordinator)!;
    const resign = (h: SignedTreeHead, change: Partial<SignedTreeHead>, key = coordKey) =>
      signTreeHead({ ...h, ...change }, key);
    const other = signingKeyPairFromSeed(new Uint8Array(32).fill(9)).secretKey;
    expect(found(await run({ heads: [resign(final, {}, other)] }))).toEqual([['head-signature', null]]);
    expect(found(await run({ heads: [resign(final, { logId: 'another-federation' })] }))).toEqual([
      ['head-other-log', null],
    ]);
    const forked = resign(early, { rootHash: new Uint8Array(32).fill(1) });
    expect(found(await run({ heads: [forked], since: [early] }))).toEqual([
      ['fork', null],
      ['root-mismatch', null],
    ]);
    expect(found(await run({ heads: [early], since: [heads[6]!] }))).toEqual([['rollback', null]]);
    expect(found(await run({ since: [forked] }))).toEqual([['inconsistent', null]]);
    // The operator later serves a shorter file than a head it signed.
    const short = await write(entries.slice(0, 10));
    const r = await verifyAuditLog(short.file, { federation: fx.federation, heads: [final] });
    expect(found(r)).toEqual([['truncated', null]]);
  });

  it('reports a rewritten history: an entry replaced and re-signed by its author, two entries swapped, one deleted', async () => {
    const events = twoQueries();
    const { head } = await write(sign(events));
    const rewritten = [...events];
    rewritten[2] = { ...rewritten[2]!, event: { ...rewritten[2]!.event, at: T + 99 } };
    const { file } = await write(sign(rewritten));
    const r = await verifyAuditLog(file, { federation: fx.federation, heads: [head] });
    expect(found(r)).toEqual([['root-mismatch', null]]);
    // Two genuine entries swapped, or one deleted from the middle: every entry still verifies, the head does not.
    const entries = sign(events);
    const swapped = [...entries];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    const deleted = entries.filter((_, i) => i !== 5);
    for (const log of [swapped, deleted]) {
      const w = await write(log);
      expect(
        found(await verifyAuditLog(w.file, { federation: fx.federation, heads: [head] })).filter(
          ([k]) => k === 'root-mismatch' || k === 'truncated',
        ).length,
      ).toBe(1);
    }
  });

  it('reports a corrupt record by index, notes a torn tail, and refuses a file that is not a log', async () => {
    const entries = sign(q('q1'));
    const { file } = await write(entries);
    const bytes = readFileSync(file);
    const corrupt = join(fx.dir, 'corrupt.tlog');
    // Flip a byte inside record 3's entry (records: 8-byte header, entry, 32-byte hash).
    let off = 16;
    for (let i = 0; i < 3; i++) off += 8 + entries[i]!.length + 32;
    const copy = Buffer.from(bytes);
    copy[off + 8 + 40]! ^= 0x20;
    writeFileSync(corrupt, copy);
    const r = await verifyAuditLog(corrupt, { federation: fx.federation });
    expect(found(r)).toEqual([['corrupt', 3]]);
    expect(r.size).toBe(3);
    appendFileSync(file, Buffer.from([0, 0, 0, 50, 0xff, 0xff, 0xff]));
    const torn = await verifyAuditLog(file, { federation: fx.federation });
    expect([torn.ok, torn.tornBytes]).toEqual([true, 7]);
    writeFileSync(join(fx.dir, 'notes.txt'), 'hello');
    const e = await verifyAuditLog(join(fx.dir, 'notes.txt'), { federation: fx.federation }).catch((x: unknown) => x);
    expect(isFedstatError(e, 'DATA_INVALID')).toBe(true);
    const missing = await verifyAuditLog(join(fx.dir, 'none.tlog'), { federation: fx.federation }).catch(
      (x: unknown) => x,
    );
    expect(isFedstatError(missing, 'IO')).toBe(true);
  });

  it('keeps at most maxFindings in full but counts them all', async () => {
    const forger = signingKeyPairFromSeed(new Uint8Array(32).fill(7)).secretKey;
    const entries = q('q1').map((e) => fx.entry(e.event, e.author, forger));
    const { file } = await write(entries);
    const r = await verifyAuditLog(file, { federation: fx.federation, maxFindings: 3 });
    expect([r.findings.length, r.findingCount]).toEqual([3, entries.length]);
  });

  it('catches an attacker who changes one byte of an entry and rewrites its checksum: the entry by index, and the head', async () => {
    const entries = sign(q('q1'));
    const { file, head } = await write(entries);
    const original = readFileSync(file);
    const offsets: number[] = [];
    for (let off = 16, i = 0; i < entries.length; off += 8 + entries[i]!.length + 32, i++) offsets.push(off);
    const tampered = join(fx.dir, 'tampered.tlog');
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: entries.length - 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (i, pos, x) => {
          const entry = Uint8Array.from(entries[i]!);
          entry[pos % entry.length]! ^= x;
          const copy = Buffer.from(original);
          copy.set(entry, offsets[i]! + 8);
          copy.set(hashLeaf(entry), offsets[i]! + 8 + entry.length); // a consistent record: only signatures and heads can tell
          writeFileSync(tampered, copy);
          const r = await verifyAuditLog(tampered, { federation: fx.federation, heads: [head] });
          const kinds = r.findings.filter((f) => f.entry === i).map((f) => f.kind);
          expect(kinds.length, `byte ${pos % entry.length} of entry ${i}`).toBeGreaterThan(0);
          expect(['malformed', 'bad-signature', 'unknown-author']).toContain(kinds[0]);
          expect(found(r)).toContainEqual(['root-mismatch', null]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
