/**
 * The coordinator's side of the transparency log for one query. The query entry is made durable
 * before anyone is asked; every agency and the key authority then receive, with the request, the
 * proof that the query is in the log and that the log extends the head they last accepted
 * (built from the head they report in Describe). What the others sign about the query (budget
 * charges, contributions, refusals, the decryption) is checked to be theirs, about this query and
 * of a kind their role may log before it is appended; the result is released only after all of it
 * is durable, and the new head is published beside the log.
 */
import { toHex } from '../crypto/digest.js';
import { FedstatError, describeError, isFedstatError } from '../errors.js';
import type { AuditEvent } from '../transparency/events.js';
import type { Federation } from '../federation/federation.js';
import type { SignedQuery } from '../protocol/query-envelope.js';
import { queryDigest } from '../protocol/query-envelope.js';
import type { EntryKind } from '../transparency/entry-shape.js';
import { authorProblem, openEntry } from '../transparency/log-entry.js';
import type { TransparencyLogSink } from '../transparency/log-sink.js';
import { buildQueryLogProof, type QueryLogProof } from '../transparency/query-log-proof.js';

type QueryEvent = Extract<AuditEvent, { type: 'query' }>;

/** Proofs rebuilt after STALE_HEAD before a party counts as failed (each race needs a concurrent query). */
export const STALE_RETRIES = 2;

/** The signed refusal entry a refusing party attached to its error (details.logEntry), if any. */
export function refusalEntry(e: unknown): Uint8Array | undefined {
  const entry = isFedstatError(e) ? e.details['logEntry'] : undefined;
  return entry instanceof Uint8Array ? entry : undefined;
}

export class QueryLog {
  readonly #sink: TransparencyLogSink;
  readonly #federation: Federation;
  readonly #queryId: string;
  readonly #entry: Uint8Array;
  readonly #index: number;

  private constructor(
    sink: TransparencyLogSink,
    federation: Federation,
    queryId: string,
    entry: Uint8Array,
    index: number,
  ) {
    this.#sink = sink;
    this.#federation = federation;
    this.#queryId = queryId;
    this.#entry = entry;
    this.#index = index;
  }

  /** The index of the query's entry in the log. */
  get index(): number {
    return this.#index;
  }

  /** Logs the query (its digest binds the signed envelope) durably; the proofs are built from this entry. */
  static async begin(
    sink: TransparencyLogSink,
    federation: Federation,
    signed: SignedQuery,
    event: Omit<QueryEvent, 'type' | 'digest'>,
  ): Promise<QueryLog> {
    const { entry, index } = await sink.record({ type: 'query', ...event, digest: toHex(queryDigest(signed.bytes)) });
    return new QueryLog(sink, federation, event.queryId, entry, index);
  }

  /**
   * The proof for a recipient whose last accepted head has `from` entries (BAD_MESSAGE if the log
   * is shorter), with receipts for the `logged` entries it reported unlogged. The head is
   * published first, so that the heads parties hold are published ones (bar entries another
   * query appends in between), which the operator checks the log against when it reopens it.
   */
  async proofFor(
    from: number,
    recipient: string,
    logged: readonly { leafHash: Uint8Array; index: number }[] = [],
  ): Promise<QueryLogProof> {
    await this.#sink.publish();
    return buildQueryLogProof(this.#sink.store, this.#index, this.#entry, from, recipient, logged);
  }

  /**
   * Appends entries `party` signed about this query after checking each: it opens under the
   * party's key, the party's role may log its kind, the kind is one of `kinds`, and it is about
   * this query. BAD_MESSAGE naming the party otherwise (nothing of the batch is appended then),
   * so the log never holds an entry the coordinator could not vouch it received.
   */
  appendFrom(party: string, entries: readonly Uint8Array[], kinds: readonly EntryKind[]): void {
    this.appendChecked(checkedEntries(this.#federation, party, this.#queryId, entries, kinds));
  }

  /** Appends entries that already passed `checkedEntries` for this query (round 1 checks them before a contribution counts). */
  appendChecked(entries: readonly Uint8Array[]): void {
    for (const entry of entries) void this.#sink.appendEntry(entry);
  }

  /**
   * Appends the signed refusal `party` sent with its error (see `refusalEntry`), when it is the
   * party's own refusal of this query; anything else is not logged (the failure itself is still
   * reported by the caller).
   */
  appendRefusal(party: string, entry: Uint8Array | undefined): void {
    if (entry === undefined) return;
    try {
      this.appendFrom(party, [entry], ['refusal']);
    } catch {
      // not the party's own signed refusal of this query
    }
  }

  /** Waits until everything appended is durable. */
  async flush(): Promise<void> {
    await this.#sink.flush();
  }

  /** Waits until everything appended is durable, then publishes the signed head beside the log. */
  publish(): Promise<void> {
    return this.#sink.publish();
  }
}

/** See QueryLog.appendFrom; exported for the contribution check in round 1. */
export function checkedEntries(
  federation: Federation,
  party: string,
  queryId: string,
  entries: readonly Uint8Array[],
  kinds: readonly EntryKind[],
): readonly Uint8Array[] {
  for (const bytes of entries) {
    let opened;
    try {
      opened = openEntry(bytes, federation);
    } catch (e) {
      throw new FedstatError('BAD_MESSAGE', `${party} sent a log entry that does not open: ${describeError(e)}`);
    }
    const { event, author } = opened;
    if (
      author.id !== party ||
      authorProblem(event, author) !== null ||
      !kinds.includes(event.type) ||
      !('queryId' in event) ||
      event.queryId !== queryId
    ) {
      throw new FedstatError(
        'BAD_MESSAGE',
        `${party} sent a log entry that is not its own ${kinds.join(' or ')} record of query ${queryId}`,
      );
    }
  }
  return entries;
}
