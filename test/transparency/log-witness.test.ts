/**
 * LogWitness, the head a party keeps of its federation's log, admitting the query proofs the
 * operator sends (buildQueryLogProof) against logs built here entry by entry in real
 * TransparencyLogStores. Every accepted head is compared with the RFC 9162 root recomputed by the
 * reference implementation (merkle-reference.ts) over the entries this test appended; forks are
 * two real stores with one key and one log id that diverge after a shared prefix.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/digest.js';
import { FedstatError, isFedstatError } from '../../src/errors.js';
import type { Federation } from '../../src/federation/federation.js';
import { queryDigest } from '../../src/protocol/query-envelope.js';
import { entryFromEvent } from '../../src/transparency/log-entry.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { LogWitness } from '../../src/transparency/log-witness.js';
import { buildQueryLogProof, type ExpectedQuery, type QueryLogProof } from '../../src/transparency/query-log-proof.js';
import { readTreeHeadFile, writeTreeHeadFile } from '../../src/transparency/tree-head-file.js';
import { encodeSignedTreeHead, signTreeHead, type SignedTreeHead } from '../../src/merkle/tree-head.js';
import { logProofFromWire, logProofToWire } from '../../src/transport/log-proof-messages.js';
import type { LogProofMessage } from '../../src/transport/proto.js';
import { createAuditFixture, type AuditFixture } from '../auditor/audit-fixture.js';
import { refLeafHash, refRoot } from '../merkle/merkle-reference.js';

let fx: AuditFixture;
let coordinatorKey: Uint8Array;
const stores: TransparencyLogStore[] = [];
let names = 0;

beforeAll(async () => {
  fx = await createAuditFixture();
  coordinatorKey = fx.keys.get(fx.coordinator)!;
});

afterAll(async () => {
  for (const s of stores) await s.close();
  fx.close();
});

interface LoggedQuery {
  readonly entry: Uint8Array;
  readonly expected: ExpectedQuery;
  readonly index: number;
}

let querySeq = 0;
/** A query entry as the coordinator logs it: its digest is the envelope digest's hex. */
function queryEntry(author?: string, key?: Uint8Array): { entry: Uint8Array; expected: ExpectedQuery } {
  const queryId = `q${++querySeq}-${randomBytes(4).toString('hex')}`;
  const digest = queryDigest(randomBytes(40));
  const who = author ?? fx.coordinator;
  const entry = entryFromEvent(
    {
      type: 'query',
      at: 1_800_000_000_000 + querySeq,
      queryId,
      digest: toHex(digest),
      sql: 'SELECT district, COUNT(*) FROM residents GROUP BY district',
      plan: { dataset: 'residents', groupBy: ['district'] },
      agencies: ['a1', 'a2'],
    },
    who,
    key ?? fx.keys.get(who)!,
  );
  return { entry, expected: { queryId, queryDigest: digest } };
}

/** Another party's entry (an agency's contribution), to grow the log between queries. */
function contribution(tag: string, agency = 'a1'): Uint8Array {
  return fx.entry(
    {
      type: 'contribution',
      at: 1_800_000_000_000,
      queryId: `fill-${tag}`,
      agencyId: agency,
      digest: toHex(queryDigest(Buffer.from(tag))),
    },
    agency,
  );
}

/** A real log store and the entries appended to it, kept here for the reference root. */
class Log {
  readonly entries: Uint8Array[] = [];
  private constructor(readonly store: TransparencyLogStore) {}

  static async open(logId = fx.federation.id, key = coordinatorKey): Promise<Log> {
    const store = await TransparencyLogStore.open(join(fx.dir, `log-${++names}.fslog`), { logId, secretKey: key });
    stores.push(store);
    return new Log(store);
  }

  async add(entry: Uint8Array): Promise<number> {
    const { index } = await this.store.append(entry);
    this.entries.push(entry);
    return index;
  }

