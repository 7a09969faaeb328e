/**
 * Remembers the query ids an agency answered until they expire, so a captured query replayed
 * within its validity window is refused. Expired queries are refused by the envelope check, so
 * the set never needs to outlive them.
 */
import { FedstatError } from '../errors.js';

export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly capacity = 100_000) {}

  /** Records the query id or throws REPLAY if it was admitted before. */
  admit(queryId: string, expiresAt: number, now: number): void {
    this.prune(now);
    if (this.seen.has(queryId))
      throw new FedstatError('REPLAY', `query ${queryId} was answered before; a coordinator never reuses a query id`);
    if (this.seen.size >= this.capacity) throw new FedstatError('UNAVAILABLE', 'too many open queries; retry later');
    this.seen.set(queryId, expiresAt);
  }

  /**
   * Drops expired ids from the oldest admitted on, stopping at the first still valid one: O(1)
   * amortised per query instead of a scan of every id. Only expired ids are ever dropped; one that
   * expired behind a longer-lived neighbour goes on a later call (or when capacity needs it).
   */
  private prune(now: number): void {
    for (const [id, exp] of this.seen) {
      if (exp >= now) break;
      this.seen.delete(id);
    }
    if (this.seen.size >= this.capacity) {
      for (const [id, exp] of this.seen) if (exp < now) this.seen.delete(id);
    }
  }
}
