/**
 * The two write primitives of fedstat's append-only files (the budget ledger, the transparency
 * log): write a buffer completely, and make a newly created file's directory entry durable.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes all of `buf` at the handle's position (a single write may be short). */
export async function writeAll(h: FileHandle, buf: Uint8Array): Promise<void> {
  for (let off = 0; off < buf.length;) off += (await h.write(buf, off, buf.length - off)).bytesWritten;
}

/** Makes a newly created file's directory entry durable (no-op where directories cannot be synced). */
export async function syncDir(file: string): Promise<void> {
  const d = await fs.open(dirname(file), 'r').catch(() => null);
  if (d === null) return;
  try {
    await d.sync();
  } catch {
    // EINVAL/EISDIR on some platforms: nothing more to do.
  } finally {
    await d.close();
  }
}
