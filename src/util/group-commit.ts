/**
 * Group commit: requests queue up while a write is in flight, and the next write takes them all at
 * once, so N concurrent appends cost one write and one fsync instead of N. The budget ledger and
 * the transparency log store both work this way; each decides in `commit` what one batch writes.
 */
import { FedstatError } from '../errors.js';

/** A queued request: `commit` settles it; a bug in `commit` rejects it. */
export interface Queued {
  reject(e: Error): void;
}

export class GroupCommit<T extends Queued> {
  #pending: T[] = [];
  #flushing: Promise<void> | null = null;
  readonly #commit: (batch: T[]) => Promise<void>;
  readonly #what: string;

  /**
   * @param commit writes one batch and settles each of its requests; it handles disk errors
   *   itself, so a throw is a bug: that batch is rejected with INTERNAL and the queue stays usable.
   * @param what names the store in the INTERNAL message, e.g. "budget ledger /x/y.ledger".
   */
  // Plain fields, not parameter properties: crash tests run this file under Node's type stripping.
  constructor(commit: (batch: T[]) => Promise<void>, what: string) {
    this.#commit = commit;
    this.#what = what;
  }

  push(request: T): void {
    this.#pending.push(request);
    this.#flushing ??= this.#flush();
  }

  /** Resolves once every request queued so far is settled. */
  async drained(): Promise<void> {
    await this.#flushing;
  }

  async #flush(): Promise<void> {
    await Promise.resolve(); // let the requests of the current tick join the first batch
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      try {
        await this.#commit(batch);
      } catch (e) {
        const err = new FedstatError('INTERNAL', `${this.#what}: unexpected failure while writing; please report it`, {
          cause: e,
        });
        for (const p of batch) p.reject(err);
      }
    }
    this.#flushing = null;
  }
}
