/**
 * What one answer leaves behind. Every event goes to the agency's audit sink and is signed as
 * this agency's transparency-log entry: a recorded event travels with the contribution, a refusal
 * with the error, for the log operator to append.
 */
import { FedstatError, type ErrorCode } from '../errors.js';
import type { AuditEvent } from '../transparency/events.js';
import { entryFromEvent } from '../transparency/log-entry.js';
import type { AgencyContext } from './agency-context.js';

/** The events and signed log entries of one answer (one query at one agency). */
export class AnswerTrail {
  readonly #ctx: Pick<AgencyContext, 'me' | 'secrets' | 'audit'>;
  readonly #queryId: string;
  readonly #at: number;
  readonly #entries: Uint8Array[] = [];

  constructor(ctx: Pick<AgencyContext, 'me' | 'secrets' | 'audit'>, queryId: string, at: number) {
    this.#ctx = ctx;
    this.#queryId = queryId;
    this.#at = at;
  }

  /** The signed entries of the events recorded so far, in order. */
  get entries(): Uint8Array[] {
    return this.#entries;
  }

  /** Appends `event` to the audit sink and keeps its signed entry (or the one given, already signed). */
  record(event: AuditEvent, entry?: Uint8Array): void {
    this.#ctx.audit.append(event);
    this.#entries.push(entry ?? entryFromEvent(event, this.#ctx.me.id, this.#ctx.secrets.signing.secretKey));
  }

  /** Refuses the query: a `refusal` event, and an error carrying its signed entry (`details.logEntry`). */
  refuse(code: ErrorCode, reason: string): never {
    const { me, secrets, audit } = this.#ctx;
    const event: AuditEvent = { type: 'refusal', at: this.#at, queryId: this.#queryId, agencyId: me.id, reason };
    audit.append(event);
    throw new FedstatError(code, `agency ${me.id} refuses: ${reason}`, {
      details: { logEntry: entryFromEvent(event, me.id, secrets.signing.secretKey) },
    });
  }
}
