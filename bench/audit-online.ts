/**
 * What the log costs online, per request: the operator building a query's proof (inclusion of
 * the query entry under the current head, consistency from the head the recipient holds), and
 * the recipient admitting it (LogWitness.admit: head signature, entry signature, inclusion,
 * consistency), in memory and with the witness file a deployed agency keeps (--log-witness: one
 * atomic, fsynced file write per accepted head). Measured on a real log of the benchmark's size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Federation } from '../src/federation/federation.js';
import { decodeEntry } from '../src/transparency/log-entry.js';
import { TransparencyLogStore } from '../src/transparency/log-store.js';
import { LogWitness } from '../src/transparency/log-witness.js';
import { buildQueryLogProof, type QueryLogProof } from '../src/transparency/query-log-proof.js';
import { writeTreeHeadFile } from '../src/transparency/tree-head-file.js';
import { encodeSignedTreeHead, signTreeHead } from '../src/merkle/tree-head.js';

export interface OnlineCost {
  /** Median µs for the operator to build one proof. */
  readonly buildProofUs: number;
  /** Median µs for a recipient to admit it, witness in memory. */
  readonly admitUs: number;
  /** Median µs with the witness persisted to its file. */
  readonly admitWithFileUs: number;
  /** Bytes of the proof on the wire (head, entry, both paths; protobuf framing excluded). */
  readonly proofBytes: number;
  readonly inclusionHashes: number;
  readonly consistencyHashes: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.floor(s.length / 2)] ?? 0) * 10) / 10;
};

/**
 * Over the log at `file` (written by the benchmark: the query entry of query q sits at q·perQuery):
 * a recipient holding the head of `size − back` entries is sent the proof of the last query.
 */
export async function measureOnline(
  file: string,
  federation: Federation,
  secretKey: Uint8Array,
  perQuery: number,
  runs = 200,
): Promise<OnlineCost> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-bench-online-'));
  const store = await TransparencyLogStore.open(file, { logId: federation.id, secretKey });
  try {
    const size = store.size;
    const index = (Math.floor(size / perQuery) - 1) * perQuery;
    const entry = await store.entry(index);
    const event = decodeEntry(entry).event;
    if (event.type !== 'query') throw new Error(`entry ${index} is not a query entry`);
    const expected = { queryId: event.queryId, queryDigest: Buffer.from(event.digest, 'hex') };
    // The recipient last saw the log a few queries ago.
    const held = index - 5 * perQuery;
    const heldHead = signTreeHead(
      { logId: federation.id, size: held, rootHash: store.root(held), timestamp: 1_800_000_000_000 },
      secretKey,
    );
    const build: number[] = [];
    const memory: number[] = [];
    const withFile: number[] = [];
    let proof: QueryLogProof | undefined;
    // A fresh in-memory witness takes its first head on trust, with an earlier query's proof.
    const earlier = index - 10 * perQuery;
    const earlierEntry = await store.entry(earlier);
    const earlierEvent = decodeEntry(earlierEntry).event;
    if (earlierEvent.type !== 'query') throw new Error(`entry ${earlier} is not a query entry`);
    const seed: QueryLogProof = {
      treeHead: heldHead,
      entry: earlierEntry,
      index: earlier,
      inclusion: store.inclusionProof(earlier, held),
      from: 0,
      consistency: [],
    };
    const seedExpected = { queryId: earlierEvent.queryId, queryDigest: Buffer.from(earlierEvent.digest, 'hex') };
    for (let r = 0; r < runs; r++) {
      let t = performance.now();
      proof = buildQueryLogProof(store, index, entry, held, 'bench');
      build.push((performance.now() - t) * 1000);
      const inMemory = await LogWitness.open(federation, 'bench');
      await inMemory.admit(seed, seedExpected);
      t = performance.now();
      await inMemory.admit(proof, expected);
      memory.push((performance.now() - t) * 1000);
      const headFile = join(dir, `held-${r}.json`);
      await writeTreeHeadFile(headFile, heldHead);
      const persisted = await LogWitness.open(federation, 'bench', headFile);
      t = performance.now();
      await persisted.admit(proof, expected);
      withFile.push((performance.now() - t) * 1000);
    }
    const p = proof!;
    return {
      buildProofUs: median(build),
      admitUs: median(memory),
      admitWithFileUs: median(withFile),
      proofBytes:
        encodeSignedTreeHead(p.treeHead).length +
        p.entry.length +
        32 * (p.inclusion.length + p.consistency.length) +
        16,
      inclusionHashes: p.inclusion.length,
      consistencyHashes: p.consistency.length,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
