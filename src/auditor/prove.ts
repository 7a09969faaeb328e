/**
 * Inclusion proofs for auditors and third parties: `proveEntry` reads a log file once, streaming,
 * and produces the RFC 9162 audit path of one entry under a tree head the log operator signed,
 * as self-contained JSON (the entry bytes, the path, the head). `checkEntryProof` is what the
 * third party runs: it needs only that JSON and the operator's public key, not the log.
 *
 * Building the path streams the leaves past one accumulator per sibling subtree (at most
 * log2(size) of them, disjoint ranges), so memory stays O(log n) for any log size.
 */
import { FedstatError } from '../errors.js';
import { checkInclusion, type HeadCheck } from '../merkle/head-checks.js';
import { verifyLogFile } from './log-file-check.js';
import { MerkleAccumulator } from '../merkle/merkle-accumulator.js';
import { hashLeaf, splitPoint } from '../merkle/merkle-hash.js';
import { treeHeadFromJson, treeHeadToJson, type SignedTreeHead, type TreeHeadJson } from '../merkle/tree-head.js';

/** A self-contained proof that one entry is in the log a signed tree head commits to. */
export interface EntryProofJson {
  /** The entry's index (leaf number, from 0). */
  readonly index: number;
  /** The entry's bytes, hex: hash them as SHA-256(0x00 ‖ entry) to get the leaf hash. */
  readonly entry: string;
  /** SHA-256(0x00 ‖ entry), hex (for convenience; recompute it). */
  readonly leafHash: string;
  /** The audit path, hex, leaf-side sibling first (RFC 9162 §2.1.3). */
  readonly auditPath: readonly string[];
  /** The signed head the path leads to (`treeHeadToJson`). */
  readonly treeHead: TreeHeadJson;
}

/** The sibling ranges [start, end) of leaf `index`'s path in a tree of `size`, root side first. */
function siblingRanges(index: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      out.push([start + k, end]);
      end = start + k;
    } else {
      out.push([start, start + k]);
      start += k;
    }
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * Proves entry `index` of the log at `file` under `head`, which must be signed by `operatorKey`
 * and match the file's first `head.size` entries. Throws FedstatError: NOT_FOUND when the head
 * does not cover `index`, DATA_INVALID when the head or the file does not verify (run
 * `audit verify` for the details), IO for an unreadable file.
 */
export async function proveEntry(
  file: string,
  index: number,
  head: SignedTreeHead,
  operatorKey: Uint8Array,
): Promise<EntryProofJson> {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError('an entry index is a non-negative integer');
  if (index >= head.size) {
    throw new FedstatError(
      'NOT_FOUND',
      `entry ${index} is not covered by the tree head of size ${head.size}; get the log operator's newer tree head`,
    );
  }
  const ranges = siblingRanges(index, head.size).reverse(); // leaf side first, as the proof lists them
  const accs = ranges.map(() => new MerkleAccumulator());
  let entry: Uint8Array | null = null;
  const check = await verifyLogFile(file, {
    heads: [head],
    publicKey: operatorKey,
    logId: head.logId,
    onEntry: (r) => {
      if (r.index === index) entry = Uint8Array.from(r.entry);
      for (let i = 0; i < ranges.length; i++) {
        const [start, end] = ranges[i]!;
        if (r.index >= start && r.index < end) accs[i]!.append(r.leafHash);
      }
    },
  });
  if (!check.ok) {
    if (check.problem === 'unreadable') throw new FedstatError('IO', `${check.message}; check the path`);
    throw new FedstatError(
      'DATA_INVALID',
      `cannot prove entry ${index}: ${check.message}; run fedstat audit verify for the details`,
    );
  }
  if (entry === null)
    throw new FedstatError('INTERNAL', `entry ${index} was not read from ${file}; please report this`);
  return {
    index,
    entry: hex(entry),
    leafHash: hex(hashLeaf(entry)),
    auditPath: accs.map((a) => hex(a.root())),
    treeHead: treeHeadToJson(head),
  };
}

const HEX = /^(?:[0-9a-f]{2})*$/;

/**
 * A third party's check of `proveEntry` output: the head is signed by `operatorKey`, the leaf
 * hash is recomputed from the entry bytes, and the path leads to the signed root. Returns the
 * outcome and never throws (malformed JSON is a failed check).
 */
export function checkEntryProof(proof: unknown, operatorKey: Uint8Array): HeadCheck {
  const fail = (message: string): HeadCheck => ({ ok: false, problem: 'not-included', message });
  try {
    const p = proof as Partial<EntryProofJson>;
    if (typeof p !== 'object' || p === null || typeof p.entry !== 'string' || !HEX.test(p.entry))
      return fail('the proof has no hex entry');
    const auditPath: unknown = p.auditPath;
    if (
      !Array.isArray(auditPath) ||
      !auditPath.every((h): h is string => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))
    )
      return fail('the audit path is not a list of 32-byte hex hashes');
    if (typeof p.index !== 'number') return fail('the proof has no index');
    const head = treeHeadFromJson(p.treeHead);
    const leaf = hashLeaf(new Uint8Array(Buffer.from(p.entry, 'hex')));
    const path = auditPath.map((h) => new Uint8Array(Buffer.from(h, 'hex')));
    return checkInclusion(head, p.index, leaf, path, operatorKey);
  } catch (e) {
    return fail(`the proof is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
