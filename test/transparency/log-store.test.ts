/**
 * The store on a real file: appends (one by one and concurrently, grouped into one fsync) come
 * back with signed heads whose roots match the reference; a reopened log has the same entries,
 * roots and proofs; a torn tail is cut and appending continues; a damaged complete record is
 * refused with its index; the lock, permissions and limits hold.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { FedstatError, isFedstatError } from '../../src/errors.js';
import { verifyConsistency } from '../../src/merkle/consistency-proof.js';
import { verifyInclusion } from '../../src/merkle/inclusion-proof.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { verifyLogFile } from '../../src/auditor/log-file-check.js';
import { verifyTreeHead } from '../../src/merkle/tree-head.js';
import { hex, refLeafHash, refRoot } from '../merkle/merkle-reference.js';

const dir = mkdtempSync(join(tmpdir(), 'fedstat-tlog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const op = signingKeyPairFromSeed(new Uint8Array(32).fill(3));
const options = { logId: 'fed-test', secretKey: op.secretKey };
let n = 0;
const fresh = (): string => join(dir, `log-${n++}.tlog`);
const rejection = async (p: Promise<unknown>): Promise<FedstatError> => {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  if (!(e instanceof FedstatError)) throw new Error(`expected a FedstatError, got ${String(e)}`);
  return e;
};

async function filled(file: string, entries: Uint8Array[]): Promise<void> {
  const log = await TransparencyLogStore.open(file, options);
  for (const e of entries) await log.append(e);
  await log.close();
}

describe('TransparencyLogStore', () => {
  it('appends, signs heads over the reference root, and serves entries, proofs and roots', async () => {
    const file = fresh();
    const entries = Array.from({ length: 70 }, (_, i) => randomBytes(i % 5 === 0 ? 0 : 1 + ((i * 37) % 300)));
    const log = await TransparencyLogStore.open(file, options);
    expect(log.size).toBe(0);
    expect(hex(log.treeHead().rootHash)).toBe(hex(refRoot([])));
    const heads = [];
    for (const [i, e] of entries.entries()) {
      const { index, treeHead } = await log.append(e);
      expect(index).toBe(i);
      expect(treeHead.size).toBe(i + 1);
      expect(verifyTreeHead(treeHead, op.publicKey)).toBe(true);
      heads.push(treeHead);
    }
    const leaves = entries.map(refLeafHash);
    for (const h of heads) expect(hex(h.rootHash)).toBe(hex(refRoot(leaves.slice(0, h.size))));
    for (let i = 0; i < heads.length - 1; i++) expect(heads[i + 1]!.timestamp >= heads[i]!.timestamp).toBe(true);
    for (const [i, e] of entries.entries()) {
      expect(hex(await log.entry(i))).toBe(hex(e));
      expect(hex(log.leafHash(i))).toBe(hex(leaves[i]!));
    }
    for (const [i, size] of [
      [0, 1],
      [3, 17],
      [69, 70],
      [40, 64],
    ] as const) {
      expect(verifyInclusion(i, size, leaves[i]!, log.inclusionProof(i, size), refRoot(leaves.slice(0, size)))).toBe(
        true,
      );
    }
    for (const [a, b] of [
      [1, 70],
      [17, 33],
      [64, 70],
      [70, 70],
      [0, 5],
    ] as const) {
      expect(
        verifyConsistency(a, b, refRoot(leaves.slice(0, a)), refRoot(leaves.slice(0, b)), log.consistencyProof(a, b)),
      ).toBe(true);
      expect(hex(log.root(a))).toBe(hex(refRoot(leaves.slice(0, a))));
    }
    const streamed: string[] = [];
    for await (const { index, entry } of log.entries(10, 30)) streamed.push(`${index}:${hex(entry)}`);
    expect(streamed).toEqual(entries.slice(10, 30).map((e, i) => `${i + 10}:${hex(e)}`));
    expect(() => log.leafHash(70)).toThrow(RangeError);
    expect(() => log.inclusionProof(0, 71)).toThrow(RangeError);
    await log.close();

    // Reopened: same entries, same root; appending continues from there.
    const again = await TransparencyLogStore.open(file, options);
    expect(again.size).toBe(70);
    expect(again.opened.tornBytesCut).toBe(0);
    expect(hex(again.root())).toBe(hex(refRoot(leaves)));
    expect(hex(again.treeHead().rootHash)).toBe(hex(heads[69]!.rootHash));
    const more = randomBytes(9);
    expect((await again.append(more)).index).toBe(70);
    expect(hex(again.root())).toBe(hex(refRoot([...leaves, refLeafHash(more)])));
    await again.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('groups concurrent appends into one commit with one head, in submission order', async () => {
    const log = await TransparencyLogStore.open(fresh(), options);
    await log.append(Uint8Array.of(1));
    const entries = Array.from({ length: 200 }, (_, i) => Uint8Array.of(i, i >> 8, 7));
    const results = await Promise.all(entries.map((e) => log.append(e)));
    expect(results.map((r) => r.index)).toEqual(entries.map((_, i) => i + 1));
    const distinctHeads = new Set(results.map((r) => r.treeHead.size));
    expect(distinctHeads.size).toBeLessThan(5); // batched, not 200 fsyncs
    for (const r of results) {
      expect(r.treeHead.size > r.index).toBe(true);
      expect(
        verifyInclusion(
          r.index,
          r.treeHead.size,
          log.leafHash(r.index),
          log.inclusionProof(r.index, r.treeHead.size),
          r.treeHead.rootHash,
        ),
      ).toBe(true);
    }
    await log.close();
  });

  it('cuts a torn tail (partial header, partial record, zero fill) and continues', async () => {
    for (const tail of [
      Buffer.from('0000'),
      Buffer.concat([Buffer.from('00000010ffffffef', 'hex'), randomBytes(20)]),
      Buffer.alloc(300),
    ]) {
      const file = fresh();
      const entries = [randomBytes(10), randomBytes(0), randomBytes(33)];
      await filled(file, entries);
      const clean = readFileSync(file);
      appendFileSync(file, tail);
      const log = await TransparencyLogStore.open(file, options);
      expect(log.opened.tornBytesCut).toBe(tail.length);
      expect(log.size).toBe(3);
      expect(readFileSync(file).equals(clean)).toBe(true);
      await log.append(Uint8Array.of(9));
      expect(hex(log.root())).toBe(hex(refRoot([...entries, Uint8Array.of(9)].map(refLeafHash))));
      await log.close();
    }
  });

  it('refuses a damaged complete record, naming its index, wherever it is', async () => {
    const entries = Array.from({ length: 6 }, (_, i) => randomBytes(10 + i));
    // Record i starts at 16 + Σ_{j<i} (40 + |e_j|).
    const start = (i: number): number => 16 + entries.slice(0, i).reduce((s, e) => s + 40 + e.length, 0);
    for (const [record, at, what] of [
      [2, 8 + 3, 'entry byte'],
      [3, 8 + 13 + 5, 'stored hash'],
      [4, 2, 'length'],
      [4, 6, 'length guard'],
      [5, 8, 'last entry'],
    ] as const) {
      const file = fresh();
      await filled(file, entries);
      const bytes = readFileSync(file);
      bytes[start(record) + at]! ^= 0x20;
      writeFileSync(file, bytes);
      const e = await rejection(TransparencyLogStore.open(file, options));
      expect(e.code, what).toBe('IO');
      expect(e.details.record, what).toBe(record);
      expect(e.message).toMatch(new RegExp(`corrupt at record ${record} `));
    }
  });

  it('refuses files that are not logs, a second writer, loose permissions; rejects oversized entries and appends after close', async () => {
    const notLog = fresh();
    writeFileSync(notLog, 'hello, I am not a transparency log', { mode: 0o600 });
    expect((await rejection(TransparencyLogStore.open(notLog, options))).code).toBe('IO');
    const file = fresh();
    const log = await TransparencyLogStore.open(file, options);
    expect((await rejection(TransparencyLogStore.open(file, options))).message).toMatch(/already open/);
    expect((await rejection(log.append(new Uint8Array((1 << 24) + 1)))).code).toBe('MESSAGE_TOO_LARGE');
    expect(() => log.append('x' as unknown as Uint8Array)).toThrow(TypeError);
    await log.close();
    expect((await rejection(log.append(Uint8Array.of(1)))).code).toBe('UNAVAILABLE');
    chmodSync(file, 0o644);
    expect((await rejection(TransparencyLogStore.open(file, options))).message).toMatch(/chmod 600/);
    chmodSync(file, 0o600);
    await expect(TransparencyLogStore.open(file, { ...options, logId: '' })).rejects.toThrow(RangeError);
    const reopened = await TransparencyLogStore.open(file, options); // the lock was released
    expect(
      isFedstatError(
        await reopened.entry(0).then(
          () => null,
          (x: unknown) => x,
        ),
      ),
    ).toBe(false);
    await reopened.close();
  });

  it('streams records larger than its 1 MiB read chunks, and records straddling chunk borders', async () => {
    const file = fresh();
    const entries = [
      randomBytes(3 << 20),
      randomBytes(0),
      randomBytes((1 << 20) - 30),
      randomBytes(100),
      randomBytes((1 << 20) + 7),
    ];
    await filled(file, entries);
    const log = await TransparencyLogStore.open(file, options);
    expect(hex(log.root())).toBe(hex(refRoot(entries.map(refLeafHash))));
    const got: string[] = [];
    for await (const { entry } of log.entries()) got.push(hex(entry));
    expect(got).toEqual(entries.map(hex));
    await log.close();
    const check = await verifyLogFile(file);
    expect(check.ok && hex(check.rootHash)).toBe(hex(refRoot(entries.map(refLeafHash))));
  });

  it('notices a record changed on disk behind an open store', async () => {
    const file = fresh();
    const log = await TransparencyLogStore.open(file, options);
    for (let i = 0; i < 4; i++) await log.append(Uint8Array.of(i, i, i));
    const bytes = readFileSync(file);
    bytes[16 + 2 * 43 + 9]! ^= 1; // record 2's second entry byte
    writeFileSync(file, bytes);
    expect(hex(await log.entry(1))).toBe('010101');
    const e = await rejection(log.entry(2));
    expect([e.code, e.details.record]).toEqual(['IO', 2]);
    const streamed = async (): Promise<number> => {
      let count = 0;
      for await (const _ of log.entries()) count++;
      return count;
    };
    expect((await rejection(streamed())).details.record).toBe(2);
    await log.close();
  });

  it('verifyLogFile answers for missing files, non-logs, other logs and empty logs', async () => {
    const problem = (c: Awaited<ReturnType<typeof verifyLogFile>>): string => (c.ok ? 'ok' : c.problem);
    expect(problem(await verifyLogFile(join(dir, 'absent.tlog')))).toBe('unreadable');
    const notLog = fresh();
    writeFileSync(notLog, 'not a log at all');
    expect(problem(await verifyLogFile(notLog))).toBe('not-a-log');
    const file = fresh();
    const log = await TransparencyLogStore.open(file, options);
    const empty = log.treeHead();
    const { treeHead } = await log.append(Uint8Array.of(1));
    await log.close();
    expect(
      problem(await verifyLogFile(file, { heads: [empty, treeHead], publicKey: op.publicKey, logId: 'fed-test' })),
    ).toBe('ok');
    expect(problem(await verifyLogFile(file, { heads: [treeHead], publicKey: op.publicKey, logId: 'fed-other' }))).toBe(
      'other-log',
    );
    await expect(verifyLogFile(file, { heads: [treeHead] })).rejects.toThrow(TypeError);
  });
});
