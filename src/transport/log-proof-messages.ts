/**
 * Transparency-log wire messages ↔ domain types: the LogProof sent with queries and decryption
 * requests, and the tree head parties report in Describe. Shapes, counts and sizes are checked
 * here; what the hashes and signatures prove is checked by the recipient's LogWitness.
 */
import { FedstatError } from '../errors.js';
import { MAX_QUERY_BYTES } from '../protocol/query-envelope.js';
import { MAX_RECEIPTS, type LogReceipt, type QueryLogProof } from '../transparency/query-log-proof.js';
import { decodeSignedTreeHead, encodeSignedTreeHead, type SignedTreeHead } from '../merkle/tree-head.js';
import { HASH_BYTES } from '../merkle/merkle-hash.js';
import type { LogProofMessage, LogReceiptMessage } from './proto.js';

/** A proof path has at most one hash per level of a tree of 2^63 entries. */
const MAX_PATH = 64;
/**
 * A query entry carries the query's plan, its SQL and the agencies: bounded like the signed query
 * itself (an entry beyond that is refused as malformed), plus the paths and the head.
 */
export const MAX_LOG_PROOF_BYTES =
  MAX_QUERY_BYTES + (2 + MAX_RECEIPTS) * MAX_PATH * (HASH_BYTES + 4) + MAX_RECEIPTS * (HASH_BYTES + 16) + 4096;

const bad = (peer: string, what: string): FedstatError =>
  new FedstatError('BAD_MESSAGE', `${peer} sent a transparency-log proof whose ${what} is malformed`);

const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function count(v: unknown, peer: string, what: string): number {
  const n = typeof v === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(peer, what);
  return n;
}

function path(v: unknown, peer: string, what: string): Uint8Array[] {
  if (!Array.isArray(v) || v.length > MAX_PATH || !v.every((h) => h instanceof Uint8Array && h.length === HASH_BYTES))
    throw bad(peer, what);
  return v.map((h: Uint8Array) => Uint8Array.from(h));
}

export function logProofToWire(p: QueryLogProof): LogProofMessage {
  return {
    treeHead: encodeSignedTreeHead(p.treeHead),
    entry: p.entry,
    index: p.index,
    inclusion: [...p.inclusion],
    fromSize: p.from,
    consistency: [...p.consistency],
    receipts: (p.receipts ?? []).map((r) => ({ leafHash: r.leafHash, index: r.index, inclusion: [...r.inclusion] })),
  };
}

function receipts(v: unknown, peer: string): LogReceipt[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > MAX_RECEIPTS) throw bad(peer, 'receipts');
  return v.map((raw: unknown) => {
    const r = (raw ?? {}) as Partial<LogReceiptMessage>;
    if (!(r.leafHash instanceof Uint8Array) || r.leafHash.length !== HASH_BYTES) throw bad(peer, 'receipt');
    return Object.freeze({
      leafHash: Uint8Array.from(r.leafHash),
      index: count(r.index, peer, 'receipt index'),
      inclusion: path(r.inclusion, peer, 'receipt path'),
    });
  });
}

/** The proof a request carried, or undefined when it carried none; BAD_MESSAGE for a malformed one. */
export function logProofFromWire(m: LogProofMessage | null | undefined, peer: string): QueryLogProof | undefined {
  if (m === null || m === undefined) return undefined;
  if (!(m.treeHead instanceof Uint8Array)) throw bad(peer, 'tree head');
  if (!(m.entry instanceof Uint8Array) || m.entry.length === 0 || m.entry.length > MAX_QUERY_BYTES)
    throw bad(peer, 'entry');
  let treeHead: SignedTreeHead;
  try {
    treeHead = decodeSignedTreeHead(view(m.treeHead));
  } catch (e) {
    throw new FedstatError('BAD_MESSAGE', `${peer} sent a transparency-log proof with a malformed tree head`, {
      cause: e,
    });
  }
  return Object.freeze({
    treeHead,
    entry: Uint8Array.from(m.entry),
    index: count(m.index, peer, 'index'),
    inclusion: path(m.inclusion, peer, 'inclusion path'),
    from: count(m.fromSize, peer, 'starting size'),
    consistency: path(m.consistency, peer, 'consistency path'),
    receipts: receipts(m.receipts, peer),
  });
}

/** A reported head on the wire: the signed bytes, or empty for none. */
export function logHeadToWire(head: SignedTreeHead | null): Uint8Array {
  return head === null ? new Uint8Array(0) : encodeSignedTreeHead(head);
}

/** A head a peer reported (its layout checked, not its signature), or null for none. */
export function logHeadFromWire(bytes: unknown, peer: string): SignedTreeHead | null {
  if (bytes === undefined || bytes === null || (bytes instanceof Uint8Array && bytes.length === 0)) return null;
  if (!(bytes instanceof Uint8Array))
    throw new FedstatError('BAD_MESSAGE', `${peer} reported a malformed transparency-log head`);
  try {
    return decodeSignedTreeHead(view(bytes));
  } catch (e) {
    throw new FedstatError('BAD_MESSAGE', `${peer} reported a malformed transparency-log head`, { cause: e });
  }
}
