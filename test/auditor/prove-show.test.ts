/**
 * Proofs and the readable table. proveEntry's streamed audit path equals RFC 9162's PATH from the
 * independent recursive reference for every entry under heads of several sizes; a third party's
 * checkEntryProof accepts it and refuses any altered entry, path, index, size or head. auditRows
 * reads what each entry says, with the dataset taken from its query, filters by agency and
 * dataset, and marks forged entries when given the federation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/transparency/events.js';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { isFedstatError } from '../../src/errors.js';
import { partyOfRole } from '../../src/federation/federation.js';
import { checkEntryProof, proveEntry, type EntryProofJson } from '../../src/auditor/prove.js';
import { auditRows, type AuditRow } from '../../src/auditor/show.js';
import { hashLeaf } from '../../src/merkle/merkle-hash.js';
import { createAuditFixture, queryEvents, type AuditFixture } from './audit-fixture.js';
import { hex, refLeafHash, refPath } from '../merkle/merkle-reference.js';

let fx: AuditFixture;
beforeAll(async () => {
  fx = await createAuditFixture();
}, 60_000);
afterAll(() => fx.close());
const T = 1_800_000_000_000;
const opts = () => ({ coordinator: fx.coordinator, keyAuthority: fx.keyAuthority });

describe('proveEntry / checkEntryProof', () => {
  it('give the reference audit path for every entry under heads of sizes 1..37, and a third party accepts it', async () => {
    const events = [
      ...queryEvents('q1', ['a1', 'a2'], T, opts()),
      ...queryEvents('q2', ['a1', 'a2', 'a3'], T, opts()),
      ...queryEvents('q3', ['a2', 'a3'], T, opts()),
      ...queryEvents('q4', ['a1', 'a3'], T, opts()),
    ].slice(0, 37);
    const entries = events.map((e) => fx.entry(e.event, e.author));
    const { file, heads } = await fx.writeLog('prove.tlog', entries);
    const leaves = entries.map(refLeafHash);
    const key = partyOfRole(fx.federation, 'coordinator').signingKey;
    for (const size of [1, 2, 3, 7, 8, 13, 32, 37]) {
      const head = heads[size - 1]!;
      expect(head.size).toBe(size);
      for (let i = 0; i < size; i++) {
        const proof = await proveEntry(file, i, head, key);
        expect(proof.auditPath).toEqual(refPath(i, leaves.slice(0, size)).map(hex));
        expect(proof.leafHash).toBe(hex(leaves[i]!));
        expect(proof.entry).toBe(hex(entries[i]!));
        expect(checkEntryProof(JSON.parse(JSON.stringify(proof)), key)).toEqual({ ok: true });
      }
    }
  });

  it('refuse altered proofs, a foreign key, and entries beyond the head', async () => {
    const entries = queryEvents('q1', ['a1', 'a2'], T, opts()).map((e) => fx.entry(e.event, e.author));
    const { file, head } = await fx.writeLog('prove2.tlog', entries);
    const key = partyOfRole(fx.federation, 'coordinator').signingKey;
    const proof = await proveEntry(file, 5, head, key);
    const flip = (h: string): string => (h[0] === '0' ? '1' : '0') + h.slice(1);
    const bad: unknown[] = [
      { ...proof, entry: flip(proof.entry) },
      { ...proof, auditPath: [flip(proof.auditPath[0]!), ...proof.auditPath.slice(1)] },
      { ...proof, auditPath: proof.auditPath.slice(1) },
      { ...proof, auditPath: [...proof.auditPath, proof.auditPath[0]] },
      { ...proof, index: 4 },
      { ...proof, index: 6 },
      { ...proof, treeHead: { ...proof.treeHead, size: head.size + 1 } },
      { ...proof, treeHead: { ...proof.treeHead, rootHash: flip(proof.treeHead.rootHash) } },
      { ...proof, auditPath: 'x' },
      null,
      'proof',
    ];
    for (const p of bad) expect(checkEntryProof(p, key).ok).toBe(false);
    expect(checkEntryProof(proof, signingKeyPairFromSeed(new Uint8Array(32).fill(4)).publicKey).ok).toBe(false);
    const e = await proveEntry(file, head.size, head, key).catch((x: unknown) => x);
    expect(isFedstatError(e, 'NOT_FOUND')).toBe(true);
    // A head that does not match the file (signed by someone else) is refused, not proven against.
    const wrong = await proveEntry(file, 0, head, signingKeyPairFromSeed(new Uint8Array(32).fill(4)).publicKey).catch(
      (x: unknown) => x,
    );
    expect(isFedstatError(wrong, 'DATA_INVALID')).toBe(true);
  });

  it('prove the leaf hash is SHA-256(0x00 ‖ entry bytes)', async () => {
    const entries = [fx.entry({ type: 'refusal', at: T, queryId: 'q', agencyId: 'a1', reason: 'r' }, 'a1')];
    const { file, head } = await fx.writeLog('prove3.tlog', entries);
    const proof: EntryProofJson = await proveEntry(file, 0, head, partyOfRole(fx.federation, 'coordinator').signingKey);
    expect(proof.auditPath).toEqual([]);
    expect(proof.leafHash).toBe(hex(hashLeaf(entries[0]!)));
    expect(proof.treeHead.rootHash).toBe(proof.leafHash); // a one-entry tree's root is its leaf
  });
});

describe('auditRows', () => {
  const collect = async (file: string, o: Parameters<typeof auditRows>[1] = {}): Promise<AuditRow[]> => {
    const rows: AuditRow[] = [];
    for await (const r of auditRows(file, o)) rows.push(r);
    return rows;
  };

  it('show each entry with its time, author, query, dataset and summary; filter by agency and dataset; mark forgeries', async () => {
    const events = [
      ...queryEvents('q1', ['a1', 'a2'], T, opts()),
      ...queryEvents('q2', ['a2', 'a3'], T + 1000, { ...opts(), dataset: 'firms', rho: '1/3' }),
    ];
    const entries = events.map((e) => fx.entry(e.event, e.author));
    const forged: AuditEvent = { type: 'refusal', at: T, queryId: 'q2', agencyId: 'a1', reason: 'no' };
    entries.push(
      fx.entry(forged, 'a1', fx.keys.get('a2')),
      new Uint8Array(Buffer.from('not an entry at all, long enough to pass the length check'.repeat(3))),
    );
    const { file } = await fx.writeLog('show.tlog', entries);
    const all = await collect(file);
    expect(all.map((r) => r.index)).toEqual(entries.map((_, i) => i));
    expect(all[0]).toEqual({
      index: 0,
      time: new Date(T).toISOString(),
      kind: 'query',
      who: fx.coordinator,
      queryId: 'q1',
      dataset: 'residents',
      what: 'asked a1,a2: SELECT COUNT(*) FROM residents',
      verified: null,
    });
    const budget = all.find((r) => r.kind === 'budget' && r.queryId === 'q2')!;
    expect([budget.dataset, budget.what]).toEqual(['firms', 'charged rho 1/3 on firms: spent 1/3 of 1']);
    expect(all.find((r) => r.kind === 'release' && r.queryId === 'q1')!.what).toBe(
      'released 2 rows (0 cells suppressed) from a1,a2, rho 0.05',
    );
    expect(all[all.length - 1]!.kind).toBe('malformed');
    const firms = await collect(file, { dataset: 'firms' });
    expect(firms.every((r) => r.queryId === 'q2')).toBe(true);
    expect(firms.length).toBe(events.length - events.filter((e) => e.event.queryId === 'q1').length + 1);
    const a1 = await collect(file, { agency: 'a1' });
    // a1 is named by q1's query, survivors, decryption and release, signs its own entries, and the forged one claims it.
    expect(a1.map((r) => r.index)).toEqual(
      events
        .map((e, i) => [e, i] as const)
        .filter(([e]) => e.event.queryId === 'q1' && e.author !== 'a2')
        .map(([, i]) => i)
        .concat([entries.length - 2]),
    );
    const checked = await collect(file, { federation: fx.federation });
    expect(checked.filter((r) => r.verified === false).map((r) => r.index)).toEqual([
      entries.length - 2,
      entries.length - 1,
    ]);
    expect(checked.filter((r) => r.verified === true).length).toBe(events.length);
  });

  it('show a time beyond what Date represents as its raw number instead of failing', async () => {
    const at = Number.MAX_SAFE_INTEGER;
    const { file } = await fx.writeLog('show-time.tlog', [
      fx.entry({ type: 'refusal', at, queryId: 'q', agencyId: 'a1', reason: 'r' }, 'a1'),
    ]);
    expect((await collect(file))[0]!.time).toBe(`${at} ms`);
  });
});
