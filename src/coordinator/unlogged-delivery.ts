/**
 * The log operator's side of "no budget spent without a log entry": agencies report, in
 * Describe, the signed budget entries of charges the log is not yet proven to hold (a query
 * failed before its entries were appended, or the coordinator died mid-query). Before its own
 * query entry, the coordinator appends each one the log does not hold yet (once, even when two
 * queries race), and hands back, with the query's log proof, a receipt for every one of them.
 */
import { toHex } from '../crypto/digest.js';
import type { Federation } from '../federation/federation.js';
import type { AgencyDescription } from '../protocol/links.js';
import { authorProblem, openEntry } from '../transparency/log-entry.js';
import type { TransparencyLogSink } from '../transparency/log-sink.js';
import { hashLeaf } from '../merkle/merkle-hash.js';

/** An entry the log holds, by leaf hash and index: what a receipt proves. */
export interface LoggedEntry {
  readonly leafHash: Uint8Array;
  readonly index: number;
}

export class UnloggedDelivery {
  readonly #sink: TransparencyLogSink;
  readonly #federation: Federation;
  /** Appends in flight, by hex leaf hash, so that concurrent queries append an entry once. */
  readonly #appending = new Map<string, Promise<number>>();

  constructor(sink: TransparencyLogSink, federation: Federation) {
    this.#sink = sink;
    this.#federation = federation;
  }

  /**
   * Appends what the log lacks of the entries each agency reported, and resolves (once they are
   * durable) with the log index of each, per agency. An entry that is not the agency's own signed
   * budget charge is ignored: the coordinator logs only what it can vouch was signed by its author.
   */
  async deliver(described: readonly AgencyDescription[]): Promise<Map<string, LoggedEntry[]>> {
    const pending: Promise<void>[] = [];
    const out = new Map<string, LoggedEntry[]>();
    for (const d of described) {
      const logged: LoggedEntry[] = [];
      out.set(d.agencyId, logged);
      for (const entry of d.unloggedEntries ?? []) {
        if (!this.#isBudgetEntryOf(d.agencyId, entry)) continue;
        const leafHash = hashLeaf(entry);
        pending.push(
          this.#appendOnce(entry, leafHash).then((index) => {
            logged.push({ leafHash, index });
          }),
        );
      }
    }
    await Promise.all(pending);
    if (pending.length > 0) await this.#sink.flush();
    return out;
  }

  #isBudgetEntryOf(agencyId: string, entry: Uint8Array): boolean {
    try {
      const { event, author } = openEntry(entry, this.#federation);
      return event.type === 'budget' && author.id === agencyId && authorProblem(event, author) === null;
    } catch {
      return false;
    }
  }

  #appendOnce(entry: Uint8Array, leafHash: Uint8Array): Promise<number> {
    const held = this.#sink.store.indexOf(leafHash);
    if (held >= 0) return Promise.resolve(held);
    const key = toHex(leafHash);
    let appending = this.#appending.get(key);
    if (appending === undefined) {
      appending = this.#sink
        .appendEntry(entry)
        .then((r) => r.index)
        .finally(() => this.#appending.delete(key));
      this.#appending.set(key, appending);
    }
    return appending;
  }
}
