/**
 * Tampering is always detected. 10,000 random single-byte changes (random position, random
 * non-zero XOR) spread over the stored log file, signed tree heads in wire form, and inclusion
 * and consistency proofs: each one makes a verifier fail (hash mismatch in the file, signature
 * or decoding failure for the head, proof failure). Then the structural attacks: deleting,
 * reordering or truncating entries, rolling back to an older head, and two heads for one size.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { FedstatError } from '../../src/errors.js';
import { verifyConsistency } from '../../src/merkle/consistency-proof.js';
import { checkConsistentHeads } from '../../src/merkle/head-checks.js';
import { verifyInclusion } from '../../src/merkle/inclusion-proof.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { verifyLogFile, type LogCheck } from '../../src/auditor/log-file-check.js';
import {
  decodeSignedTreeHead,
  encodeSignedTreeHead,
  signTreeHead,
  verifyTreeHead,
  type SignedTreeHead,
} from '../../src/merkle/tree-head.js';

const dir = mkdtempSync(join(tmpdir(), 'fedstat-tlog-tamper-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const op = signingKeyPairFromSeed(new Uint8Array(32).fill(9));
const file = join(dir, 'log.tlog');
const scratch = join(dir, 'tampered.tlog');
const SIZE = 24;
let pristine: Buffer;
let head: SignedTreeHead;
let older: SignedTreeHead;
let leafHashes: Uint8Array[];
let inclusions: { index: number; proof: Uint8Array[] }[];
let consistencies: { first: number; root: Uint8Array; proof: Uint8Array[] }[];
/** Byte offset of each record: 16-byte header, then 8 + |entry| + 32 per record. */
const starts: number[] = [];

beforeAll(async () => {
  const log = await TransparencyLogStore.open(file, { logId: 'fed', secretKey: op.secretKey });
  let off = 16;
  for (let i = 0; i < SIZE; i++) {
    const entry = randomBytes(i % 4 === 0 ? 0 : randomInt(1, 60));
    starts.push(off);
    off += 40 + entry.length;
    const r = await log.append(entry);
    if (i === 9) older = r.treeHead;
  }
  head = log.treeHead();
  leafHashes = Array.from({ length: SIZE }, (_, i) => log.leafHash(i));
  inclusions = Array.from({ length: SIZE }, (_, i) => ({ index: i, proof: log.inclusionProof(i) }));
  consistencies = Array.from({ length: SIZE - 1 }, (_, i) => ({
    first: i + 1,
    root: log.root(i + 1),
    proof: log.consistencyProof(i + 1),
  }));
  await log.close();
  pristine = readFileSync(file);
  starts.push(pristine.length);
});

const verifyBytes = async (bytes: Uint8Array, heads = [head]): Promise<LogCheck> => {
  writeFileSync(scratch, bytes);
  return verifyLogFile(scratch, { heads, publicKey: op.publicKey, logId: 'fed' });
};
/** Same-length variants are written in place through one descriptor (3 ms per writeFileSync here). */
const verifyInPlace = async (fd: number, bytes: Uint8Array): Promise<LogCheck> => {
  writeSync(fd, bytes, 0, bytes.length, 0);
  return verifyLogFile(scratch, { heads: [head], publicKey: op.publicKey, logId: 'fed' });
};
const flip = (b: Uint8Array, at: number): Uint8Array => {
  const c = Uint8Array.from(b);
  c[at]! ^= randomInt(1, 256);
  return c;
};