  async fill(n: number, tag: string): Promise<void> {
    for (let i = 0; i < n; i++) await this.add(contribution(`${tag}-${i}`, fx.agencies[i % 3]));
  }

  /** Appends `filler` other entries, then a new query entry. */
  async query(filler = 2, tag = randomBytes(4).toString('hex')): Promise<LoggedQuery> {
    await this.fill(filler, tag);
    const q = queryEntry();
    return { ...q, index: await this.add(q.entry) };
  }

  proof(q: LoggedQuery, from: number): QueryLogProof {
    return buildQueryLogProof(this.store, q.index, q.entry, from, 'a1');
  }

  /** The reference RFC 9162 root of the first `size` entries. */
  root(size = this.entries.length): Uint8Array {
    return refRoot(this.entries.slice(0, size).map(refLeafHash));
  }
}

const bytesOf = (h: SignedTreeHead | undefined): string =>
  h === undefined ? 'none' : Buffer.from(encodeSignedTreeHead(h)).toString('hex');

/** The FedstatError `p` rejects with (fails when it resolves or rejects with anything else). */
async function rejection(p: Promise<unknown>): Promise<FedstatError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FedstatError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

/** A fresh in-memory witness that has accepted the head of `log` at its current size. */
async function witnessAt(log: Log, q: LoggedQuery): Promise<LogWitness> {
  const w = await LogWitness.open(fx.federation, 'a1');
  await w.admit(log.proof(q, 0), q.expected);
  return w;
}

