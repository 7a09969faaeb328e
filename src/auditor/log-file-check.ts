/**
 * Offline verification of a log file, the auditor's core loop: stream every record (never the
 * whole file in memory), recompute each leaf hash, check it against the stored one, fold it
 * into a MerkleAccumulator, and compare the root at each given tree head's size with the root
 * that head signed. Deleting, inserting, reordering or altering any entry below a head's size
 * changes that root; a head whose size the file does not reach means the file was truncated.
 *
 * Returns a `LogCheck` and never throws for a bad log (only for a bad argument); entries go to
 * `onEntry` so the wiring can check each one's signature and the policy in the same pass.
 */
import { open } from 'node:fs/promises';
import { hashEquals } from '../merkle/merkle-hash.js';
import { MerkleAccumulator } from '../merkle/merkle-accumulator.js';
import { hasLogHeader, LogCorruptError, scanRecords, type ScannedRecord } from '../transparency/log-scan.js';
import { verifyTreeHead, type SignedTreeHead } from '../merkle/tree-head.js';

/**
 * Why a log file failed `verifyLogFile`: it cannot be read, has no log header, a head is
 * malformed or not the operator's (`bad-signature`) or names another log, a record fails its
 * checksum, the file ends before a head's size, or a head's root differs from the file's.
 */
export type LogProblem =
  'unreadable' | 'not-a-log' | 'bad-signature' | 'other-log' | 'corrupt' | 'truncated' | 'root-mismatch';

/**
 * What `verifyLogFile` found: the size and root hash of the whole file and the bytes of a
 * crash-torn tail (not counted); or the first problem, with the index of the corrupt record.
 */
export type LogCheck =
  | { readonly ok: true; readonly size: number; readonly rootHash: Uint8Array; readonly tornBytes: number }
  | { readonly ok: false; readonly problem: LogProblem; readonly message: string; readonly record?: number };

/** The heads to check a log file against, and a callback for each entry. */
export interface VerifyLogOptions {
  /** Heads to check the file against (any order; each must be signed by `publicKey`). */
  readonly heads?: readonly SignedTreeHead[];
  /** The log operator's Ed25519 public key; required when `heads` is non-empty. */
  readonly publicKey?: Uint8Array;
  /** The log id the heads must name (the federation id). */
  readonly logId?: string;
  /**
   * Called for each verified record, in order; the views stay valid after the call. `tree` is
   * the Merkle tree of the records before this one (live: it grows as the scan goes on), so a
   * caller checking heads of its own needs no second accumulator.
   */
  readonly onEntry?: (record: ScannedRecord, tree: MerkleTreeView) => void;
}

/** The read side of the scan's Merkle tree. */
export type MerkleTreeView = Pick<MerkleAccumulator, 'size' | 'root'>;

const fail = (problem: LogProblem, message: string, record?: number): LogCheck =>
  Object.freeze(record === undefined ? { ok: false, problem, message } : { ok: false, problem, message, record });

/**
 * Verifies the log file at `file` against `options.heads`. `ok` carries the size and root of the
 * whole file (a crash-torn tail is reported in `tornBytes`, not counted).
 */
export async function verifyLogFile(file: string, options: VerifyLogOptions = {}): Promise<LogCheck> {
  const heads = [...(options.heads ?? [])].sort((a, b) => a.size - b.size);
  if (heads.length > 0 && options.publicKey === undefined)
    throw new TypeError('verifying tree heads needs the operator public key');
  for (const head of heads) {
    if (!verifyTreeHead(head, options.publicKey!))
      return fail(
        'bad-signature',
        `the tree head of size ${String(head.size)} is malformed or not signed by the log operator`,
      );
    if (options.logId !== undefined && head.logId !== options.logId)
      return fail('other-log', `a tree head names log ${head.logId}, not ${options.logId}`);
  }
  let h;
  try {
    h = await open(file, 'r');
  } catch (e) {
    return fail('unreadable', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    if (!(await hasLogHeader(h))) return fail('not-a-log', `${file} is not a fedstat transparency log (bad header)`);
    const acc = new MerkleAccumulator();
    let next = 0; // the next head to check
    const checkHeads = (): LogCheck | null => {
      for (; next < heads.length && heads[next]!.size === acc.size; next++) {
        if (!hashEquals(acc.root(), heads[next]!.rootHash)) {
          return fail(
            'root-mismatch',
            `the first ${acc.size} entries do not have the root the tree head of that size signed: entries were altered, removed, inserted or reordered`,
          );
        }
      }
      return null;
    };
    const scan = scanRecords(h);
    let step = await scan.next();
    for (; step.done !== true; step = await scan.next()) {
      const bad = checkHeads();
      if (bad !== null) return bad;
      options.onEntry?.(step.value, acc);
      acc.append(step.value.leafHash);
    }
    const bad = checkHeads();
    if (bad !== null) return bad;
    if (next < heads.length) {
      return fail(
        'truncated',
        `the file has ${acc.size} entries but a tree head was signed for ${heads[next]!.size}: entries were removed from the end`,
      );
    }
    return Object.freeze({ ok: true, size: acc.size, rootHash: acc.root(), tornBytes: step.value.tornBytes });
  } catch (e) {
    if (e instanceof LogCorruptError) return fail('corrupt', `${file} is corrupt at ${e.message}`, e.index);
    return fail('unreadable', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  } finally {
    await h.close();
  }
}
