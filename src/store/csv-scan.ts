/**
 * A byte-level pass over a CSV file that finds what DuckDB's CSV reader hides: where the physical
 * lines are. DuckDB parses the records (fast, in parallel) but silently skips blank lines and
 * drops trailing empty fields, and gives rows no line numbers; this pass records blank lines,
 * lines that end in a delimiter, stray carriage returns and lines with an odd number of quotes,
 * so every record can be mapped back to its line. It touches each byte through Buffer.indexOf
 * (memchr), never per byte in JS: about 0.5 s for a 500 MB file, run while DuckDB parses.
 *
 * Line breaks inside quoted fields are refused: no schema value (category, integer, ID) contains
 * one, and one record per line is what keeps every reported line number exact.
 */
import { open } from 'node:fs/promises';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const CHUNK = 1 << 20;
const MAX_HEADER_BYTES = 1 << 20;

export interface CsvLayout {
  /** Physical lines, counting a last line without a line break. */
  readonly lines: number;
  /** Empty lines followed by a non-empty one (trailing empty lines are ignored). */
  readonly blankLines: readonly number[];
  /** Empty lines in total, trailing ones included. */
  readonly blankCount: number;
  /** Non-empty lines whose last character (before CR LF) is a comma. */
  readonly delimiterEndLines: readonly number[];
  /** The first line with an odd number of double quotes (a multi-line field or a stray quote). */
  readonly oddQuoteLine: number | null;
  /** The first line holding a carriage return that does not end it. */
  readonly strayCrLine: number | null;
  readonly crlfLines: number;
  readonly lfLines: number;
}

/** Records the file holds after its header, if every record is one line. */
export function expectedRecords(layout: CsvLayout): number {
  return Math.max(0, layout.lines - layout.blankCount - 1);
}

/**
 * Scans the whole file (`chunkSize` is for tests of chunk boundaries). State carried across
 * chunks: the current line number, its length so far, its last two bytes and its quote parity.
 */
export async function scanCsvLayout(path: string, chunkSize = CHUNK): Promise<CsvLayout> {
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(chunkSize);
  const scanner = new LayoutScanner();
  try {
    for (let pos = 0; ;) {
      const { bytesRead } = await fh.read(buf, 0, chunkSize, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      scanner.feed(bytesRead === chunkSize ? buf : buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return scanner.finish();
}

/** The line-by-line state of scanCsvLayout, fed one chunk at a time. */
class LayoutScanner {
  #line = 1;
  #len = 0; // bytes of the current line so far
  #last = -1; // last byte of the current line, -1 when empty
  #prev = -1; // the byte before it
  #quotes = 0;
  #pendingCr = false; // the previous chunk ended in CR
  readonly #blank: number[] = [];
  readonly #delimiterEnd: number[] = [];
  #blankCount = 0;
  #oddQuoteLine: number | null = null;
  #strayCrLine: number | null = null;
  #crlf = 0;
  #lf = 0;

  feed(chunk: Buffer): void {
    if (this.#pendingCr && chunk[0] !== LF) this.#strayCr();
    this.#pendingCr = false;
    const hasQuotes = chunk.indexOf(QUOTE) !== -1;
    // Carriage returns are only legal right before a line feed; find the first stray one.
    let stray = -1;
    for (let cr = chunk.indexOf(CR); cr !== -1 && stray === -1; cr = chunk.indexOf(CR, cr + 1)) {
      if (cr === chunk.length - 1) this.#pendingCr = true;
      else if (chunk[cr + 1] !== LF) stray = cr;
    }
    for (let start = 0; ;) {
      const nl = chunk.indexOf(LF, start);
      const end = nl === -1 ? chunk.length : nl;
      if (stray >= start && stray < end) this.#strayCr();
      if (end > start) {
        this.#len += end - start;
        this.#prev = end - start >= 2 ? (chunk[end - 2] ?? -1) : this.#last;
        this.#last = chunk[end - 1] ?? -1;
        if (hasQuotes)
          for (let q = chunk.indexOf(QUOTE, start); q !== -1 && q < end; q = chunk.indexOf(QUOTE, q + 1))
            this.#quotes++;
      }
      if (nl === -1) break;
      this.#endLine(true);
      start = nl + 1;
    }
  }

  finish(): CsvLayout {
    if (this.#pendingCr) this.#strayCr();
    if (this.#len > 0) this.#endLine(false);
    const lines = this.#line - 1;
    const blank = this.#blank;
    // Blank lines after the last record are an editor artefact, not records.
    let trailing = lines;
    while (blank.length > 0 && blank[blank.length - 1] === trailing) {
      blank.pop();
      trailing--;
    }
    return Object.freeze({
      lines,
      blankLines: blank,
      blankCount: this.#blankCount,
      delimiterEndLines: this.#delimiterEnd,
      oddQuoteLine: this.#oddQuoteLine,
      strayCrLine: this.#strayCrLine,
      crlfLines: this.#crlf,
      lfLines: this.#lf,
    });
  }

  #endLine(broken: boolean): void {
    const crEnded = broken && this.#last === CR;
    const contentLast = crEnded ? this.#prev : this.#last;
    const contentLen = crEnded ? this.#len - 1 : this.#len;
    if (crEnded) this.#crlf++;
    else if (broken) this.#lf++;
    if (contentLen === 0) {
      this.#blank.push(this.#line);
      this.#blankCount++;
    } else if (contentLast === COMMA) this.#delimiterEnd.push(this.#line);
    if ((this.#quotes & 1) === 1 && this.#oddQuoteLine === null) this.#oddQuoteLine = this.#line;
    this.#line++;
    this.#len = 0;
    this.#last = this.#prev = -1;
    this.#quotes = 0;
  }

  #strayCr(): void {
    this.#strayCrLine ??= this.#line;
  }
}

/** Line 1 without its line break: null for an empty file, `tooLong` past 1 MiB. */
export async function readFirstLine(path: string): Promise<Uint8Array | null | 'tooLong'> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(MAX_HEADER_BYTES + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      const nl = buf.subarray(got, got + bytesRead).indexOf(LF);
      if (nl !== -1) return buf.subarray(0, got + nl);
      got += bytesRead;
    }
    if (got === 0) return null;
    return got > MAX_HEADER_BYTES ? 'tooLong' : buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/**
 * Splits one CSV line into fields (RFC 4180: `"` quotes a field, `""` is a literal quote, a
 * trailing CR is dropped). Returns null when a quote is left open or text follows a closing quote.
 */
export function parseCsvLine(text: string): string[] | null {
  const s = text.endsWith('\r') ? text.slice(0, -1) : text;
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (s[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q === -1) return null;
        value += s.slice(i, q);
        if (s[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (i < s.length && s[i] !== ',') return null;
      fields.push(value);
    } else {
      const comma = s.indexOf(',', i);
      const end = comma === -1 ? s.length : comma;
      fields.push(s.slice(i, end));
      i = end;
    }
    if (i >= s.length) return fields;
    i++; // the comma
    if (i === s.length) {
      fields.push('');
      return fields;
    }
  }
}
