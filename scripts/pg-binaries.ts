/**
 * Where the machine's PostgreSQL binaries are, and how to run them. PostgreSQL refuses to run as
 * root, so a root process (CI, containers) runs them as an unprivileged user: `postgres` when the
 * package created it, else `nobody`, else a system user created here; through runuser, setpriv or
 * su, whichever the machine has.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { FedstatError } from '../src/errors.js';

const INSTALL_FIX =
  'install them (Debian/Ubuntu: `apt-get install postgresql`) or set FEDSTAT_PG_BINDIR to the folder holding initdb';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first folder holding initdb, pg_ctl and postgres, or null. */
function probe(dirs: readonly string[]): string | null {
  return dirs.find((d) => ['initdb', 'pg_ctl', 'postgres'].every((b) => executable(join(d, b)))) ?? null;
}

/** The newest /usr/lib/postgresql/N/bin first. */
function debianDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'));
}

function pgConfigBinDir(): string[] {
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  return r.status === 0 ? [r.stdout.trim()] : [];
}

/**
 * The folder of initdb, pg_ctl and postgres: FEDSTAT_PG_BINDIR, else `pg_config --bindir`, else
 * /usr/lib/postgresql/N/bin (newest N), else PATH. Refuses with the fix when none has them.
 */
export function findPgBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const forced = env.FEDSTAT_PG_BINDIR;
  if (forced !== undefined && forced !== '') {
    const found = probe([forced]);
    if (found === null)
      throw new FedstatError('UNAVAILABLE', `FEDSTAT_PG_BINDIR=${forced} holds no initdb, pg_ctl and postgres`);
    return found;
  }
  const path = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  const found = probe([...pgConfigBinDir(), ...debianDirs(), ...path]);
  if (found === null) throw new FedstatError('UNAVAILABLE', `no PostgreSQL server binaries found: ${INSTALL_FIX}`);
  return found;
}

/** The user the binaries run as, and how a root process becomes that user. */
export interface RunAs {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  /** The command prefix that runs a program as `user`; empty when this process is that user. */
  readonly prefix: readonly string[];
}

function lookupUser(name: string): { uid: number; gid: number } | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  const fields = r.status === 0 ? r.stdout.trim().split(':') : [];
  const [uid, gid] = [Number(fields[2]), Number(fields[3])];
  return Number.isInteger(uid) && Number.isInteger(gid) && fields.length >= 4 ? { uid, gid } : null;
}

/** The full path of `cmd` (sbin included: root's tools live there), or null. */
function onPath(cmd: string): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin']);
  return dirs.map((d) => join(d, cmd)).find((f) => f.startsWith('/') && executable(f)) ?? null;
}

/** runuser, else setpriv, else su: the first this machine has. */
function dropPrivileges(user: string, uid: number, gid: number): string[] {
  const [runuser, setpriv, su] = [onPath('runuser'), onPath('setpriv'), onPath('su')];
  if (runuser !== null) return [runuser, '-u', user, '--'];
  if (setpriv !== null) return [setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
  // su runs a shell command: `exec "$0" "$@"` passes the program and its arguments unquoted-safe.
  if (su !== null) return [su, '-s', '/bin/sh', user, '-c', 'exec "$0" "$@"'];
  throw new FedstatError(
    'UNAVAILABLE',
    'running as root, and none of runuser, setpriv or su exists to run PostgreSQL as an unprivileged user: install util-linux, or run as a normal user',
  );
}

function createSystemUser(name: string): void {
  const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  if (r.status !== 0)
    throw new FedstatError(
      'UNAVAILABLE',
      `running as root, no postgres or nobody user exists, and useradd ${name} failed: create an unprivileged user and set FEDSTAT_PG_USER to it`,
    );
}

/**
 * Who runs the binaries. A non-root process runs them itself. Root runs them as `preferred`
 * (FEDSTAT_PG_USER), else `postgres`, else `nobody`, else a new system user `fedstat-pg`.
 */
export function resolveRunAs(preferred?: string): RunAs {
  const self = process.getuid?.() ?? 0;
  if (self !== 0)
    return { user: process.env.USER ?? String(self), uid: self, gid: process.getgid?.() ?? 0, prefix: [] };
  const candidates = preferred !== undefined ? [preferred] : ['postgres', 'nobody'];
  for (const user of candidates) {
    const ids = lookupUser(user);
    if (ids !== null && ids.uid !== 0) return { user, ...ids, prefix: dropPrivileges(user, ids.uid, ids.gid) };
  }
  if (preferred !== undefined)
    throw new FedstatError(
      'UNAVAILABLE',
      `FEDSTAT_PG_USER=${preferred} is not an unprivileged user of this machine: name one that exists and is not root`,
    );
  createSystemUser('fedstat-pg');
  const ids = lookupUser('fedstat-pg');
  if (ids === null) throw new FedstatError('UNAVAILABLE', 'useradd fedstat-pg succeeded but the user is not found');
  return { user: 'fedstat-pg', ...ids, prefix: dropPrivileges('fedstat-pg', ids.uid, ids.gid) };
}

/** What a finished command printed, for error messages (PostgreSQL's own lines, no secrets). */
export interface Ran {
  readonly status: number | null;
  readonly output: string;
}

/** Runs `bin/program args` as `as`, in `cwd` (the binaries' user may not read the caller's cwd). */
export function runPg(as: RunAs, program: string, args: readonly string[], cwd: string): Promise<Ran> {
  const [cmd, ...rest] = [...as.prefix, program, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? program, rest, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, output }));
  });
}

/** The synchronous form, for exit and signal handlers where nothing asynchronous runs. */
export function runPgSync(as: RunAs, program: string, args: readonly string[], cwd: string): Ran {
  const [cmd, ...rest] = [...as.prefix, program, ...args];
  const r = spawnSync(cmd ?? program, rest, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
