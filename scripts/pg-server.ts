/**
 * A throwaway PostgreSQL server for tests, CI, benchmarks and developers: initdb into a fresh
 * temporary folder (a superuser with a random password, scram-sha-256 on every connection),
 * postgres on a free 127.0.0.1 port with its socket in that folder, and on stop (also on exit,
 * SIGINT, SIGTERM and SIGHUP) `pg_ctl stop -m fast` and the folder removed. fsync is off: the data
 * is thrown away anyway. The password is never printed: it lives in memory and in a 0600
 * pgpass file inside the folder.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePorts } from '../src/demo/free-port.js';
import { FedstatError } from '../src/errors.js';
import { findPgBinDir, resolveRunAs, runPg, runPgSync, type RunAs } from './pg-binaries.js';

/** How to reach the server: libpq's PG* settings. */
export interface PgSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface PgServer extends AsyncDisposable {
  readonly settings: PgSettings;
  /** The temporary folder: data/, log, the socket, pgpass and env.sh. */
  readonly dir: string;
  /** A libpq password file (0600) holding the password, for PGPASSFILE. */
  readonly pgpassFile: string;
  /** The server's major version, e.g. 15. */
  readonly version: number;
  /** The postmaster's pid. */
  readonly pid: number;
  /** Who the server runs as (not root). */
  readonly runAs: RunAs;
  stop(): Promise<void>;
}

export interface PgServerOptions {
  /** The folder of initdb, pg_ctl and postgres; default: found (see findPgBinDir). */
  readonly binDir?: string;
  /** When this process is root: the unprivileged user to run as; default FEDSTAT_PG_USER, postgres, nobody. */
  readonly runAs?: string;
}

const PREFIX = 'fedstat-pg-';
const SUPERUSER = 'fedstat';
const live = new Set<{ stopSync(): void }>();

const CONF = [
  "listen_addresses = '127.0.0.1'",
  'fsync = off',
  'synchronous_commit = off',
  'full_page_writes = off',
  "log_min_messages = 'warning'",
];

export async function startPgServer(opts: PgServerOptions = {}): Promise<PgServer> {
  const binDir = opts.binDir ?? findPgBinDir();
  const runAs = resolveRunAs(opts.runAs ?? (process.env.FEDSTAT_PG_USER || undefined));
  sweepStale();
  installExitHandlers();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner.pid'), `${process.pid}\n`);
  chownSync(dir, runAs.uid, runAs.gid);
  const as = (program: string, args: readonly string[]) => runPg(runAs, join(binDir, program), args, dir);
  const stopSync = (): void => {
    runPgSync(runAs, join(binDir, 'pg_ctl'), ['stop', '-D', join(dir, 'data'), '-m', 'fast', '-w', '-s'], dir);
    rmSync(dir, { recursive: true, force: true });
  };
  const handle = { stopSync };
  live.add(handle);
  try {
    const password = randomBytes(24).toString('base64url');
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    chownSync(pwfile, runAs.uid, runAs.gid);
    const init = await as('initdb', [
      ...['-D', join(dir, 'data'), '-U', SUPERUSER, `--pwfile=${pwfile}`, '-A', 'scram-sha-256'],
      ...['-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions'],
    ]);
    rmSync(pwfile, { force: true });
    if (init.status !== 0) throw failure('initdb', init.output);
    appendFileSync(
      join(dir, 'data', 'postgresql.conf'),
      [...CONF, `unix_socket_directories = '${dir}'`, ''].join('\n'),
    );
    const port = await startOnFreePort(as, dir);
    const settings: PgSettings = { host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres' };
    const pgpassFile = join(dir, 'pgpass');
    writeFileSync(pgpassFile, `127.0.0.1:${port}:*:${SUPERUSER}:${password}\n`, { mode: 0o600 });
    const version = await accepts(settings);
    const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        if (!live.delete(handle)) return; // already stopped by an exit or signal handler
        await as('pg_ctl', ['stop', '-D', join(dir, 'data'), '-m', 'fast', '-w', '-s']);
        rmSync(dir, { recursive: true, force: true });
      })());
    return { settings, dir, pgpassFile, version, pid, runAs, stop, [Symbol.asyncDispose]: stop };
  } catch (e) {
    live.delete(handle);
    stopSync();
    throw e;
  }
}

function failure(step: string, output: string): FedstatError {
  const lines = output
    .trim()
    .split('\n')
    .filter((l) => l !== '');
  return new FedstatError('UNAVAILABLE', `PostgreSQL ${step} failed: ${lines.slice(-3).join(' | ') || 'no output'}`);
}

/** A free port can be taken between the probe and the bind (tests run in parallel): retry. */
async function startOnFreePort(
  as: (program: string, args: readonly string[]) => Promise<{ status: number | null; output: string }>,
  dir: string,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const [port] = await freePorts(1);
    if (port === undefined) throw new FedstatError('UNAVAILABLE', 'no free port on 127.0.0.1');
    const log = join(dir, 'log');
    const r = await as('pg_ctl', [
      'start',
      '-D',
      join(dir, 'data'),
      '-l',
      log,
      '-w',
      '-t',
      '60',
      '-s',
      '-o',
      `-p ${port}`,
    ]);
    if (r.status === 0) return port;
    const why = `${r.output}\n${safeRead(log)}`;
    if (attempt >= 5 || !/could not bind|already in use/i.test(why)) throw failure('start', why);
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Connects over TCP with the password, as the tests will; returns the major version. */
async function accepts(s: PgSettings): Promise<number> {
  const client = new pg.Client({ ...s, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const r = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    return Math.floor(Number(r.rows[0]?.v) / 10_000);
  } finally {
    await client.end();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Folders left by a process that was killed (SIGKILL runs no handler): stop their server, remove them. */
function sweepStale(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(safeRead(join(dir, 'owner.pid')).trim());
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    const pid = Number(safeRead(join(dir, 'data', 'postmaster.pid')).split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      try {
        process.kill(pid, 'SIGQUIT'); // immediate shutdown; the data is thrown away
      } catch {
        continue; // not ours to stop (another user's server): leave its folder alone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

let installed = false;

function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  const stopAll = (): void => {
    for (const s of [...live]) {
      live.delete(s);
      s.stopSync();
    }
  };
  process.on('exit', stopAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      stopAll();
      // Alone on this signal: die of it as the default would; otherwise the other handler decides.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
