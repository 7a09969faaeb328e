import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { findPgBinDir, resolveRunAs } from '../../scripts/pg-binaries.js';
import { startPgServer, type PgServer } from '../../scripts/pg-server.js';
import { spawnTsChild } from '../helpers/ts-child.js';

const root = process.getuid?.() === 0;

/** The real uid a process runs as, from /proc. */
function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

/** Running, not a zombie (a container's init may never reap the daemonized postmaster). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitDead(pid: number): Promise<void> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

async function selectOne(s: PgServer['settings'], password = s.password): Promise<number> {
  const c = new pg.Client({ ...s, password });
  await c.connect();
  try {
    return (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one ?? 0;
  } finally {
    await c.end();
  }
}

/** A child that starts a server; resolves with where it lives once it is up. */
async function childServer(): Promise<{ child: ReturnType<typeof spawnTsChild>; dir: string; pid: number }> {
  const child = spawnTsChild(new URL('./fixtures/pg-child.ts', import.meta.url).href, {});
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  const { dir, pid } = JSON.parse(line) as { dir: string; pid: number };
  return { child, dir, pid };
}

describe('throwaway PostgreSQL server', () => {
  it('accepts the password on 127.0.0.1 only, not as root, and leaves nothing when stopped', async () => {
    const server = await startPgServer();
    const { dir, pid, settings } = server;
    try {
      expect(await selectOne(settings)).toBe(1);
      await expect(selectOne(settings, 'wrong')).rejects.toThrow(/password authentication failed/);
      const c = new pg.Client(settings);
      await c.connect();
      const listen = (await c.query<{ listen_addresses: string }>('SHOW listen_addresses')).rows[0];
      const auth = (await c.query<{ password_encryption: string }>('SHOW password_encryption')).rows[0];
      await c.end();
      expect(listen?.listen_addresses).toBe('127.0.0.1');
      expect(auth?.password_encryption).toBe('scram-sha-256');
      expect(server.version).toBeGreaterThanOrEqual(12);
      expect(uidOf(pid)).toBe(server.runAs.uid);
      if (root) expect(server.runAs.uid).not.toBe(0);
      expect(statSync(dir).uid).toBe(server.runAs.uid);
      expect(statSync(server.pgpassFile).mode & 0o077).toBe(0);
      expect(readFileSync(server.pgpassFile, 'utf8')).toBe(
        `127.0.0.1:${settings.port}:*:fedstat:${settings.password}\n`,
      );
    } finally {
      await server.stop();
    }
    expect(existsSync(dir)).toBe(false);
    await waitDead(pid);
    expect(alive(pid)).toBe(false);
    await expect(selectOne(settings)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('as root, runs the binaries as nobody when asked (a machine without a postgres user)', async () => {
    await using server = await startPgServer({ runAs: 'nobody' });
    expect(await selectOne(server.settings)).toBe(1);
    const expected = root
      ? Number(/^nobody:[^:]*:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))?.[1])
      : process.getuid?.();
    expect(uidOf(server.pid)).toBe(expected);
  });

  it('refuses to run as root or as a missing user, with the fix', () => {
    if (root) {
      expect(() => resolveRunAs('root')).toThrow(/FEDSTAT_PG_USER=root is not an unprivileged user/);
      expect(() => resolveRunAs('no-such-user-fedstat')).toThrow(/name one that exists and is not root/);
    } else {
      expect(resolveRunAs('root').prefix).toEqual([]); // a normal user runs the binaries itself
    }
  });

  it('refuses clearly when the binaries are not there', () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-pg-'));
    try {
      expect(() => findPgBinDir({ FEDSTAT_PG_BINDIR: empty })).toThrow(
        `FEDSTAT_PG_BINDIR=${empty} holds no initdb, pg_ctl and postgres`,
      );
      expect(findPgBinDir({ PATH: '' })).toMatch(/bin$/); // found without PATH (pg_config or /usr/lib/postgresql)
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it('stops the server and removes its folder when the process gets SIGTERM', async () => {
    const { child, dir, pid } = await childServer();
    expect(alive(pid)).toBe(true);
    child.kill('SIGTERM');
    const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
    expect(signal).toBe('SIGTERM');
    await waitDead(pid);
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it('a server left by a SIGKILLed process is stopped and removed by the next start', async () => {
    const { child, dir, pid } = await childServer();
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(existsSync(dir)).toBe(true); // nothing ran: SIGKILL cannot be handled
    await using next = await startPgServer();
    expect(next.dir).not.toBe(dir);
    await waitDead(pid);
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
