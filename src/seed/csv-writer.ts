/**
 * Streaming CSV output for the seed generator: RFC 4180 quoting, UTF-8 without a BOM, LF line
 * ends by default. Records are encoded straight into a byte buffer (no per-row strings, which
 * dominated the cost at 10M rows) and handed to the file stream in large chunks; the caller awaits
 * `drained()` when the stream pushes back, so memory stays bounded however many rows are written.
 */
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { FedstatError, describeError } from '../errors.js';

/** Bytes buffered before one stream write. */
const CHUNK_BYTES = 256 * 1024;
const NEEDS_QUOTES = /[",\r\n]/;
const COMMA = 0x2c;
const QUOTE = 0x22;
const ZERO = 0x30;
/** The ASCII digits of 00 … 99, two bytes each: integers are written two digits per division. */
const DIGIT_PAIRS = Uint8Array.from(
  { length: 200 },
  (_, i) => ZERO + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)),
);

/** One field, quoted per RFC 4180 when it holds a comma, a double quote, CR or LF. */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One record without its line end. */
export function csvRecord(fields: readonly string[]): string {
  return fields.map(csvField).join(',');
}

/** A field already CSV-encoded to UTF-8 bytes, for values written millions of times. */
export function encodeField(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(csvField(value), 'utf8'));
}

/** Where one record's fields go, in order; the sink inserts the commas. */
export interface CsvRecordSink {
  /** Bytes from `encodeField`. */
  rawField(encoded: Uint8Array): void;
  /** A safe integer in decimal. */
  intField(n: number): void;
  /** Any string, quoted if needed. */
  textField(value: string): void;
}

export interface CsvWriterOptions {
  /** `\n` (default) or `\r\n` (RFC 4180's CRLF). */
  readonly eol?: '\n' | '\r\n';
}

export class CsvFileWriter implements CsvRecordSink {
  readonly path: string;
  readonly #stream: WriteStream;
  readonly #eol: Uint8Array;
  #buf: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  /** Chunks the stream has finished writing, reused instead of allocating (GC was ~10% of the run). */
  readonly #spare: Buffer[] = [];
  #pos = 0;
  #inRecord = false;
  #blocked = false;
  #rows = 0;
  #error: unknown;

  private constructor(path: string, stream: WriteStream, eol: string) {
    this.path = path;
    this.#stream = stream;
    this.#eol = new Uint8Array(Buffer.from(eol, 'latin1'));
    // Keep the first error for the next call instead of letting it crash the process.
    stream.on('error', (e) => {
      this.#error ??= e;
    });
  }

  /** Creates (or truncates) `path` and writes the header record. */
  static async create(path: string, header: readonly string[], options: CsvWriterOptions = {}): Promise<CsvFileWriter> {
    const stream = createWriteStream(path, { highWaterMark: 4 * CHUNK_BYTES });
    try {
      await once(stream, 'open');
    } catch (e) {
      throw ioError(path, e);
    }
    const w = new CsvFileWriter(path, stream, options.eol ?? '\n');
    for (const h of header) w.textField(h);
    w.#endLine();
    return w;
  }

  /** Data records written so far (the header excluded). */
  get rows(): number {
    return this.#rows;
  }

  rawField(encoded: Uint8Array): void {
    this.#separate(encoded.length);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let i = 0; i < encoded.length; i++) buf[pos++] = encoded[i] ?? 0;
    this.#pos = pos;
  }

