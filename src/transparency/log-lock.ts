/**
 * @internal One writer per log file: `<log>.lock` (mode 0600) holding `{"pid","host"}`. Two
 * writers would each extend their own view of the tree and sign heads for different logs of the
 * same size: a fork by accident. The lock follows the budget ledger's lock (src/dp/budget-lock.ts):
 * created atomically (private draft, then link(2), which fails if the lock exists), and taken
 * over only from a dead holder on this host (kill(pid, 0) says ESRCH), by renaming the stale
 * file aside and checking that what was renamed is the lock inspected.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { FedstatError } from '../errors.js';

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

function holder(text: string): { pid: number; host: string } | null {
  try {
    const v = JSON.parse(text) as { pid?: unknown; host?: unknown };
    return typeof v.pid === 'number' && Number.isSafeInteger(v.pid) && v.pid > 0 && typeof v.host === 'string' ? { pid: v.pid, host: v.host } : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return code(e) !== 'ESRCH';
  }
}

/** Takes the lock; returns the function that releases it. Throws FedstatError IO. */
export async function acquireLogLock(lock: string): Promise<() => Promise<void>> {
  const mine = JSON.stringify({ pid: process.pid, host: hostname() });
  for (let attempt = 0; attempt < 3; attempt++) {
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
        if ((await fs.readFile(lock, 'utf8').catch(() => null)) === mine) await fs.rm(lock, { force: true });
      };
    } catch (e) {
      await fs.rm(draft, { force: true });
      if (code(e) !== 'EEXIST') {
        throw new FedstatError('IO', `cannot create the transparency log lock ${lock}: ${code(e) ?? String(e)}; check the directory's permissions`, { cause: e });
      }
    }
    const text = await fs.readFile(lock, 'utf8').catch(() => null);
    if (text === null) continue;
    const held = holder(text);
    if (held === null || held.host !== hostname() || held.pid === process.pid || alive(held.pid)) {
      const who = held === null ? 'an unreadable lock' : held.pid === process.pid ? 'this process' : `process ${held.pid} on ${held.host}`;
      throw new FedstatError('IO', `transparency log is already open (${who} holds ${lock}); close it there first, or remove ${lock} if no fedstat process uses the log`, { details: { lock } });
    }
    const aside = `${lock}.stale-${randomBytes(6).toString('hex')}`;
    try {
      await fs.rename(lock, aside);
    } catch (e) {
      if (code(e) === 'ENOENT') continue;
      throw new FedstatError('IO', `cannot take over the stale transparency log lock ${lock}: ${code(e) ?? String(e)}`, { cause: e });
    }
    if ((await fs.readFile(aside, 'utf8').catch(() => null)) !== text) await fs.link(aside, lock).catch(() => undefined);
    await fs.rm(aside, { force: true });
  }
  throw new FedstatError('IO', `could not take the transparency log lock ${lock} after 3 attempts; retry, or remove it if no fedstat process uses the log`);
}
