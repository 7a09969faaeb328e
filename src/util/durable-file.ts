/**
 * The write primitives of fedstat's durable files: write a buffer completely, make a newly created
 * file's directory entry durable (the budget ledger, the transparency log), and replace a whole
 * file atomically (a training checkpoint, a model).
 */
import { randomBytes } from 'node:crypto';
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

/**
 * Replaces `file` with `text` so that a crash at any point leaves either the old or the new file,
 * whole: written to a fresh file beside it with `mode`, synced, renamed over it, directory synced.
 */
export async function replaceFile(file: string, text: string, mode = 0o600): Promise<void> {
  const draft = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const h = await fs.open(draft, 'wx', mode);
  try {
    await writeAll(h, new TextEncoder().encode(text));
    await h.sync();
  } catch (e) {
    await h.close();
    await fs.rm(draft, { force: true });
    throw e;
  }
  await h.close();
  try {
    await fs.rename(draft, file);
  } catch (e) {
    await fs.rm(draft, { force: true });
    throw e;
  }
  await syncDir(file);
}
