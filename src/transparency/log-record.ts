/**
 * @internal The on-disk form of a transparency log: a 16-byte file header, then one record per
 * entry, record i holding leaf i:
 *
 *   u32 BE  entry length L (≤ MAX_ENTRY_BYTES)
 *   u32 BE  L XOR 0xFFFFFFFF: guards the length, so a damaged length in the middle of the file
 *           is reported as corruption instead of looking like a torn tail (which would be cut)
 *   L bytes the entry, exactly as hashed into the tree
 *   32 B    its leaf hash SHA-256(0x00 ‖ entry): the record's checksum, and what a reader
 *           compares against when it recomputes the hash
 *
 * Binary and length-prefixed rather than JSON lines because entries are opaque bytes (each
 * event type brings its own canonical encoding) and a verifier hashes them as stored.
 */
import { hashLeaf, HASH_BYTES } from '../merkle/merkle-hash.js';

export const LOG_MAGIC = Buffer.from('fedstat-tlog-v1\n', 'ascii');
export const RECORD_HEADER_BYTES = 8;
const RECORD_OVERHEAD = RECORD_HEADER_BYTES + HASH_BYTES;
/** Largest entry a record may hold (16 MiB): entries are hashes and metadata, never data. */
export const MAX_ENTRY_BYTES = 1 << 24;

/** Writes the record for `entry` into `out` at `offset`; returns its leaf hash. */
export function writeRecord(out: Buffer, offset: number, entry: Uint8Array): Uint8Array {
  const leaf = hashLeaf(entry);
  out.writeUInt32BE(entry.length, offset);
  out.writeUInt32BE((entry.length ^ 0xffffffff) >>> 0, offset + 4);
  out.set(entry, offset + RECORD_HEADER_BYTES);
  out.set(leaf, offset + RECORD_HEADER_BYTES + entry.length);
  return leaf;
}

/** Record size for an entry of `length` bytes. */
export const recordBytes = (length: number): number => RECORD_OVERHEAD + length;

/**
 * The entry length from a record header, or null when the guard does not match (damaged header,
 * or a zero-filled region that a crash left behind).
 */
export function readRecordLength(buf: Uint8Array, offset: number): number | null {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = b.readUInt32BE(offset);
  if ((len ^ 0xffffffff) >>> 0 !== b.readUInt32BE(offset + 4) || len > MAX_ENTRY_BYTES) return null;
  return len;
}
