/**
 * A party's memory of the log: the last tree head it accepted, kept in a file so that a restart
 * does not forget it. Agencies and the key authority admit every request through one of these:
 * the logged query must be in the log (query-log-proof.ts), and the log must extend the head the
 * party accepted before. A log that forked (another root for a size already seen), shrank or was
 * rewritten is refused with BAD_MESSAGE, every time it is shown, and the stored head never moves
 * to it.
 *
 * Without a file the head lives in memory, and a restarted party trusts the first signed head it
 * is shown again (trust on first use); `--log-witness FILE` closes that gap.
 */
import { existsSync } from 'node:fs';
import { FedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import { hashEquals } from '../merkle/merkle-hash.js';
import { headCheckError, TreeHeadWitness } from '../merkle/head-checks.js';
import { logOperator } from './log-operator.js';
import { checkQueryLogProof, checkReceipts, type ExpectedQuery, type QueryLogProof } from './query-log-proof.js';
import { readTreeHeadFile, writeTreeHeadFile } from './tree-head-file.js';
import type { SignedTreeHead } from '../merkle/tree-head.js';

/**
 * The last transparency-log head a party accepted, in memory or kept in a file
 * (`LogWitness.open`); an agency or key authority admits every query through it.
 */
export class LogWitness {
  readonly #federation: Federation;
  readonly #operatorKey: Uint8Array;
  readonly #witness: TreeHeadWitness;
  readonly #file: string | undefined;
  readonly #who: string;
  /** Admissions run one at a time: check, move forward, persist. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    federation: Federation,
    operatorKey: Uint8Array,
    witness: TreeHeadWitness,
    file: string | undefined,
    who: string,
  ) {
    this.#federation = federation;
    this.#operatorKey = operatorKey;
    this.#witness = witness;
    this.#file = file;
    this.#who = who;
  }

  /**
   * The witness of party `who` for `federation`'s log, from `file` when given (created on the
   * first accepted head). CONFIG_INVALID when the file holds a head of another log or one the
   * log operator did not sign; IO when it cannot be read.
   */
  static async open(federation: Federation, who: string, file?: string): Promise<LogWitness> {
    const operatorKey = logOperator(federation).publicKey;
    let current: SignedTreeHead | undefined;
    if (file !== undefined && existsSync(file)) {
      const heads = await readTreeHeadFile(file);
      current = heads.at(-1);
      if (heads.length !== 1 || current === undefined || current.logId !== federation.id) {
        throw new FedstatError(
          'CONFIG_INVALID',
          `${file} does not hold one tree head of this federation's log; give ${who} its own witness file`,
        );
      }
    }
    let witness: TreeHeadWitness;
    try {
      witness = new TreeHeadWitness(operatorKey, current);
    } catch {
      throw new FedstatError(
        'CONFIG_INVALID',
        `the tree head in ${file ?? '?'} is not signed by this federation's log operator; it belongs to another federation or was altered`,
      );
    }
    return new LogWitness(federation, operatorKey, witness, file, who);
  }

  /** The last head accepted, if any. */
  get head(): SignedTreeHead | undefined {
    return this.#witness.current;
  }

  /**
   * Admits a request about `expected` that came with `proof`:
   * - no proof: refused (POLICY_REFUSED) when the federation requires the log, else nothing to check;
   * - the proof must show the expected query in the log (BAD_MESSAGE);
   * - the proof must start from the head this party holds (STALE_HEAD otherwise: a proof built
   *   before another request moved this party's head; the sender rebuilds it and asks again);
   * - the new head must extend the held one (BAD_MESSAGE naming fork, rollback or rewrite).
   * The accepted head is persisted before this resolves.
   */
  admit(proof: QueryLogProof | undefined, expected: ExpectedQuery): Promise<void> {
    const run = this.#queue.then(() => this.#admit(proof, expected));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The receipts of a proof `admit` accepted, checked under its head: leaf hash (hex) → log
   * index. BAD_MESSAGE when one does not prove its entry (the operator sent a false receipt).
   */
  receipts(proof: QueryLogProof): Map<string, number> {
    return checkReceipts(proof, this.#operatorKey);
  }

  async #admit(proof: QueryLogProof | undefined, expected: ExpectedQuery): Promise<void> {
    if (proof === undefined) {
      if (!this.#federation.policy.transparencyLog) return;
      throw new FedstatError(
        'POLICY_REFUSED',
        `the federation requires every query to be in its transparency log, and query ${expected.queryId} came without a log proof; run the coordinator with --transparency-log`,
      );
    }
    checkQueryLogProof(proof, this.#federation, this.#operatorKey, expected);
    const held = this.#witness.current;
    const sameHead =
      held !== undefined && held.size === proof.treeHead.size && hashEquals(held.rootHash, proof.treeHead.rootHash);
    if (!sameHead && proof.from !== (held?.size ?? 0)) {
      throw new FedstatError(
        'STALE_HEAD',
        `the log proof starts from a head of ${proof.from} entries, but ${this.#who} holds one of ${held?.size ?? 0}; describe it again and resend`,
      );
    }
    const before = held;
    const check = sameHead ? { ok: true as const } : this.#witness.observe(proof.treeHead, proof.consistency);
    if (!check.ok) throw headCheckError(check);
    const after = this.#witness.current;
    if (this.#file !== undefined && after !== undefined && after !== before) await writeTreeHeadFile(this.#file, after);
  }
}
