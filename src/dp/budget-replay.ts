/**
 * @internal Replays a budget ledger file on open: verifies the header and every record's chain
 * link and checksum, and repairs only what a crash can leave behind.
 *
 * A crash mid-append leaves the bytes after the last newline torn (the writer appends whole
 * newline-terminated lines and acknowledges after fsync, so an acknowledged record is always
 * complete). The tail is counted if it is a valid next record missing only its newline (more
 * spent, never less), and cut off otherwise. Every newline-terminated line must verify: a bad one
 * anywhere, the last one included, is corruption and `open` refuses the file rather than
 * silently dropping spent budget.
 */
import type { FileHandle } from 'node:fs/promises';
import {
  corruptLedger,
  decodeCharge,
  decodeHeader,
  decodeNote,
  encodeHeader,
  isNoteLine,
  RecordError,
  type LedgerEntry,
  type LedgerNote,
} from './budget-record.js';

export interface Replayed {
  readonly entries: LedgerEntry[];
  /** The notes about those charges, in file order. */
  readonly notes: LedgerNote[];
  /** Hash of the last valid record (the chain head). */
  readonly head: string;
  /** File length after repair: where the next record goes. */
  readonly size: number;
}

const NEWLINE = 0x0a;

async function readAll(h: FileHandle): Promise<Buffer> {
  const size = (await h.stat()).size;
  const buf = Buffer.alloc(size);
  for (let off = 0; off < size;) {
    const { bytesRead } = await h.read(buf, off, size - off, off);
    if (bytesRead === 0) return buf.subarray(0, off); // shrank under us: replay what is there
    off += bytesRead;
  }
  return buf;
}

function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RecordError('not valid UTF-8');
  }
}

/** Reads, verifies and (if a crash left a torn tail) repairs the ledger behind `h`. */
export async function replayLedger(file: string, h: FileHandle): Promise<Replayed> {
  const buf = await readAll(h);
  const complete = buf.lastIndexOf(NEWLINE) + 1;
  const tail = buf.subarray(complete);
  const header = encodeHeader();

  if (complete === 0) {
    // New file, or a crash while the header was being written: it must be a prefix of the header.
    const expected = Buffer.from(`${header.line}\n`, 'utf8');
    if (!tail.equals(expected.subarray(0, tail.length)))
      throw corruptLedger(file, 1, new RecordError('not a fedstat budget ledger (bad header)'));
    await h.truncate(0);
    await h.write(expected, 0, expected.length);
    await h.sync();
    return { entries: [], notes: [], head: header.hash, size: expected.length };
  }

  const chain = new Chain();
  let start = 0;
  for (let lineNo = 1; start < complete; lineNo++) {
    const end = buf.indexOf(NEWLINE, start);
    try {
      const line = utf8(buf.subarray(start, end));
      if (lineNo === 1) chain.head = decodeHeader(line);
      else chain.add(line);
    } catch (e) {
      if (e instanceof RecordError) throw corruptLedger(file, lineNo, e);
      throw e;
    }
    start = end + 1;
  }

  const { entries, notes } = chain;
  if (tail.length === 0) return { entries, notes, head: chain.head, size: buf.length };
  let counted = false;
  try {
    chain.add(utf8(tail));
    counted = true;
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
  }
  if (counted) {
    // Complete but for its newline: count it (it may have been acknowledged) and terminate it.
    await h.write(Buffer.from('\n'), 0, 1);
    await h.sync();
    return { entries, notes, head: chain.head, size: buf.length + 1 };
  }
  await h.truncate(complete);
  await h.sync();
  return { entries, notes, head: chain.head, size: complete };
}

/** The records read so far; `add` checks one more line against them (RecordError) before it counts. */
class Chain {
  head = '';
  readonly entries: LedgerEntry[] = [];
  readonly notes: LedgerNote[] = [];
  readonly #charged = new Set<string>();
  readonly #noted = new Set<string>();

  add(line: string): void {
    if (isNoteLine(line)) {
      const note = decodeNote(line, this.entries.length, this.head);
      const k = `${note.note}:${note.charge}`;
      if (this.#noted.has(k)) throw new RecordError(`charge ${note.charge} has two ${note.note} notes`);
      if (note.note === 'logged' && !this.#noted.has(`entry:${note.charge}`))
        throw new RecordError(`charge ${note.charge} is noted as logged before its log entry`);
      this.#noted.add(k);
      this.notes.push(note);
      this.head = note.hash;
      return;
    }
    const entry = decodeCharge(line, this.entries.length + 1, this.head);
    const k = JSON.stringify([entry.dataset, entry.queryId]);
    if (this.#charged.has(k))
      throw new RecordError(`query ${entry.queryId} is charged twice to dataset ${entry.dataset}`);
    this.#charged.add(k);
    this.entries.push(entry);
    this.head = entry.hash;
  }
}
