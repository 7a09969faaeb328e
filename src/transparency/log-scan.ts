/**
 * Streaming reader of a transparency log file: records are read in 1 MiB chunks and yielded one
 * by one, so a 1M-entry log is never held in memory. Both the store (when it opens a log) and
 * offline verification read through here, so they classify damage the same way:
 *
 * - Torn tail (a crash during an append; never an acknowledged record, which was fsynced): the
 *   file ends inside a record, or only zero bytes follow the last good record (a filesystem
 *   that extended the file before writing its data). Reported as `tornBytes`; the store cuts it.
 * - Corruption: a record header whose length guard fails with non-zero bytes after it, or a
 *   complete record whose stored leaf hash does not match its entry. Reported by throwing
 *   `LogCorruptError` naming the record index and byte offset: nothing is ever skipped.
 */
import type { FileHandle } from 'node:fs/promises';
import { hashEquals, hashLeaf } from '../merkle/merkle-hash.js';
import { LOG_MAGIC, readRecordLength, recordBytes, RECORD_HEADER_BYTES } from './log-record.js';

const CHUNK = 1 << 20;

/** One record as read from disk. `entry` and `leafHash` are fresh views the reader never reuses. */
export interface ScannedRecord {
  /** The record's leaf index in the log, from 0. */
  readonly index: number;
  /** Byte offset of the record in the file. */
  readonly offset: number;
  /** The signed entry's bytes, as appended. */
  readonly entry: Uint8Array;
  /** The leaf hash, recomputed from the entry and checked against the stored one. */
  readonly leafHash: Uint8Array;
}

/** Where a scan stopped. */
export interface ScanEnd {
  /** Records read. */
  readonly size: number;
  /** Byte offset just after the last good record (where the next record goes). */
  readonly end: number;
  /** Bytes after `end` that a crash left (0 for a clean file). */
  readonly tornBytes: number;
}

/** A complete record that fails verification: the log is damaged, not torn. */
export class LogCorruptError extends Error {
  readonly index: number;
  readonly offset: number;
  readonly reason: string;

  constructor(index: number, offset: number, reason: string) {
    super(`record ${index} at byte ${offset}: ${reason}`);
    this.index = index;
    this.offset = offset;
    this.reason = reason;
  }
}

/** Whether the file region [from, to) is all zero bytes. */
async function allZero(h: FileHandle, from: number, to: number): Promise<boolean> {
  const buf = Buffer.alloc(Math.min(CHUNK, Math.max(0, to - from)));
  for (let off = from; off < to;) {
    const { bytesRead } = await h.read(buf, 0, Math.min(buf.length, to - off), off);
    if (bytesRead === 0) return true;
    for (let i = 0; i < bytesRead; i++) if (buf[i] !== 0) return false;
    off += bytesRead;
  }
  return true;
}

/**
 * Reads the records of the log behind `h` (whose header the caller checked), starting with
 * record `firstIndex` at byte `start` (defaults: the first record) and stopping after `limit`
 * records. Yields each verified record; returns where it stopped. Throws LogCorruptError.
 */
export async function* scanRecords(
  h: FileHandle,
  start = LOG_MAGIC.length,
  firstIndex = 0,
  limit = Number.MAX_SAFE_INTEGER,
): AsyncGenerator<ScannedRecord, ScanEnd> {
  const fileSize = (await h.stat()).size;
  let buf = Buffer.alloc(0); // unread bytes, beginning at file offset `bufStart`
  let bufStart = start;
  let readPos = start;
  let index = firstIndex;
  let offset = start;
  const fill = async (need: number): Promise<void> => {
    // Make buf hold at least `need` bytes from `offset`, or everything up to the end of the file.
    while (bufStart + buf.length < Math.min(offset + need, fileSize)) {
      // Unsafe allocation is fine: only the bytesRead prefix is ever looked at.
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(CHUNK, offset + need - readPos), fileSize - readPos));
      if (chunk.length === 0) break;
      const { bytesRead } = await h.read(chunk, 0, chunk.length, readPos);
      if (bytesRead === 0) break;
      readPos += bytesRead;
      const rest = buf.subarray(offset - bufStart);
      buf = rest.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([rest, chunk.subarray(0, bytesRead)]);
      bufStart = offset;
    }
  };
  while (index - firstIndex < limit && offset < fileSize) {
    await fill(RECORD_HEADER_BYTES);
    const available = bufStart + buf.length - offset;
    if (available < RECORD_HEADER_BYTES) break; // torn inside a header
    const at = offset - bufStart;
    const len = readRecordLength(buf, at);
    if (len === null) {
      if (await allZero(h, offset, fileSize)) break; // zero-filled tail
      throw new LogCorruptError(index, offset, 'the record header is damaged');
    }
    const total = recordBytes(len);
    await fill(total);
    if (bufStart + buf.length - offset < total) break; // torn inside the record
    const rec = offset - bufStart;
    const entry = buf.subarray(rec + RECORD_HEADER_BYTES, rec + RECORD_HEADER_BYTES + len);
    const stored = buf.subarray(rec + RECORD_HEADER_BYTES + len, rec + total);
    const leafHash = hashLeaf(entry);
    if (!hashEquals(leafHash, stored))
      throw new LogCorruptError(index, offset, 'the entry does not match its stored leaf hash');
    yield { index, offset, entry, leafHash };
    index++;
    offset += total;
  }
  const tornBytes = index - firstIndex < limit ? fileSize - offset : 0;
  return { size: index, end: offset, tornBytes };
}

/** Reads a log's header; false when the file does not start with the magic bytes. */
export async function hasLogHeader(h: FileHandle): Promise<boolean> {
  const b = Buffer.alloc(LOG_MAGIC.length);
  const { bytesRead } = await h.read(b, 0, b.length, 0);
  return bytesRead === b.length && b.equals(LOG_MAGIC);
}
