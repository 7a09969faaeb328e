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
import { corruptLedger, decodeCharge, decodeHeader, encodeHeader, RecordError, type LedgerEntry } from './budget-record.js';

export interface Replayed {
  readonly entries: LedgerEntry[];
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
    if (!tail.equals(expected.subarray(0, tail.length))) throw corruptLedger(file, 1, new RecordError('not a fedstat budget ledger (bad header)'));
    await h.truncate(0);
    await h.write(expected, 0, expected.length);
    await h.sync();
    return { entries: [], head: header.hash, size: expected.length };
  }

  const entries: LedgerEntry[] = [];
  const seen = new Set<string>();
  let head = '';
  let start = 0;
  for (let lineNo = 1; start < complete; lineNo++) {
    const end = buf.indexOf(NEWLINE, start);
    try {
      const line = utf8(buf.subarray(start, end));
      if (lineNo === 1) {
        head = decodeHeader(line);
      } else {
        const entry = decodeCharge(line, lineNo - 1, head);
        const k = JSON.stringify([entry.dataset, entry.queryId]);
        if (seen.has(k)) throw new RecordError(`query ${entry.queryId} is charged twice to dataset ${entry.dataset}`);
        seen.add(k);
        entries.push(entry);
        head = entry.hash;
      }
    } catch (e) {
      if (e instanceof RecordError) throw corruptLedger(file, lineNo, e);
      throw e;
    }
    start = end + 1;
  }

  if (tail.length === 0) return { entries, head, size: buf.length };
  let last: LedgerEntry | null = null;
  try {
    last = decodeCharge(utf8(tail), entries.length + 1, head);
    if (entries.some((e) => e.dataset === last?.dataset && e.queryId === last.queryId)) last = null;
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
  }
  if (last !== null) {
    // Complete but for its newline: count it (it may have been acknowledged) and terminate it.
    await h.write(Buffer.from('\n'), 0, 1);
    await h.sync();
    return { entries: [...entries, last], head: last.hash, size: buf.length + 1 };
  }
  await h.truncate(complete);
  await h.sync();
  return { entries, head, size: complete };
}
