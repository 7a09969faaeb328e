/**
 * @internal The on-disk form of a budget ledger: one canonical JSON line per record, hash-chained.
 *
 * Line 0 is a header `{"format":"fedstat-budget-ledger","v":1,"prev":"00…","hash":…}`; every
 * later line is a charge `{"seq","dataset","queryId","rho","at","prev","hash"}` with keys in
 * exactly that order, or a note about an earlier charge (`LedgerNote`: its signed log entry, and
 * that the transparency log holds it). `hash` = SHA-256 of the line's JSON without `hash`, and `prev` is the hash
 * of the line before, so a flipped bit, an edited ρ, a deleted, reordered or inserted line all
 * break the chain. Parsing re-serializes each line and demands byte equality: one spelling only.
 */
import { createHash } from 'node:crypto';
import { FedstatError } from '../errors.js';
import { parseCanonicalRho, rhoToString, type Rho } from './rho.js';

const LEDGER_FORMAT = 'fedstat-budget-ledger';
const LEDGER_VERSION = 1;
const GENESIS_HASH = '0'.repeat(64);
/** Longest dataset name or query id a record may carry (keeps lines and messages bounded). */
export const MAX_NAME = 256;

/** One recorded charge, as `entries()` returns it and the audit log will pick it up. */
export interface LedgerEntry {
  /** 1-based position in the ledger (the header is 0). */
  readonly seq: number;
  readonly dataset: string;
  readonly queryId: string;
  readonly rho: Rho;
  /** When the charge was made, ISO 8601 UTC (`Date.prototype.toISOString`). */
  readonly at: string;
  /** Hex SHA-256 of the previous line (the header's hash for seq 1). */
  readonly prev: string;
  /** Hex SHA-256 of this line without its hash: the chain head after this charge. */
  readonly hash: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The header line and its hash. */
export function encodeHeader(): { line: string; hash: string } {
  const body = { format: LEDGER_FORMAT, v: LEDGER_VERSION, prev: GENESIS_HASH };
  const hash = sha256(JSON.stringify(body));
  return { line: JSON.stringify({ ...body, hash }), hash };
}

/** Encodes a charge that follows `prev`; returns the entry and its line (no trailing newline). */
export function encodeCharge(fields: Omit<LedgerEntry, 'hash'>): { entry: LedgerEntry; line: string } {
  const body = {
    seq: fields.seq,
    dataset: fields.dataset,
    queryId: fields.queryId,
    rho: rhoToString(fields.rho),
    at: fields.at,
    prev: fields.prev,
  };
  const hash = sha256(JSON.stringify(body));
  const entry: LedgerEntry = Object.freeze({ ...fields, hash });
  return { entry, line: JSON.stringify({ ...body, hash }) };
}

/** Why a line is rejected; the ledger turns it into one FedstatError naming file and line. */
export class RecordError extends Error {}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function parseObject(line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new RecordError('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RecordError('not a JSON object');
  return v as Record<string, unknown>;
}

/** Validates the header line; returns its hash. */
export function decodeHeader(line: string): string {
  const { line: expected, hash } = encodeHeader();
  if (line === expected) return hash;
  const o = parseObject(line);
  if (o.format !== LEDGER_FORMAT) throw new RecordError('not a fedstat budget ledger (bad header)');
  if (o.v !== LEDGER_VERSION) throw new RecordError(`unsupported ledger version ${String(o.v)}`);
  throw new RecordError('header does not match its hash');
}

/** Validates one charge line against the expected sequence number and chain head. */
export function decodeCharge(line: string, seq: number, prev: string): LedgerEntry {
  const o = parseObject(line);
  const { dataset, queryId, at, hash } = o;
  if (o.seq !== seq)
    throw new RecordError(
      `sequence number ${String(o.seq)} where ${seq} was expected (a line is missing or out of order)`,
    );
  if (o.prev !== prev) throw new RecordError('hash chain broken (a line before it was changed, removed or inserted)');
  if (typeof dataset !== 'string' || dataset.length === 0 || dataset.length > MAX_NAME)
    throw new RecordError('bad dataset');
  if (typeof queryId !== 'string' || queryId.length === 0 || queryId.length > MAX_NAME)
    throw new RecordError('bad queryId');
  if (typeof at !== 'string' || !ISO.test(at)) throw new RecordError('bad timestamp');
  if (typeof hash !== 'string' || !HEX64.test(hash)) throw new RecordError('bad hash');
  const r = typeof o.rho === 'string' ? parseCanonicalRho(o.rho) : null;
  if (r === null || r.num === 0n) throw new RecordError('bad ρ');
  const { entry, line: canonical } = encodeCharge({ seq, dataset, queryId, rho: r, at, prev });
  if (entry.hash !== hash) throw new RecordError('checksum mismatch (the line was altered)');
  if (canonical !== line) throw new RecordError('not in canonical form');
  return entry;
}

/**
 * A note about an earlier charge (line kinds besides charges, chained like them):
 * - `entry`: the agency's signed transparency-log entry of the charge, kept until the log holds it
 *   `{"note":"entry","charge":seq,"entry":base64,"prev","hash"}`;
 * - `logged`: the log holds that entry at `index`, proven under a tree head the agency accepted
 *   `{"note":"logged","charge":seq,"index":n,"prev","hash"}`.
 */
export type LedgerNote =
  | {
      readonly note: 'entry';
      readonly charge: number;
      readonly entry: Uint8Array;
      readonly prev: string;
      readonly hash: string;
    }
  | {
      readonly note: 'logged';
      readonly charge: number;
      readonly index: number;
      readonly prev: string;
      readonly hash: string;
    };

/** Distributes Omit over the union. */
type NoteFields =
  | { readonly note: 'entry'; readonly charge: number; readonly entry: Uint8Array; readonly prev: string }
  | { readonly note: 'logged'; readonly charge: number; readonly index: number; readonly prev: string };

/** Longest signed log entry a note may carry (a budget entry is well under 2 KiB). */
export const MAX_NOTE_ENTRY_BYTES = 16 * 1024;

const noteBody = (n: NoteFields): Record<string, unknown> =>
  n.note === 'entry'
    ? { note: n.note, charge: n.charge, entry: Buffer.from(n.entry).toString('base64'), prev: n.prev }
    : { note: n.note, charge: n.charge, index: n.index, prev: n.prev };

/** Encodes a note that follows `prev`; returns it with its hash and its line (no trailing newline). */
export function encodeNote(fields: NoteFields): { note: LedgerNote; line: string } {
  const body = noteBody(fields);
  const hash = sha256(JSON.stringify(body));
  return { note: Object.freeze({ ...fields, hash }), line: JSON.stringify({ ...body, hash }) };
}

/** True when the line is a note rather than a charge (charges have no `note` key). */
export function isNoteLine(line: string): boolean {
  return line.startsWith('{"note":');
}

/** Validates one note line against the chain head; `charges` is the number of charges before it. */
export function decodeNote(line: string, charges: number, prev: string): LedgerNote {
  const o = parseObject(line);
  if (o.prev !== prev) throw new RecordError('hash chain broken (a line before it was changed, removed or inserted)');
  const charge = o.charge;
  if (typeof charge !== 'number' || !Number.isSafeInteger(charge) || charge < 1 || charge > charges)
    throw new RecordError('a note about a charge that is not before it');
  let fields: NoteFields;
  if (o.note === 'entry') {
    const entry = typeof o.entry === 'string' ? Buffer.from(o.entry, 'base64') : null;
    if (entry === null || entry.length === 0 || entry.length > MAX_NOTE_ENTRY_BYTES)
      throw new RecordError('bad log entry');
    fields = { note: 'entry', charge, entry: new Uint8Array(entry), prev };
  } else if (o.note === 'logged') {
    const index = o.index;
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw new RecordError('bad log index');
    fields = { note: 'logged', charge, index, prev };
  } else {
    throw new RecordError('unknown note');
  }
  const { note, line: canonical } = encodeNote(fields);
  if (note.hash !== o.hash) throw new RecordError('checksum mismatch (the line was altered)');
  if (canonical !== line) throw new RecordError('not in canonical form');
  return note;
}

/** The FedstatError for a record that fails validation somewhere other than a torn tail. */
export function corruptLedger(file: string, lineNo: number, e: unknown): FedstatError {
  const why = e instanceof Error ? e.message : String(e);
  return new FedstatError(
    'IO',
    `budget ledger ${file} is corrupt at line ${lineNo}: ${why}; restore it from a backup (never delete it: that would reset the spent budget)`,
    { cause: e, details: { file, line: lineNo } },
  );
}
