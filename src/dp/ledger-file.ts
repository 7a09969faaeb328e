/**
 * The budget ledger's file: opened under its lock, replayed, appended to with fsync, and watched
 * for what can go wrong under a running agency. A failed write is rolled back to what was
 * acknowledged (a failed rollback is retried before the next write, which also probes whether the
 * disk takes writes again); a path that no longer names the opened file (removed or replaced)
 * stops every further write until a restart, since charges would go to a file nobody reopens.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FedstatError } from '../errors.js';
import { acquireFileLock } from '../util/file-lock.js';
import { syncDir, writeAll } from '../util/durable-file.js';
import { replayLedger, type Replayed } from './budget-replay.js';

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e);

export class LedgerFile {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #identity: { readonly dev: number; readonly ino: number };
  readonly #unlock: () => Promise<void>;
  #size: number;
  /** Set when a rollback failed: the file's state is unknown until a rollback succeeds. */
  #broken: FedstatError | null = null;
  /** The last write's failure, until a write succeeds (or for good when the file was replaced). */
  #fault: FedstatError | null = null;
  #replaced = false;

  private constructor(
    path: string,
    handle: FileHandle,
    identity: { dev: number; ino: number },
    unlock: () => Promise<void>,
    size: number,
  ) {
    this.path = path;
    this.#handle = handle;
    this.#identity = identity;
    this.#unlock = unlock;
    this.#size = size;
  }

  /**
   * Opens (or creates, mode 0600) the ledger at `path`, takes `<path>.lock`, replays and verifies
   * every record, and cuts off a torn tail left by a crash. IO for a corrupt, locked or
   * other-readable ledger.
   */
  static async open(path: string): Promise<{ file: LedgerFile; replayed: Replayed }> {
    const unlock = await acquireFileLock(`${path}.lock`, 'budget ledger');
    let handle: FileHandle | null = null;
    try {
      const existed = await fs.stat(path).then(
        (s) => s,
        () => null,
      );
      if (existed !== null && (existed.mode & 0o077) !== 0) {
        throw new FedstatError(
          'IO',
          `budget ledger ${path} is accessible to other users (mode ${(existed.mode & 0o777).toString(8)}); run chmod 600 on it`,
        );
      }
      handle = await fs.open(path, 'a+', 0o600);
      const replayed = await replayLedger(path, handle);
      if (existed === null) await syncDir(path);
      const { dev, ino } = await handle.stat();
      return { file: new LedgerFile(path, handle, { dev, ino }, unlock, replayed.size), replayed };
    } catch (e) {
      await handle?.close();
      await unlock();
      if (e instanceof FedstatError) throw e;
      throw new FedstatError(
        'IO',
        `cannot open budget ledger ${path}: ${errno(e)}; check the path and its permissions`,
        { cause: e },
      );
    }
  }

  /** What keeps the file from taking writes, in one line; null when healthy. */
  fault(): string | null {
    return (this.#broken ?? this.#fault)?.message ?? null;
  }

  /**
   * Null when the next write may go ahead: the path still names the opened file and, after a
   * failure, the file took a rollback to the acknowledged size. Otherwise the error to refuse with.
   * Call it only between writes (the ledger's queue serializes both).
   */
  async writable(): Promise<FedstatError | null> {
    await this.#checkIdentity();
    if (this.#replaced) return this.#fault;
    if (this.#broken !== null || this.#fault !== null) {
      try {
        await this.#rollback();
        this.#broken = null;
        this.#fault = null;
      } catch {
        return this.#broken ?? this.#fault;
      }
    }
    return null;
  }

  /**
   * Appends `bytes` and fsyncs; resolves once they are durable. On failure the file is rolled back
   * to what was acknowledged and the write rejected with IO (nothing of it counts).
   */
  async append(bytes: Uint8Array): Promise<void> {
    try {
      await writeAll(this.#handle, bytes);
      await this.#handle.sync();
    } catch (e) {
      this.#fault = new FedstatError(
        'IO',
        `writing budget ledger ${this.path} failed (${errno(e)}); nothing was charged, fix the disk and retry (the agency retries with the next query)`,
        { cause: e },
      );
      try {
        await this.#rollback();
      } catch (e2) {
        this.#broken = new FedstatError(
          'IO',
          `budget ledger ${this.path} is in an unknown state after a failed write (${errno(e2)}); fix the disk (the next charge retries the rollback) or restart the agency (reopening counts every complete record)`,
          { cause: e2 },
        );
      }
      throw this.#fault;
    }
    this.#fault = null;
    this.#size += bytes.length;
  }

  async close(): Promise<void> {
    await this.#handle.close();
    await this.#unlock();
  }

  async #rollback(): Promise<void> {
    await this.#handle.truncate(this.#size);
    await this.#handle.sync();
  }

  /** Marks the file replaced (for good: its state now lives only in this process) when its path no longer names it. */
  async #checkIdentity(): Promise<void> {
    if (this.#replaced) return;
    const onDisk = await fs.stat(this.path).catch(() => null);
    if (onDisk !== null && onDisk.ino === this.#identity.ino && onDisk.dev === this.#identity.dev) return;
    this.#replaced = true;
    this.#fault = new FedstatError(
      'IO',
      `budget ledger ${this.path} was ${onDisk === null ? 'removed' : 'replaced'} while the agency was running, so new charges would be lost; nothing was charged: put the original file back at that path (or restore it from a backup) and restart the agency`,
    );
  }
}
