/**
 * What a party that keeps tree heads checks: an agency with the last head it saw, the key
 * authority before it decrypts, an auditor holding heads collected from several agencies.
 *
 * Two validly signed heads of one log must satisfy: same size ⇒ same root (else the operator
 * showed different logs to different parties: a fork), and the later one extends the earlier one
 * (consistency proof), never shrinks (rollback). These checks return a `HeadCheck` and never
 * throw, like the proof verifiers; `headCheckError` turns a failure into the FedstatError
 * (BAD_MESSAGE) a caller refusing to go on would throw.
 */
import { FedstatError } from '../errors.js';
import { verifyConsistency } from './consistency-proof.js';
import { verifyInclusion } from './inclusion-proof.js';
import { hashEquals } from './merkle-hash.js';
import { verifyTreeHead, type SignedTreeHead } from './tree-head.js';

/**
 * bad-signature: a head is malformed or not signed by the operator's key. other-log: the heads
 * name different logs. rollback: the newer head is smaller. fork: two roots for one size.
 * inconsistent: the consistency proof fails (history was rewritten, or the proof is bad).
 * not-included: an inclusion proof fails against the head.
 */
type HeadProblem = 'bad-signature' | 'other-log' | 'rollback' | 'fork' | 'inconsistent' | 'not-included';

export type HeadCheck =
  { readonly ok: true } | { readonly ok: false; readonly problem: HeadProblem; readonly message: string };

const OK: HeadCheck = Object.freeze({ ok: true });
const fail = (problem: HeadProblem, message: string): HeadCheck => Object.freeze({ ok: false, problem, message });

/**
 * Checks that `newer` is a signed, consistent continuation of `older` (both by `publicKey`),
 * given the consistency proof from older.size to newer.size (empty for equal sizes).
 */
export function checkConsistentHeads(
  older: SignedTreeHead,
  newer: SignedTreeHead,
  proof: readonly Uint8Array[],
  publicKey: Uint8Array,
): HeadCheck {
  if (!verifyTreeHead(older, publicKey))
    return fail('bad-signature', 'the earlier tree head is malformed or not signed by the log operator');
  if (!verifyTreeHead(newer, publicKey))
    return fail('bad-signature', 'the new tree head is malformed or not signed by the log operator');
  if (older.logId !== newer.logId)
    return fail('other-log', `the tree heads belong to different logs (${older.logId}, ${newer.logId})`);
  if (newer.size < older.size) return fail('rollback', `the log shrank from ${older.size} to ${newer.size} entries`);
  if (newer.size === older.size && !hashEquals(newer.rootHash, older.rootHash)) {
    return fail('fork', `two different roots were signed for size ${newer.size}: the log was forked`);
  }
  if (!verifyConsistency(older.size, newer.size, older.rootHash, newer.rootHash, proof)) {
    return fail(
      'inconsistent',
      `the tree of size ${newer.size} does not extend the tree of size ${older.size}: the log was rewritten or the proof is wrong`,
    );
  }
  return OK;
}

/** Checks that `leafHash` is entry `index` under a head signed by `publicKey`. */
export function checkInclusion(
  head: SignedTreeHead,
  index: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  publicKey: Uint8Array,
): HeadCheck {
  if (!verifyTreeHead(head, publicKey))
    return fail('bad-signature', 'the tree head is malformed or not signed by the log operator');
  if (!verifyInclusion(index, head.size, leafHash, proof, head.rootHash)) {
    return fail('not-included', `entry ${index} is not proven to be in the log of size ${head.size}`);
  }
  return OK;
}

/** The FedstatError for a failed check (BAD_MESSAGE, with the problem in `details`). */
export function headCheckError(check: HeadCheck & { ok: false }): FedstatError {
  return new FedstatError('BAD_MESSAGE', `${check.message}; refuse this log and report it to the federation`, {
    details: { problem: check.problem },
  });
}

/**
 * The last tree head a party accepted, and the rule for moving it forward: a new head is
 * accepted only with a proof that it extends the current one. An agency keeps one of these per
 * log (persisting `current` is the caller's job) and refuses queries when `observe` fails.
 */
export class TreeHeadWitness {
  readonly publicKey: Uint8Array;
  #current: SignedTreeHead | undefined;

  /** `current` is the last accepted head, if any (it is verified: a bad one throws RangeError). */
  constructor(publicKey: Uint8Array, current?: SignedTreeHead) {
    if (current !== undefined && !verifyTreeHead(current, publicKey))
      throw new RangeError('the stored tree head is not signed by this key');
    this.publicKey = Uint8Array.from(publicKey);
    this.#current = current;
  }

  get current(): SignedTreeHead | undefined {
    return this.#current;
  }

  /**
   * Accepts `head` if it is signed and extends the current head (`proof` from current.size to
   * head.size); keeps the larger of the two. The first head is accepted on its signature alone.
   */
  observe(head: SignedTreeHead, proof: readonly Uint8Array[]): HeadCheck {
    const cur = this.#current;
    if (cur === undefined) {
      if (!verifyTreeHead(head, this.publicKey))
        return fail('bad-signature', 'the tree head is malformed or not signed by the log operator');
      this.#current = head;
      return OK;
    }
    const check = checkConsistentHeads(cur, head, proof, this.publicKey);
    if (check.ok && (head.size > cur.size || head.timestamp > cur.timestamp)) this.#current = head;
    return check;
  }
}