describe('LogWitness: growth', () => {
  it('accepts the first head on its signature, then follows the log query by query', async () => {
    const log = await Log.open();
    const q1 = await log.query(3);
    const w = await LogWitness.open(fx.federation, 'a1');
    expect(w.head).toBeUndefined();
    await w.admit(log.proof(q1, 0), q1.expected);
    expect(w.head?.size).toBe(4);
    expect(w.head?.rootHash).toEqual(log.root());
    expect(bytesOf(w.head)).toBe(bytesOf(log.store.treeHead()));

    for (const filler of [0, 1, 5, 9]) {
      const before = w.head!.size;
      const q = await log.query(filler);
      const proof = log.proof(q, before);
      expect(proof.consistency.length).toBeGreaterThan(0);
      await w.admit(proof, q.expected);
      expect(w.head?.size).toBe(before + filler + 1);
      expect(w.head?.rootHash).toEqual(log.root());
    }

    // A request about an earlier query under the head already held: `from` does not matter.
    const held = bytesOf(w.head);
    const size = w.head!.size;
    const p = log.proof(q1, 0);
    for (const from of [0, 1, size - 1, size, size + 7]) {
      await w.admit({ ...p, from, consistency: [] }, q1.expected);
      await w.admit(
        { ...p, from, consistency: from > 0 && from < size ? log.store.consistencyProof(from, size) : [] },
        q1.expected,
      );
      expect(bytesOf(w.head)).toBe(held);
    }
  });

  it('the operator refuses to build a proof from a size beyond its log', async () => {
    const log = await Log.open();
    const q = await log.query(1);
    const e = (() => {
      try {
        log.proof(q, 3);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(isFedstatError(e, 'BAD_MESSAGE')).toBe(true);
    expect(log.proof(q, 2).consistency).toEqual([]);
  });
});

describe('LogWitness: persistence', () => {
  it('persists the accepted head before admit resolves, and a reopened witness holds and enforces it', async () => {
    const file = join(fx.dir, 'witness-persist.json');
    const log = await Log.open();
    const q1 = await log.query(4);
    const w = await LogWitness.open(fx.federation, 'a1', file);
    expect(existsSync(file)).toBe(false);
    await w.admit(log.proof(q1, 0), q1.expected);
    expect(existsSync(file)).toBe(true);
    const q2 = await log.query(2);
    await w.admit(log.proof(q2, 5), q2.expected);
    const [stored] = await readTreeHeadFile(file);
    expect(bytesOf(stored)).toBe(bytesOf(w.head));

    const again = await LogWitness.open(fx.federation, 'a1', file);
    expect(again.head?.size).toBe(8);
    expect(again.head?.rootHash).toEqual(log.root());
    expect(bytesOf(again.head)).toBe(bytesOf(w.head));

    // It refuses what the first witness refuses: a proof from no head (it is no longer TOFU) ...
    const q3 = await log.query(1);
    for (const witness of [w, again]) {
      expect((await rejection(witness.admit(log.proof(q3, 0), q3.expected))).code).toBe('STALE_HEAD');
    }
    // ... and a fork of the log at the size it holds.
    const fork = await Log.open();
    for (const e of log.entries.slice(0, 5)) await fork.add(e);
    const qf = await fork.query(2);
    expect(fork.store.size).toBe(8);
    for (const witness of [w, again]) {
      const e = await rejection(witness.admit(fork.proof(qf, 8), qf.expected));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.details.problem).toBe('fork');
      expect(bytesOf(witness.head)).toBe(bytesOf(stored));
    }
    expect(bytesOf((await readTreeHeadFile(file))[0])).toBe(bytesOf(stored));
    // The honest continuation is accepted by the reopened one.
    await again.admit(log.proof(q3, 8), q3.expected);
    expect(again.head?.rootHash).toEqual(log.root());
  });

  it('refuses at open a file of another federation, an altered head, or a head not signed by the operator', async () => {
    const log = await Log.open();
    const q = await log.query(2);
    const file = join(fx.dir, 'witness-good.json');
    await (await LogWitness.open(fx.federation, 'a1', file)).admit(log.proof(q, 0), q.expected);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

    const other = await createAuditFixture();
    try {
      // Another federation's witness file, holding a head of its own (validly signed) log.
      const otherLog = await other.writeLog('other.fslog', [
        other.entry({ type: 'contribution', at: 1, queryId: 'x', agencyId: 'a1', digest: 'ab'.repeat(32) }, 'a1'),
      ]);
      const otherFile = join(fx.dir, 'witness-other-fed.json');
      await writeTreeHeadFile(otherFile, otherLog.head);
      expect((await LogWitness.open(other.federation, 'a1', otherFile)).head?.size).toBe(1);
      expect((await rejection(LogWitness.open(fx.federation, 'a1', otherFile))).code).toBe('CONFIG_INVALID');

      // This federation's log id, signed by the other federation's coordinator key.
      const forged = join(fx.dir, 'witness-forged.json');
      await writeTreeHeadFile(forged, signTreeHead({ ...log.store.treeHead() }, other.keys.get(other.coordinator)!));
      expect((await rejection(LogWitness.open(fx.federation, 'a1', forged))).code).toBe('CONFIG_INVALID');
    } finally {
      other.close();
    }

    const sig = json['signature'] as string;
    const root = json['rootHash'] as string;
    const altered: Record<string, unknown>[] = [
      { ...json, signature: (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1) },
      { ...json, rootHash: (root[0] === '0' ? '1' : '0') + root.slice(1) },
      { ...json, size: (json['size'] as number) + 1 },
      { ...json, timestamp: (json['timestamp'] as number) + 1 },
    ];
    for (const [i, bad] of altered.entries()) {
      const f = join(fx.dir, `witness-altered-${i}.json`);
      writeFileSync(f, JSON.stringify(bad));
      expect((await rejection(LogWitness.open(fx.federation, 'a1', f))).code, JSON.stringify(bad)).toBe(
        'CONFIG_INVALID',
      );
    }
    // Two heads in one file are not a witness file either.
    const two = join(fx.dir, 'witness-two.json');
    writeFileSync(two, JSON.stringify([json, json]));
    expect((await rejection(LogWitness.open(fx.federation, 'a1', two))).code).toBe('CONFIG_INVALID');
    // The untouched file still opens.
    expect((await LogWitness.open(fx.federation, 'a1', file)).head?.rootHash).toEqual(log.root());
  });
});

describe('LogWitness: forks, rollback, rewritten history', () => {
  it('refuses the other branch of a fork, at the same size and beyond, and a shrunken log', async () => {
    const a = await Log.open();
    const b = await Log.open();
    const prefix = await a.query(3);
    for (const e of a.entries) await b.add(e);
    expect(b.store.treeHead().rootHash).toEqual(a.store.treeHead().rootHash);
    const qa = await a.query(2, 'branch-a');
    const qb = await b.query(2, 'branch-b');
    expect(a.store.size).toBe(7);
    expect(b.store.size).toBe(7);
    expect(a.root()).not.toEqual(b.root());

    const w = await witnessAt(a, qa);
    const held = bytesOf(w.head);
    const refused = async (p: QueryLogProof, expected: ExpectedQuery, problem: string): Promise<void> => {
      const e = await rejection(w.admit(p, expected));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.details.problem).toBe(problem);
      expect(bytesOf(w.head)).toBe(held);
    };

    // Same size, other root: a fork; also for the shared query, whose inclusion holds on both.
    await refused(b.proof(qb, 7), qb.expected, 'fork');
    await refused({ ...b.proof(prefix, 0), from: 7 }, prefix.expected, 'fork');
    // B grows: its consistency proof from 7 does not start from A's root.
    const qb2 = await b.query(3);
    await refused(b.proof(qb2, 7), qb2.expected, 'inconsistent');
    // Nor does A's own proof bridge A's head to B's.
    await refused({ ...b.proof(qb2, 7), consistency: a.store.consistencyProof(4, 7) }, qb2.expected, 'inconsistent');
    // Rollback: the head of the shared prefix (4 entries), presented as a continuation of 7.
    const shrunk = await Log.open();
    for (const e of a.entries.slice(0, 4)) await shrunk.add(e);
    const back = {
      treeHead: shrunk.store.treeHead(),
      entry: prefix.entry,
      index: prefix.index,
      inclusion: shrunk.store.inclusionProof(prefix.index),
      from: 7,
      consistency: [],
    };
    await refused(back, prefix.expected, 'rollback');

    // A keeps extending its own branch.
    const qa2 = await a.query(1);
    await w.admit(a.proof(qa2, 7), qa2.expected);
    expect(w.head?.rootHash).toEqual(a.root());
  });
});

describe('LogWitness: stale proofs', () => {
  it('answers STALE_HEAD when `from` is not the held size, and accepts the proof rebuilt from it', async () => {
    const log = await Log.open();
    const empty = await LogWitness.open(fx.federation, 'a1');
    const q0 = await log.query(2);
    expect((await rejection(empty.admit(log.proof(q0, 1), q0.expected))).code).toBe('STALE_HEAD');
    expect(empty.head).toBeUndefined();

    const w = await witnessAt(log, q0);
    const held = bytesOf(w.head);
    const q = await log.query(4);
    for (const from of [0, 1, 2, 4, log.store.size]) {
      const e = await rejection(w.admit(log.proof(q, from), q.expected));
      expect(e.code, `from ${from}`).toBe('STALE_HEAD');
      expect(bytesOf(w.head)).toBe(held);
    }
    await w.admit(log.proof(q, 3), q.expected);
    expect(w.head?.size).toBe(8);
    expect(w.head?.rootHash).toEqual(log.root());
  });
});

describe('LogWitness: the proof must show exactly this query', () => {
  it('refuses other queries, other authors, other kinds, other keys, other logs and other indexes', async () => {
    const log = await Log.open();
    const q0 = await log.query(1);
    const w = await witnessAt(log, q0);
    const held = bytesOf(w.head);

    const q = await log.query(2);
    // The same query event signed by an agency (and logged), and the coordinator's id with an agency's key.
    const byAgency = queryEntry('a1');
    const byAgencyIndex = await log.add(byAgency.entry);
    const forgedAuthor = queryEntry(fx.coordinator, fx.keys.get('a2'));
    const forgedIndex = await log.add(forgedAuthor.entry);
    // A contribution entry naming the expected query id.
    const contrib = fx.entry(
      {
        type: 'contribution',
        at: 5,
        queryId: q.expected.queryId,
        agencyId: 'a2',
        digest: toHex(q.expected.queryDigest),
      },
      'a2',
    );
    const contribIndex = await log.add(contrib);
    // A coordinator-signed entry of another kind, about the expected query.
    const survivors = fx.entry(
      { type: 'survivors', at: 6, queryId: q.expected.queryId, survivors: ['a1', 'a2'], dropped: [] },
      fx.coordinator,
    );
    const survivorsIndex = await log.add(survivors);
    // A coordinator-signed query entry that was never logged.
    const unlogged = queryEntry();
    const size = log.store.size;
    const good = log.proof(q, 2);
    const head = good.treeHead;
    const at = (index: number, entry: Uint8Array): QueryLogProof => ({
      ...good,
      index,
      entry,
      inclusion: log.store.inclusionProof(index),
    });

    const cases: [string, QueryLogProof, ExpectedQuery][] = [
      ['other query id', good, { ...q.expected, queryId: `${q.expected.queryId}x` }],
      ['other digest', good, { ...q.expected, queryDigest: queryDigest(Buffer.from('other')) }],
      ['another query of the log', at(q0.index, q0.entry), q.expected],
      ['entry signed by an agency', at(byAgencyIndex, byAgency.entry), byAgency.expected],
      ['coordinator id, agency key', at(forgedIndex, forgedAuthor.entry), forgedAuthor.expected],
      ['not a query entry', at(contribIndex, contrib), q.expected],
      ['coordinator entry that is not a query', at(survivorsIndex, survivors), q.expected],
      ['query not in the log', { ...good, entry: unlogged.entry }, unlogged.expected],
      ['head signed by another key', { ...good, treeHead: signTreeHead({ ...head }, fx.keys.get('a1')!) }, q.expected],
      [
        'head signed by the key authority',
        { ...good, treeHead: signTreeHead({ ...head }, fx.keys.get(fx.keyAuthority)!) },
        q.expected,
      ],
      [
        'head of another log id',
        { ...good, treeHead: signTreeHead({ ...head, logId: `${head.logId}-other` }, coordinatorKey) },
        q.expected,
      ],
      ['index + 1', { ...good, index: q.index + 1 }, q.expected],
      ['index - 1', { ...good, index: q.index - 1 }, q.expected],
      ['index beyond the head', { ...good, index: size }, q.expected],
      ['inclusion proof of the neighbour', { ...good, inclusion: log.store.inclusionProof(q.index + 1) }, q.expected],
      ['inclusion proof truncated', { ...good, inclusion: good.inclusion.slice(1) }, q.expected],
    ];
    // A real store of another log id holding the same entries, signed by the operator's key.
    const otherLog = await Log.open(`${fx.federation.id}-copy`);
    for (const e of log.entries) await otherLog.add(e);
    cases.push(['store of another log id', { ...good, treeHead: otherLog.store.treeHead() }, q.expected]);

    for (const [name, proof, expected] of cases) {
      const e = await rejection(w.admit(proof, expected));
      expect(e.code, name).toBe('BAD_MESSAGE');
      expect(bytesOf(w.head), name).toBe(held);
    }
    // A witness with no head yet (trust on first use) still takes only this federation's log.
    for (const [name, proof] of [
      [
        'head of another log id',
        { ...good, treeHead: signTreeHead({ ...head, logId: `${head.logId}-other` }, coordinatorKey) },
      ],
      ['store of another log id', { ...good, treeHead: otherLog.store.treeHead() }],
      ['head signed by another key', { ...good, treeHead: signTreeHead({ ...head }, fx.keys.get('a1')!) }],
    ] as [string, QueryLogProof][]) {
      const first = await LogWitness.open(fx.federation, 'a1');
      expect((await rejection(first.admit({ ...proof, from: 0, consistency: [] }, q.expected))).code, name).toBe(
        'BAD_MESSAGE',
      );
      expect(first.head, name).toBeUndefined();
    }
    // The unaltered proof is accepted (each case failed for its own change).
    await w.admit(good, q.expected);
    expect(w.head?.size).toBe(size);
    expect(w.head?.rootHash).toEqual(log.root());
  });
});

describe('LogWitness: requests without a proof', () => {
  it('refuses them when the federation requires the log, admits them otherwise', async () => {
    const expected = queryEntry().expected;
    expect(fx.federation.policy.transparencyLog).toBe(true);
    const strict = await LogWitness.open(fx.federation, 'a1');
    expect((await rejection(strict.admit(undefined, expected))).code).toBe('POLICY_REFUSED');
    expect(strict.head).toBeUndefined();

    const relaxed: Federation = { ...fx.federation, policy: { ...fx.federation.policy, transparencyLog: false } };
    const lax = await LogWitness.open(relaxed, 'a1');
    await expect(lax.admit(undefined, expected)).resolves.toBeUndefined();
    expect(lax.head).toBeUndefined();
    // A proof that comes anyway is still checked.
    const log = await Log.open();
    const q = await log.query(1);
    expect((await rejection(lax.admit(log.proof(q, 0), expected))).code).toBe('BAD_MESSAGE');
    await lax.admit(log.proof(q, 0), q.expected);
    expect(lax.head?.rootHash).toEqual(log.root());
  });
});

describe('LogWitness: tampering', () => {
  it('never accepts a proof with one bit flipped on the wire', async () => {
    const log = await Log.open();
    const q0 = await log.query(4);
    const earlier = log.proof(q0, 0);
    const q = await log.query(7);
    await log.fill(3, 'after');
    const proof = log.proof(q, 5);
    expect(proof.inclusion.length).toBeGreaterThan(0);
    expect(proof.consistency.length).toBeGreaterThan(0);
    const wire = logProofToWire(proof);

    const fresh = async (): Promise<LogWitness> => {
      const w = await LogWitness.open(fx.federation, 'a1');
      await w.admit(earlier, q0.expected);
      return w;
    };
    // The untouched wire form is accepted.
    const control = await fresh();
    await control.admit(logProofFromWire(structuredClone(wire), 'coordinator'), q.expected);
    expect(control.head?.rootHash).toEqual(log.root());

    const held = bytesOf((await fresh()).head);
    const part = fc.constantFrom('treeHead', 'entry', 'inclusion', 'consistency');
    let undecodable = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(part, fc.nat(), fc.nat(), async (where, pick, bit) => {
        const m: LogProofMessage = { ...wire, inclusion: [...wire.inclusion], consistency: [...wire.consistency] };
        const flip = (b: Uint8Array): Uint8Array => {
          const c = Uint8Array.from(b);
          const i = bit % (c.length * 8);
          c[i >> 3]! ^= 1 << (i & 7);
          return c;
        };
        if (where === 'treeHead') m.treeHead = flip(m.treeHead);
        else if (where === 'entry') m.entry = flip(m.entry);
        else {
          const path = m[where];
          const k = pick % path.length;
          path[k] = flip(path[k]!);
        }
        let decoded: QueryLogProof | undefined;
        try {
          decoded = logProofFromWire(m, 'coordinator');
        } catch (e) {
          expect(isFedstatError(e, 'BAD_MESSAGE')).toBe(true);
          undecodable++;
          return;
        }
        const w = await fresh();
        const e = await rejection(w.admit(decoded, q.expected));
        expect(e.code).toBe('BAD_MESSAGE');
        expect(bytesOf(w.head)).toBe(held);
        refused++;
      }),
      { numRuns: 300 },
    );
    // Both layers were exercised: the wire decoder (tree-head layout) and the witness's checks.
    expect(undecodable).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});

describe('LogWitness: concurrent admissions', () => {
  it('admits one of 20 proofs from the same size at a time; the rest are STALE_HEAD and succeed when rebuilt', async () => {
    const file = join(fx.dir, 'witness-concurrent.json');
    const log = await Log.open();
    const q0 = await log.query(2);
    const w = await LogWitness.open(fx.federation, 'a1', file);
    await w.admit(log.proof(q0, 0), q0.expected);
    const start = w.head!.size;
    const requests: { q: LoggedQuery; proof: QueryLogProof }[] = [];
    for (let i = 0; i < 20; i++) {
      const q = await log.query(i % 3);
      requests.push({ q, proof: log.proof(q, start) });
    }
    for (let i = 1; i < 20; i++)
      expect(requests[i]!.proof.treeHead.size).toBeGreaterThan(requests[i - 1]!.proof.treeHead.size);

    const results = await Promise.allSettled(requests.map(({ q, proof }) => w.admit(proof, q.expected)));
    const stale: number[] = [];
    const admitted: number[] = [];
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') admitted.push(i);
      else {
        expect(isFedstatError(r.reason, 'STALE_HEAD'), String(r.reason)).toBe(true);
        stale.push(i);
      }
    }
    // All started from one size: once one moved the head, the others no longer start from it.
    expect(admitted).toHaveLength(1);
    expect(bytesOf(w.head)).toBe(bytesOf(requests[admitted[0]!]!.proof.treeHead));
    expect(bytesOf((await readTreeHeadFile(file))[0])).toBe(bytesOf(w.head));

    // Retried from the held head, each against the head it was sent with (smallest first).
    for (const i of stale.sort((x, y) => requests[x]!.proof.treeHead.size - requests[y]!.proof.treeHead.size)) {
      const { q, proof } = requests[i]!;
      const from = w.head!.size;
      const retry: QueryLogProof = {
        ...proof,
        from,
        consistency: from === proof.treeHead.size ? [] : log.store.consistencyProof(from, proof.treeHead.size),
      };
      if (proof.treeHead.size > from) await w.admit(retry, q.expected);
      else await w.admit(log.proof(q, from), q.expected);
    }
    expect(w.head?.size).toBe(log.store.size);
    expect(bytesOf(w.head)).toBe(bytesOf(requests[19]!.proof.treeHead));
    expect(w.head?.rootHash).toEqual(log.root());
    expect(bytesOf((await readTreeHeadFile(file))[0])).toBe(bytesOf(w.head));
  });

  it('admits a chain of proofs sent at once in order, persisting each head, and the file ends on the last', async () => {
    const file = join(fx.dir, 'witness-chain.json');
    const log = await Log.open();
    const q0 = await log.query(1);
    const w = await LogWitness.open(fx.federation, 'a1', file);
    await w.admit(log.proof(q0, 0), q0.expected);
    // Each proof starts where the previous one ends, as a sender that knows the chain would build them.
    const chain: { q: LoggedQuery; proof: QueryLogProof }[] = [];
    let from = w.head!.size;
    for (let i = 0; i < 20; i++) {
      const q = await log.query(i % 2);
      chain.push({ q, proof: log.proof(q, from) });
      from = log.store.size;
    }
    await Promise.all(chain.map(({ q, proof }) => w.admit(proof, q.expected)));
    expect(bytesOf(w.head)).toBe(bytesOf(chain[19]!.proof.treeHead));
    expect(w.head?.rootHash).toEqual(log.root());
    expect(bytesOf((await readTreeHeadFile(file))[0])).toBe(bytesOf(w.head));
    expect(bytesOf((await LogWitness.open(fx.federation, 'a1', file)).head)).toBe(bytesOf(w.head));
  });
});