describe('10,000 random single-byte flips', () => {
  it('are all detected: 4,000 in the log file, 3,000 in signed tree heads, 3,000 in proofs', async () => {
    expect((await verifyBytes(pristine)).ok).toBe(true);
    const problems = new Map<string, number>();
    const fd = openSync(scratch, 'r+');
    for (let t = 0; t < 4000; t++) {
      const at = randomInt(pristine.length);
      const r = await verifyInPlace(fd, flip(pristine, at));
      expect(r.ok, `file byte ${at} changed undetected`).toBe(false);
      if (!r.ok) problems.set(r.problem, (problems.get(r.problem) ?? 0) + 1);
    }
    closeSync(fd);
    expect([...problems.keys()].sort()).toEqual(['corrupt', 'not-a-log']);

    const heads = [head, older].map(encodeSignedTreeHead);
    for (let t = 0; t < 3000; t++) {
      const wire = heads[t % 2]!;
      const at = randomInt(wire.length);
      let accepted = false;
      try {
        accepted = verifyTreeHead(decodeSignedTreeHead(flip(wire, at)), op.publicKey);
      } catch (e) {
        expect(e).toBeInstanceOf(FedstatError);
      }
      expect(accepted, `tree head byte ${at} changed undetected`).toBe(false);
    }

    for (let t = 0; t < 3000; t++) {
      if (t % 2 === 0) {
        const { index, proof } = inclusions[randomInt(1, SIZE)]!; // leaf 0..SIZE-1 all have non-empty proofs
        const which = randomInt(proof.length);
        const bad = proof.map((p, i) => (i === which ? flip(p, randomInt(32)) : p));
        expect(verifyInclusion(index, SIZE, leafHashes[index]!, bad, head.rootHash), `inclusion proof ${index}`).toBe(
          false,
        );
      } else {
        const { first, root, proof } = consistencies[randomInt(consistencies.length)]!;
        const which = randomInt(proof.length);
        const bad = proof.map((p, i) => (i === which ? flip(p, randomInt(32)) : p));
        expect(verifyConsistency(first, SIZE, root, head.rootHash, bad), `consistency proof ${first}`).toBe(false);
      }
    }
  });

  it('a flipped stored entry also stops the store from opening, naming the record', async () => {
    for (let t = 0; t < 20; t++) {
      const record = randomInt(SIZE);
      const at = starts[record]! + randomInt(starts[record + 1]! - starts[record]!);
      writeFileSync(scratch, flip(pristine, at));
      chmodSync(scratch, 0o600);
      const e = await TransparencyLogStore.open(scratch, { logId: 'fed', secretKey: op.secretKey }).then(
        async (s) => {
          await s.close();
          return null;
        },
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(FedstatError);
      expect((e as FedstatError).details.record).toBe(record);
    }
  });
});

describe('structural tampering', () => {
  const records = (): Buffer[] => starts.slice(0, -1).map((s, i) => pristine.subarray(s, starts[i + 1]));
  const rebuild = (rs: Buffer[]): Buffer => Buffer.concat([pristine.subarray(0, 16), ...rs]);
  const problem = (r: LogCheck): string => (r.ok ? 'ok' : r.problem);

  it('deleting, inserting, reordering or truncating entries breaks the signed root', async () => {
    for (const i of [0, 5, 9, 10, 22]) {
      const rs = records();
      rs.splice(i, 1);
      // One entry fewer than the newest head: truncated; against the older head too, a deletion
      // below its size is a root mismatch there first.
      expect(problem(await verifyBytes(rebuild(rs))), `delete ${i}`).toBe('truncated');
      expect(problem(await verifyBytes(rebuild(rs), [older, head])), `delete ${i}`).toBe(
        i < 10 ? 'root-mismatch' : 'truncated',
      );
      const swapped = records();
      [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
      expect(problem(await verifyBytes(rebuild(swapped))), `swap ${i}, ${i + 1}`).toBe('root-mismatch');
      const dup = records();
      dup.splice(i, 0, dup[i]!);
      expect(problem(await verifyBytes(rebuild(dup))), `duplicate ${i}`).toBe('root-mismatch');
    }
    // Cutting whole records off the end: a head signed for more entries than the file has.
    expect(problem(await verifyBytes(rebuild(records().slice(0, SIZE - 1))))).toBe('truncated');
    expect(problem(await verifyBytes(rebuild(records().slice(0, 5)), [older, head]))).toBe('truncated');
    // The untouched prefix still matches the older head.
    expect(problem(await verifyBytes(rebuild(records().slice(0, 10)), [older]))).toBe('ok');
  });

  it('rollback to an older head and two heads for one size are caught', async () => {
    expect(checkConsistentHeads(head, older, [], op.publicKey)).toMatchObject({ ok: false, problem: 'rollback' });
    const other = signTreeHead(
      { logId: 'fed', size: SIZE, rootHash: leafHashes[0]!, timestamp: head.timestamp },
      op.secretKey,
    );
    expect(checkConsistentHeads(head, other, [], op.publicKey)).toMatchObject({ ok: false, problem: 'fork' });
    expect(problem(await verifyBytes(pristine, [head, other]))).toBe('root-mismatch');
    expect(problem(await verifyBytes(pristine, [{ ...head, timestamp: head.timestamp + 1 }]))).toBe('bad-signature');
  });
});