  intField(n: number): void {
    if (!Number.isSafeInteger(n)) throw new RangeError(`intField needs a safe integer, got ${n}`);
    this.#separate(21);
    const buf = this.#buf;
    let pos = this.#pos;
    if (n < 0) buf[pos++] = 0x2d;
    let v = Math.abs(n);
    let digits = 1;
    for (let t = 10; t <= v; t *= 10) digits++; // powers of ten up to 1e16 are exact doubles
    const end = pos + digits;
    // From the last digit back, two at a time (one division per pair: the writer's hot path).
    let i = end;
    while (v >= 100) {
      const q = Math.floor(v / 100);
      const pair = 2 * (v - 100 * q);
      buf[--i] = DIGIT_PAIRS[pair + 1] ?? 0;
      buf[--i] = DIGIT_PAIRS[pair] ?? 0;
      v = q;
    }
    // Now i − pos is the one or two digits left.
    if (v >= 10) {
      buf[pos + 1] = DIGIT_PAIRS[2 * v + 1] ?? 0;
      buf[pos] = DIGIT_PAIRS[2 * v] ?? 0;
    } else buf[pos] = ZERO + v;
    this.#pos = end;
  }

  textField(value: string): void {
    // Printable ASCII without comma or quote (IDs, numbers) is copied as is; anything else goes through csvField.
    const n = value.length;
    this.#separate(3 * n + 2);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === COMMA || c === QUOTE) {
        this.#pos += buf.write(csvField(value), this.#pos, 'utf8');
        return;
      }
      buf[pos++] = c;
    }
    this.#pos = pos;
  }

  /** Ends the current record. Returns true when the caller should `await drained()` before writing more. */
  endRecord(): boolean {
    this.#endLine();
    this.#rows++;
    const blocked = this.#blocked;
    this.#blocked = false;
    return blocked;
  }

  /** Writes one whole record of raw values, quoting as needed; same return as `endRecord`. */
  writeRecord(fields: readonly string[]): boolean {
    for (const f of fields) this.textField(f);
    return this.endRecord();
  }

  /** Resolves once the stream has room again (immediately if it has). */
  async drained(): Promise<void> {
    this.#check();
    if (!this.#stream.writableNeedDrain) return;
    try {
      await once(this.#stream, 'drain');
    } catch (e) {
      throw ioError(this.path, e);
    }
  }

  /** Flushes the buffer, closes the file and reports any write error. */
  async close(): Promise<void> {
    if (this.#inRecord) throw new RangeError('close() inside an unfinished record: call endRecord() first');
    this.#flush();
    this.#stream.end();
    try {
      await finished(this.#stream);
    } catch (e) {
      throw ioError(this.path, e);
    }
    this.#check();
  }

  /** Closes the file after a failure elsewhere, ignoring its own errors. */
  abort(): void {
    this.#stream.destroy();
  }

  /** Room for a comma and `bytes` more; flushes (mid-record is fine: the file is just bytes). */
  #separate(bytes: number): void {
    if (this.#pos + bytes + 1 > this.#buf.length) {
      this.#flush();
      if (bytes + 1 > this.#buf.length) this.#buf = Buffer.allocUnsafe(bytes + 1);
    }
    if (this.#inRecord) this.#buf[this.#pos++] = COMMA;
    this.#inRecord = true;
  }

  #endLine(): void {
    if (this.#pos + this.#eol.length > this.#buf.length) this.#flush();
    for (const b of this.#eol) this.#buf[this.#pos++] = b;
    this.#inRecord = false;
    if (this.#pos >= CHUNK_BYTES - 1024) this.#flush();
  }

  #flush(): void {
    this.#check();
    if (this.#pos === 0) return;
    // The stream holds the chunk until it is written; only then may the buffer be reused.
    const full = this.#buf;
    const done = (): void => {
      if (full.length === CHUNK_BYTES && this.#spare.length < 8) this.#spare.push(full);
    };
    if (!this.#stream.write(full.subarray(0, this.#pos), done)) this.#blocked = true;
    this.#buf = this.#spare.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
    this.#pos = 0;
  }

  #check(): void {
    if (this.#error !== undefined) throw ioError(this.path, this.#error);
  }
}

function ioError(path: string, cause: unknown): FedstatError {
  return new FedstatError(
    'IO',
    `cannot write ${path}: ${describeError(cause)}; check that the output directory is writable and has space`,
    { cause },
  );
}
