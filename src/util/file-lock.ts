/**
 * @internal One writing process per file: `<file>.lock` (mode 0600) holding `{"pid","host"}`,
 * created atomically (O_EXCL draft file, then link(2), which fails if the lock exists). Two
 * writers of a budget ledger would each check the budget against their own view of the file and
 * could together overspend it; two writers of a transparency log would sign heads of different
 * trees of one size (a fork by accident). So a second open is refused.
 *
 * Stale locks (the holder was killed) are taken over only when the recorded pid is on this host
 * and `kill(pid, 0)` says ESRCH. The takeover renames the stale file to a unique name first
 * (atomic: of two processes racing for the same stale lock only one rename succeeds) and checks
 * that what it renamed is the stale lock it inspected; if a live lock was moved in between, it
 * is linked back. A pid reused by an unrelated process makes the lock look live: the error says
 * to remove the file by hand, which is safe exactly when no fedstat process uses the file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { FedstatError } from '../errors.js';

interface LockContent {
  pid: number;
  host: string;
}

function parseLock(text: string): LockContent | null {
  try {
    const v = JSON.parse(text) as Partial<LockContent>;
    return typeof v.pid === 'number' && Number.isSafeInteger(v.pid) && v.pid > 0 && typeof v.host === 'string'
      ? { pid: v.pid, host: v.host }
      : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, another user's
  }
}

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

function ioError(what: string, lock: string, e: unknown): FedstatError {
  return new FedstatError(
    'IO',
    `cannot create the ${what} lock ${lock}: ${code(e) ?? String(e)}; check the directory's permissions`,
    { cause: e },
  );
}

/**
 * Acquires the lock file `lock` for the `what` it guards (e.g. "budget ledger", named in errors);
 * returns the function that releases it. Throws FedstatError IO.
 */
export async function acquireFileLock(lock: string, what: string): Promise<() => Promise<void>> {
  const mine = JSON.stringify({ pid: process.pid, host: hostname() });
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written to a private file first and linked into place (link fails with EEXIST atomically),
    // so a crash can never leave an empty lock that nobody could tell from a live one.
    const draft = `${lock}.${randomBytes(6).toString('hex')}.new`;
    try {
      const h = await fs.open(draft, 'wx', 0o600);
      try {
        await h.writeFile(mine);
        await h.sync();
      } finally {
        await h.close();
      }
      await fs.link(draft, lock);
      await fs.rm(draft, { force: true });
      return async () => {
        // Remove only our own lock (never one a later process took over).
        const now = await fs.readFile(lock, 'utf8').catch(() => null);
        if (now === mine) await fs.rm(lock, { force: true });
      };
    } catch (e) {
      await fs.rm(draft, { force: true });
      if (code(e) !== 'EEXIST') throw ioError(what, lock, e);
    }
    const text = await fs.readFile(lock, 'utf8').catch(() => null);
    if (text === null) continue; // released meanwhile: retry
    const held = parseLock(text);
    const stale = held !== null && held.host === hostname() && held.pid !== process.pid && !alive(held.pid);
    if (!stale) {
      const who =
        held === null
          ? 'an unreadable lock'
          : held.pid === process.pid
            ? 'this process'
            : `process ${held.pid} on ${held.host}`;
      throw new FedstatError(
        'IO',
        `${what} is already open (${who} holds ${lock}); close it there first, or remove ${lock} if no fedstat process uses it`,
        { details: { lock } },
      );
    }
    const aside = `${lock}.stale-${randomBytes(6).toString('hex')}`;
    try {
      await fs.rename(lock, aside);
    } catch (e) {
      if (code(e) === 'ENOENT') continue; // someone else took it over: retry
      throw ioError(what, lock, e);
    }
    const moved = await fs.readFile(aside, 'utf8').catch(() => null);
    if (moved !== text) await fs.link(aside, lock).catch(() => undefined); // a live lock: put it back
    await fs.rm(aside, { force: true });
  }
  throw new FedstatError(
    'IO',
    `could not take the ${what} lock ${lock} after 3 attempts; retry, or remove it if no fedstat process uses it`,
  );
}
