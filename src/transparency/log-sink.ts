/**
 * The seam between the system's audit events (events.ts: AuditSink.append is
 * synchronous, called where things happen) and the signed log: each event is signed at once as
 * its author's entry, then handed on. Two ends:
 *
 * - `SignedEntrySink` hands each signed entry to a callback: an agency or the key authority
 *   collects its entries to send to the log operator with its answer.
 * - `TransparencyLogSink` appends each signed entry to the operator's TransparencyLogStore.
 *   Appends are asynchronous (durable only after fsync), so the sink tracks them: `flush()`
 *   resolves when every entry so far is durable and rejects with the first failure. Whoever is
 *   about to act on a logged event (release a result, hand out a tree head) awaits `flush()`
 *   first: nothing is acted on before it is in the log.
 */
import type { AuditEvent, AuditSink } from './events.js';
import { entryFromEvent } from './log-entry.js';
import type { AppendResult, TransparencyLogStore } from './log-store.js';
import { treeHeadFileFor, writeTreeHeadFile } from './tree-head-file.js';

/** Signs every event as `author` and passes the entry bytes to `deliver`. */
export class SignedEntrySink implements AuditSink {
  readonly author: string;
  readonly #secretKey: Uint8Array;
  readonly #deliver: (entry: Uint8Array, event: AuditEvent) => void;

  /** `secretKey`: the author's 64-byte Ed25519 secret key (as in its key file). */
  constructor(author: string, secretKey: Uint8Array, deliver: (entry: Uint8Array, event: AuditEvent) => void) {
    this.author = author;
    this.#secretKey = secretKey;
    this.#deliver = deliver;
  }

  /** Signs and delivers; RangeError for a malformed event (a caller's bug). */
  append(event: AuditEvent): void {
    this.#deliver(entryFromEvent(event, this.author, this.#secretKey), event);
  }
}

/** Signs every event as `author` and appends it to `store`; see `flush`. */
export class TransparencyLogSink implements AuditSink {
  readonly store: TransparencyLogStore;
  readonly #author: string;
  readonly #secretKey: Uint8Array;
  #pending: Promise<AppendResult>[] = [];
  /** Head publications run one at a time, so the published file only ever grows. */
  #publishing: Promise<void> = Promise.resolve();
  /** Size of the head in the published file (the store checked the log extends it when it opened). */
  #published: number;

  constructor(store: TransparencyLogStore, author: string, secretKey: Uint8Array) {
    this.store = store;
    this.#author = author;
    this.#secretKey = secretKey;
    this.#published = store.opened.publishedHead?.size ?? -1;
  }

  append(event: AuditEvent): void {
    void this.appendEntry(entryFromEvent(event, this.#author, this.#secretKey));
  }

  /**
   * Signs and appends `event` and waits until it and everything before it are durable: for an
   * entry others must be shown in the log before anything else happens (a query). Its bytes and index.
   */
  async record(event: AuditEvent): Promise<{ entry: Uint8Array; index: number }> {
    const entry = entryFromEvent(event, this.#author, this.#secretKey);
    const appended = this.appendEntry(entry);
    await this.flush();
    return { entry, index: (await appended).index };
  }

  /** Appends an entry another party signed (an agency's, delivered with its answer). */
  appendEntry(entry: Uint8Array): Promise<AppendResult> {
    const p = this.store.append(entry);
    p.catch(() => undefined); // reported by flush, never as an unhandled rejection
    this.#pending.push(p);
    return p;
  }

  /**
   * Resolves with the appends since the last flush once all are durable (each with its index and
   * a signed head covering it); rejects with the first of them that failed (FedstatError from
   * the store: the events of a failed append are not in the log, so do not act on them).
   */
  async flush(): Promise<AppendResult[]> {
    const batch = this.#pending;
    this.#pending = [];
    const results = await Promise.allSettled(batch);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<AppendResult>).value);
  }

  /**
   * Flushes, then publishes the store's current signed head beside the log (`LOG.head.json`,
   * replaced atomically) unless a head at least as large is published already. The head covers
   * only committed entries, which are fsynced before the store counts them, so a published head
   * never covers an entry a crash could lose (the store refuses to reopen a log shorter than its
   * published head). Rejects like `flush`, or with IO when the head cannot be written.
   */
  async publish(): Promise<void> {
    await this.flush();
    const run = this.#publishing.then(async () => {
      const head = this.store.treeHead();
      if (head.size <= this.#published) return;
      await writeTreeHeadFile(treeHeadFileFor(this.store.file), head);
      this.#published = head.size;
    });
    this.#publishing = run.catch(() => undefined);
    return run;
  }
}
