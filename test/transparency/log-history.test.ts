/**
 * The operator never rewrites history it published: opening a log reads the signed head published
 * beside it (LOG.head.json) and refuses — without touching the file — a log that does not extend
 * it: cut inside or below a published entry, deleted, emptied, or with other entries under the
 * published root; a head file that is not this operator's is refused too. Only a torn tail beyond
 * the published head (a crash mid-append) is cut, and reported. Real files throughout.
 */
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  readFileSync,
  rmSync,
  mkdtempSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { FedstatError } from '../../src/errors.js';
import { recordBytes, writeRecord } from '../../src/transparency/log-record.js';
import { TransparencyLogSink } from '../../src/transparency/log-sink.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { readTreeHeadFile, treeHeadFileFor, writeTreeHeadFile } from '../../src/transparency/tree-head-file.js';
import { signTreeHead, verifyTreeHead } from '../../src/merkle/tree-head.js';
import { hex, refLeafHash, refRoot } from '../merkle/merkle-reference.js';

const dir = mkdtempSync(join(tmpdir(), 'fedstat-tlog-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const op = signingKeyPairFromSeed(new Uint8Array(32).fill(7));
const options = { logId: 'fed-history', secretKey: op.secretKey };
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

/** A log of `count` entries whose head is published by the operator's sink; returns the entries. */
async function publishedLog(file: string, count: number): Promise<Uint8Array[]> {
  const entries = Array.from({ length: count }, (_, i) => randomBytes(5 + i));
  const store = await TransparencyLogStore.open(file, options);
  const sink = new TransparencyLogSink(store, 'coordinator', op.secretKey);
  for (const e of entries) void sink.appendEntry(e);
  await sink.publish();
  await store.close();
  return entries;
}

/** Bytes of the log file from the start to the end of record `count - 1`. */
const recordsEnd = (entries: readonly Uint8Array[], count: number): number =>
  16 + entries.slice(0, count).reduce((s, e) => s + recordBytes(e.length), 0);

describe('opening a log against its published head', () => {
  it('refuses a log cut a few bytes into a published entry, and leaves the file as it found it', async () => {
    const file = fresh();
    const entries = await publishedLog(file, 5);
    truncateSync(file, statSync(file).size - 3);
    const before = readFileSync(file);
    const e = await rejection(TransparencyLogStore.open(file, options));
    expect(e.code).toBe('IO');
    expect(e.message).toContain(file);
    expect(e.message).toContain(treeHeadFileFor(file));
    expect(e.message).toMatch(
      /has 4 complete entries and \d+ bytes of a torn one, but its published tree head .* covers 5 entries/,
    );
    expect(e.message).toMatch(/restore the log from a backup/);
    expect(e.message).toMatch(/agencies .* refuse/);
    expect(e.message).not.toContain('\n');
    expect(e.details).toMatchObject({ file, publishedSize: 5, size: 4 });
    expect(readFileSync(file).equals(before)).toBe(true); // the torn published entry was not cut
    // Appending a few bytes back does not make it a log that extends the head either.
    expect(recordsEnd(entries, 4) < statSync(file).size).toBe(true);
  });

  it('refuses a log cut below the published head at a record boundary, emptied, or deleted; never creates a fresh one', async () => {
    const file = fresh();
    const entries = await publishedLog(file, 6);
    truncateSync(file, recordsEnd(entries, 2));
    let e = await rejection(TransparencyLogStore.open(file, options));
    expect([e.code, e.details['size'], e.details['publishedSize']]).toEqual(['IO', 2, 6]);
    truncateSync(file, 16);
    e = await rejection(TransparencyLogStore.open(file, options));
    expect([e.code, e.details['size']]).toEqual(['IO', 0]);
    truncateSync(file, 7); // a header prefix: what a crash while creating the file would leave
    e = await rejection(TransparencyLogStore.open(file, options));
    expect([e.code, e.details['size']]).toEqual(['IO', 0]);
    expect(statSync(file).size).toBe(7);
    rmSync(file);
    e = await rejection(TransparencyLogStore.open(file, options));
    expect(e.code).toBe('IO');
    expect(e.message).toMatch(/is missing/);
    expect(e.message).toMatch(/restore the log from a backup/);
    expect(existsSync(file)).toBe(false);
    // The lock was released every time: with the log restored, it opens.
    rmSync(treeHeadFileFor(file));
    await (await TransparencyLogStore.open(file, options)).close();
  });

  it('refuses a log whose first published-size entries are not the ones the head signed', async () => {
    const file = fresh();
    const entries = await publishedLog(file, 4);
    const bytes = readFileSync(file);
    // Rewrite entry 1 with a valid record of other content of the same length: checksums hold.
    const other = Buffer.alloc(recordBytes(entries[1]!.length));
    writeRecord(other, 0, randomBytes(entries[1]!.length));
    other.copy(bytes, recordsEnd(entries, 1));
    writeFileSync(file, bytes);
    const e = await rejection(TransparencyLogStore.open(file, options));
    expect(e.code).toBe('IO');
    expect(e.message).toMatch(/first 4 entries do not have the root .* published/);
    expect(e.details).toMatchObject({ publishedSize: 4 });
  });

  it("refuses a head file that is not this operator's head of this log", async () => {
    const file = fresh();
    await publishedLog(file, 2);
    const head = (await readTreeHeadFile(treeHeadFileFor(file)))[0]!;
    const other = signingKeyPairFromSeed(new Uint8Array(32).fill(8));
    await writeTreeHeadFile(treeHeadFileFor(file), signTreeHead(head, other.secretKey));
    let e = await rejection(TransparencyLogStore.open(file, options));
    expect(e.code).toBe('IO');
    expect(e.message).toMatch(/not signed by this log operator's key/);
    await writeTreeHeadFile(treeHeadFileFor(file), signTreeHead({ ...head, logId: 'fed-other' }, op.secretKey));
    e = await rejection(TransparencyLogStore.open(file, options));
    expect(e.message).toMatch(/names log fed-other/);
    writeFileSync(treeHeadFileFor(file), '{"size": 2}');
    e = await rejection(TransparencyLogStore.open(file, options));
    expect(e.code).toBe('BAD_MESSAGE');
    await writeTreeHeadFile(treeHeadFileFor(file), head);
    await (await TransparencyLogStore.open(file, options)).close();
  });

  it('cuts a torn tail beyond the published head (a crash mid-append), reports it, and keeps every entry after the head', async () => {
    const file = fresh();
    const entries = await publishedLog(file, 3);
    {
      // Two more entries acknowledged but not yet published, then a crash in the middle of a third.
      const store = await TransparencyLogStore.open(file, options);
      expect(store.opened.publishedHead?.size).toBe(3);
      entries.push(Uint8Array.of(1, 2, 3), Uint8Array.of(4));
      for (const e of entries.slice(3)) await store.append(e);
      await store.close();
    }
    const partial = Buffer.alloc(recordBytes(40));
    writeRecord(partial, 0, randomBytes(40));
    appendFileSync(file, partial.subarray(0, 25));
    const store = await TransparencyLogStore.open(file, options);
    expect(store.opened.tornBytesCut).toBe(25);
    expect(store.size).toBe(5);
    expect(statSync(file).size).toBe(recordsEnd(entries, 5));
    expect(hex(store.root())).toBe(hex(refRoot(entries.map(refLeafHash))));
    const sink = new TransparencyLogSink(store, 'coordinator', op.secretKey);
    void sink.appendEntry(Uint8Array.of(9));
    await sink.publish();
    await store.close();
    const published = (await readTreeHeadFile(treeHeadFileFor(file)))[0]!;
    expect(published.size).toBe(6);
    expect(verifyTreeHead(published, op.publicKey)).toBe(true);
  });

  it('a reopened log answers with its published head, and later heads never go back in time', async () => {
    const file = fresh();
    await publishedLog(file, 2);
    const head = (await readTreeHeadFile(treeHeadFileFor(file)))[0]!;
    const future = signTreeHead({ ...head, timestamp: head.timestamp + 3_600_000 }, op.secretKey);
    await writeTreeHeadFile(treeHeadFileFor(file), future);
    const store = await TransparencyLogStore.open(file, options);
    expect(store.treeHead()).toEqual(future);
    const { treeHead } = await store.append(Uint8Array.of(5));
    expect(treeHead.timestamp).toBeGreaterThanOrEqual(future.timestamp);
    await store.close();
  });

  it('a log without a published head opens as before (a fresh log, or one never published)', async () => {
    const file = fresh();
    const store = await TransparencyLogStore.open(file, options);
    expect(store.opened).toEqual({ tornBytesCut: 0, publishedHead: null });
    await store.append(Uint8Array.of(1));
    await store.close();
    await (await TransparencyLogStore.open(file, options)).close();
  });
});

describe('TransparencyLogStore.indexOf', () => {
  it('finds an entry by its leaf hash, the latest one when repeated, and answers -1 when absent', async () => {
    const file = fresh();
    const store = await TransparencyLogStore.open(file, options);
    expect(store.indexOf(refLeafHash(Uint8Array.of(1)))).toBe(-1);
    const entries = Array.from({ length: 1500 }, (_, i) => Uint8Array.of(i & 0xff, i >> 8)); // grows the hash buffer past 1024
    for (const e of entries) void store.append(e);
    await store.append(Uint8Array.of(7, 0)); // a repeat of entry 7, at 1500
    for (const i of [0, 1, 8, 1023, 1024, 1499]) expect(store.indexOf(refLeafHash(entries[i]!))).toBe(i);
    expect(store.indexOf(refLeafHash(entries[7]!))).toBe(1500);
    expect(store.indexOf(refLeafHash(Uint8Array.of(9, 9, 9)))).toBe(-1);
    expect(store.indexOf(new Uint8Array(32))).toBe(-1); // the zeroed capacity beyond the log is never matched
    expect(store.indexOf(new Uint8Array(31))).toBe(-1);
    expect(() => store.indexOf('x' as unknown as Uint8Array)).toThrow(TypeError);
    await store.close();
    const again = await TransparencyLogStore.open(file, options);
    expect(again.indexOf(refLeafHash(entries[1023]!))).toBe(1023);
    await again.close();
  });
});
