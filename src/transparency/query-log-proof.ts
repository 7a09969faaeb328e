/**
 * The proof that travels with every query (to each agency) and every decryption request (to the
 * key authority): the query's log entry, the operator's current signed tree head, the entry's
 * inclusion proof under that head, and a consistency proof from the last head the recipient
 * accepted. With it a recipient knows, before it does anything, that the query it is asked about
 * is in the log everybody else sees, and that this log extends the one it saw before.
 *
 * `buildQueryLogProof` is the operator's side; `checkQueryLogProof` is the stateless part of the
 * recipient's check (head signature, entry, inclusion). Consistency with what the recipient saw
 * before is LogWitness's job (log-witness.ts), which calls this first.
 *
 * Receipts: the proof also carries, for entries the recipient said it holds unlogged (an agency's
 * budget charges whose entries never reached the log; AgencyDescription.unloggedEntries), their
 * inclusion proofs under the same head, so the recipient learns they are in the log and stops
 * handing them over.
 */
import { toHex } from '../crypto/digest.js';
import { FedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import { checkInclusion, headCheckError } from '../merkle/head-checks.js';
import { openEntry } from './log-entry.js';
import type { TransparencyLogStore } from './log-store.js';
import { hashLeaf } from '../merkle/merkle-hash.js';
import type { SignedTreeHead } from '../merkle/tree-head.js';

export interface QueryLogProof {
  /** The operator's signed head of the log at the time of sending. */
  readonly treeHead: SignedTreeHead;
  /** The coordinator-signed `query` entry of the query the request is about. */
  readonly entry: Uint8Array;
  /** Its index in the log. */
  readonly index: number;
  /** Inclusion proof of `entry` at `index` under `treeHead`. */
  readonly inclusion: readonly Uint8Array[];
  /** Size of the last head the recipient said it accepted (0: none). */
  readonly from: number;
  /** Consistency proof from the tree of `from` entries to `treeHead` (empty when `from` is 0 or equal). */
  readonly consistency: readonly Uint8Array[];
  /** Inclusion proofs, under `treeHead`, of entries the recipient holds as unlogged (none: absent or empty). */
  readonly receipts?: readonly LogReceipt[];
}

/** Proof that the log holds the entry with leaf hash `leafHash` at `index`. */
export interface LogReceipt {
  readonly leafHash: Uint8Array;
  readonly index: number;
  /** Inclusion proof under the tree head of the proof that carries the receipt. */
  readonly inclusion: readonly Uint8Array[];
}

/** Receipts one proof may carry: as many entries as an agency may hold unlogged. */
export const MAX_RECEIPTS = 64;

/** What the recipient expects the logged query to be. */
export interface ExpectedQuery {
  readonly queryId: string;
  /** The signed envelope's query digest (queryDigest of its bytes). */
  readonly queryDigest: Uint8Array;
}

/**
 * The proof for the `query` entry at `index` of `store`, under the store's current head, with a
 * consistency proof from the recipient's last accepted size `from`. BAD_MESSAGE when `from` is
 * beyond the log (the recipient was shown a longer log: another log, or a fork).
 */
export function buildQueryLogProof(
  store: TransparencyLogStore,
  index: number,
  entry: Uint8Array,
  from: number,
  recipient: string,
  logged: readonly { leafHash: Uint8Array; index: number }[] = [],
): QueryLogProof {
  const treeHead = store.treeHead();
  if (logged.length > MAX_RECEIPTS) throw new RangeError(`at most ${MAX_RECEIPTS} receipts travel with one proof`);
  if (!Number.isSafeInteger(from) || from < 0 || from > treeHead.size) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `${recipient} has accepted a head of ${from} entries, but this log has ${treeHead.size}: it was shown another log (a fork, or another federation's); check its witness file`,
    );
  }
  return Object.freeze({
    treeHead,
    entry,
    index,
    inclusion: store.inclusionProof(index, treeHead.size),
    from,
    consistency: from === 0 ? [] : store.consistencyProof(from, treeHead.size),
    receipts: logged.map((r) =>
      Object.freeze({
        leafHash: Uint8Array.from(r.leafHash),
        index: r.index,
        inclusion: store.inclusionProof(r.index, treeHead.size),
      }),
    ),
  });
}

/**
 * The receipts of `proof` checked under its (already admitted) tree head: leaf hash (hex) → index.
 * BAD_MESSAGE when one does not prove its entry in the log.
 */
export function checkReceipts(proof: QueryLogProof, operatorKey: Uint8Array): Map<string, number> {
  const proven = new Map<string, number>();
  for (const r of proof.receipts ?? []) {
    const check = checkInclusion(proof.treeHead, r.index, r.leafHash, r.inclusion, operatorKey);
    if (!check.ok) throw headCheckError(check);
    proven.set(toHex(r.leafHash), r.index);
  }
  return proven;
}

/**
 * Checks that `proof` shows exactly the expected query's entry, signed by the coordinator, in
 * the log of `federation` under a head signed by the log operator's `operatorKey`. Throws
 * FedstatError BAD_MESSAGE (the message says what does not hold); never checks consistency.
 */
export function checkQueryLogProof(
  proof: QueryLogProof,
  federation: Federation,
  operatorKey: Uint8Array,
  expected: ExpectedQuery,
): void {
  if (proof.treeHead.logId !== federation.id) {
    throw new FedstatError(
      'BAD_MESSAGE',
      "the tree head sent with the query belongs to another federation's log; refuse this log and report it to the federation",
    );
  }
  let opened;
  try {
    opened = openEntry(proof.entry, federation);
  } catch (e) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `the logged query sent with the request does not open: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  const { event, author } = opened;
  if (event.type !== 'query' || author.role !== 'coordinator') {
    throw new FedstatError(
      'BAD_MESSAGE',
      `the log proof shows a ${event.type} entry by ${author.id}, not the coordinator's query entry`,
    );
  }
  if (event.queryId !== expected.queryId || event.digest !== toHex(expected.queryDigest)) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `the log proof shows query ${event.queryId}, not the query ${expected.queryId} this request is about; the query is not in the log`,
    );
  }
  const check = checkInclusion(proof.treeHead, proof.index, hashLeaf(proof.entry), proof.inclusion, operatorKey);
  if (!check.ok) throw headCheckError(check);
}
