/**
 * The log as rows a person can read: who asked what, who answered, what was released, what
 * budget was spent. Streams the file (one row per entry, filtered), so any log size works.
 *
 * With a federation every entry's signature and author are checked and a row says whether they
 * held; without one the rows show what the entries claim (run `audit verify` to check them).
 */
import { open } from 'node:fs/promises';
import type { AuditEvent } from '../transparency/events.js';
import { FedstatError, isFedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import { displayCanonicalRho } from '../dp/rho.js';
import { isRecord } from '../util/is-record.js';
import { authorProblem, decodeEntry, openEntry } from '../transparency/log-entry.js';
import { hasLogHeader, LogCorruptError, scanRecords } from '../transparency/log-scan.js';

/** One log entry as `auditRows` shows it. */
export interface AuditRow {
  /** The entry's index in the log, from 0. */
  readonly index: number;
  /** ISO 8601 time the author recorded (UTC), or '' for an entry that does not decode. */
  readonly time: string;
  /** The entry kind, or 'malformed'. */
  readonly kind: string;
  /** The author's party id as the entry claims it. */
  readonly who: string;
  /** The query the entry is about, or '' for an entry that does not decode. */
  readonly queryId: string;
  /** The query's dataset, when the log shows it. */
  readonly dataset: string;
  /** One line: what happened. */
  readonly what: string;
  /** Signature and author checked against the federation: true/false; null without a federation. */
  readonly verified: boolean | null;
}

/** Which entries `auditRows` yields (all filters must hold), and whether it checks signatures. */
export interface AuditShowOptions {
  /** Only entries by this party or naming it (asked, contributed, released). */
  readonly agency?: string;
  /** Only entries about queries on this dataset. */
  readonly dataset?: string;
  /** Check signatures against this federation. */
  readonly federation?: Federation;
  /** Only entries from this index on (say, the size of the last tree head you saw). */
  readonly from?: number;
}

const list = (ids: readonly string[]): string => (ids.length === 0 ? 'none' : ids.join(','));

/** ISO 8601 UTC, or the raw number for a time past what Date represents (year 275760). */
const isoTime = (ms: number): string => (ms <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`);

/** The one-line summary of an event. */
export function describeEvent(e: AuditEvent): string {
  switch (e.type) {
    case 'query':
      return `asked ${list(e.agencies)}: ${e.sql}`;
    case 'contribution':
      return `contributed (signature digest ${e.digest.slice(0, 16)}…)`;
    case 'refusal':
      return `refused: ${e.reason}`;
    case 'survivors':
      return `fixed survivors ${list(e.survivors)}; dropped ${list(e.dropped)}`;
    case 'unmask':
      return `unmasked for survivors ${list(e.survivors)}; dropped ${list(e.dropped)}`;
    case 'decryption':
      return `decrypted the sum of ${list(e.contributors)} (${e.ciphertextDigests.length} ciphertexts); dropped ${list(e.dropped)}`;
    case 'budget':
      return `charged rho ${displayCanonicalRho(e.rho)} on ${e.dataset}: spent ${displayCanonicalRho(e.spent)} of ${displayCanonicalRho(e.budget)}`;
    case 'release':
      return `released ${e.rows} rows (${e.suppressed} cells suppressed) from ${list(e.contributors)}, ${e.rho === null ? 'exact' : `rho ${displayCanonicalRho(e.rho)}`}`;
  }
}

function involves(e: AuditEvent, who: string, author: string): boolean {
  if (author === who) return true;
  switch (e.type) {
    case 'query':
      return e.agencies.includes(who);
    case 'survivors':
      return e.survivors.includes(who) || e.dropped.includes(who);
    case 'decryption':
    case 'release':
      return e.contributors.includes(who);
    default:
      return 'agencyId' in e && e.agencyId === who;
  }
}

/** The row of one entry, or null when the filters leave it out; `datasets` maps query ids to datasets. */
function rowOf(
  index: number,
  entry: Uint8Array,
  options: AuditShowOptions,
  datasets: Map<string, string>,
): AuditRow | null {
  let event: AuditEvent;
  let author: string;
  let verified: boolean | null = null;
  try {
    ({ event, author } = decodeEntry(entry));
  } catch (e) {
    if (!isFedstatError(e, 'BAD_MESSAGE')) throw e;
    if (options.agency !== undefined || options.dataset !== undefined) return null;
    return { index, time: '', kind: 'malformed', who: '', queryId: '', dataset: '', what: e.message, verified: false };
  }
  if (options.federation !== undefined) {
    try {
      const opened = openEntry(entry, options.federation);
      verified = authorProblem(opened.event, opened.author) === null;
    } catch (e) {
      if (!isFedstatError(e, 'BAD_MESSAGE')) throw e;
      verified = false;
    }
  }
  if (event.type === 'query' && isRecord(event.plan) && typeof event.plan['dataset'] === 'string')
    datasets.set(event.queryId, event.plan['dataset']);
  const dataset = event.type === 'budget' ? event.dataset : (datasets.get(event.queryId) ?? '');
  if (options.dataset !== undefined && dataset !== options.dataset) return null;
  if (options.agency !== undefined && !involves(event, options.agency, author)) return null;
  return {
    index,
    time: isoTime(event.at),
    kind: event.type,
    who: author,
    queryId: event.queryId,
    dataset,
    what: describeEvent(event),
    verified,
  };
}

/**
 * Streams the rows of the log at `file`, one record at a time. Throws FedstatError IO when it
 * cannot be read and DATA_INVALID when it is not a log or is corrupt (rows before the damage
 * were yielded).
 */
export async function* auditRows(file: string, options: AuditShowOptions = {}): AsyncGenerator<AuditRow> {
  const from = options.from ?? 0;
  if (!Number.isSafeInteger(from) || from < 0) throw new RangeError('from is an entry index');
  let h;
  try {
    h = await open(file, 'r');
  } catch (e) {
    throw new FedstatError(
      'IO',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; check the path`,
      { cause: e },
    );
  }
  try {
    if (!(await hasLogHeader(h)))
      throw new FedstatError(
        'DATA_INVALID',
        `${file} is not a fedstat transparency log (bad header); pass the log file the log operator published`,
      );
    const datasets = new Map<string, string>();
    try {
      for await (const r of scanRecords(h)) {
        // Earlier entries are still read: a later entry's dataset comes from its query's plan.
        const row = rowOf(r.index, r.entry, options, datasets);
        if (row !== null && r.index >= from) yield row;
      }
    } catch (e) {
      if (e instanceof LogCorruptError)
        throw new FedstatError(
          'DATA_INVALID',
          `${file} is corrupt at ${e.message}; run fedstat audit verify for the details`,
          { cause: e },
        );
      throw e;
    }
  } finally {
    await h.close();
  }
}
