/**
 * How an agency node connects to PostgreSQL: libpq's conventions, as `psql` would. The `pg`
 * driver reads PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD and PGAPPNAME itself; the rest is
 * resolved here. The password file (PGPASSFILE, else ~/.pgpass) is read here because the driver's
 * own reading of it is deprecated (it prints a warning; pg 9 drops it), and a file others may read
 * is refused rather than ignored. PGSSLMODE and
 * PGSSLROOTCERT are read here because the driver's reading differs from libpq's: `prefer` there
 * requires TLS, and it reads no root certificate. A URL (`--postgres`) may name host, port, user,
 * database, sslmode and sslrootcert, never a password: a command line is visible to every user of
 * the machine.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type pg from 'pg';
import { describeError, FedstatError } from '../errors.js';

/** What a password file line is matched against (libpq's defaults filled in). */
interface PgTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

const PASSWORD_IN_URL =
  'a password on a command line is visible to every user of the machine: put it in PGPASSWORD or ~/.pgpass, and give the URL without it (postgres://USER@HOST:PORT/DATABASE)';

const URL_FORM = 'write postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full';
const URL_PARAMS = new Set(['sslmode', 'sslrootcert']);

/**
 * The settings a postgres:// (or postgresql://) URL names; CONFIG_INVALID for anything else, a
 * password above all. The URL is never quoted back: it may hold the password it is refused for.
 */
function parsePostgresUrl(url: string): { config: pg.PoolConfig; sslmode?: string; sslrootcert?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FedstatError('CONFIG_INVALID', `--postgres: not a URL; ${URL_FORM}`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new FedstatError('CONFIG_INVALID', `--postgres: not a postgres:// URL; ${URL_FORM}`);
  if (parsed.password !== '' || parsed.searchParams.has('password'))
    throw new FedstatError('CONFIG_INVALID', `--postgres: the URL holds a password; ${PASSWORD_IN_URL}`);
  for (const key of parsed.searchParams.keys()) {
    if (!URL_PARAMS.has(key))
      throw new FedstatError(
        'CONFIG_INVALID',
        `--postgres: URL parameter ${JSON.stringify(key.slice(0, 40))} is not supported; use sslmode and sslrootcert, or the PG* variables`,
      );
  }
  const host = decodeURIComponent(parsed.hostname.replace(/^\[(.+)\]$/, '$1'));
  const database = decodeURIComponent(parsed.pathname.slice(1));
  const config: pg.PoolConfig = {
    ...(host === '' ? {} : { host }),
    ...(parsed.port === '' ? {} : { port: Number(parsed.port) }),
    ...(parsed.username === '' ? {} : { user: decodeURIComponent(parsed.username) }),
    ...(database === '' ? {} : { database }),
  };
  const sslmode = parsed.searchParams.get('sslmode');
  const sslrootcert = parsed.searchParams.get('sslrootcert');
  return { config, ...(sslmode === null ? {} : { sslmode }), ...(sslrootcert === null ? {} : { sslrootcert }) };
}

/**
 * TLS as libpq's sslmode says, without its fallback: `disable` plain; `require` and `verify-ca`
 * check the certificate chain (against `rootcert`, else Node's CAs) but not the host name;
 * `verify-full` checks both. `allow` and `prefer` may fall back to an unencrypted connection, so
 * they are refused. Undefined when no mode is set (the driver's default: plain).
 */
function tlsFor(mode: string | undefined, rootcert: string | undefined): pg.PoolConfig['ssl'] {
  if (mode === undefined || mode === '') return undefined;
  if (mode === 'disable') return false;
  if (mode === 'allow' || mode === 'prefer') {
    throw new FedstatError(
      'CONFIG_INVALID',
      `sslmode ${mode} may fall back to an unencrypted connection, which fedstat does not do; use sslmode=verify-full (or disable on a trusted local link)`,
    );
  }
  if (mode !== 'require' && mode !== 'verify-ca' && mode !== 'verify-full')
    throw new FedstatError(
      'CONFIG_INVALID',
      `unknown sslmode ${JSON.stringify(mode.slice(0, 20))}; use disable, require, verify-ca or verify-full`,
    );
  const tls: ConnectionOptions = {};
  if (rootcert !== undefined && rootcert !== '') {
    try {
      tls.ca = readFileSync(rootcert, 'utf8');
    } catch (e) {
      throw new FedstatError('CONFIG_INVALID', `cannot read the root certificate ${rootcert}: ${describeError(e)}`, {
        cause: e,
      });
    }
  }
  if (mode !== 'verify-full') tls.checkServerIdentity = () => undefined;
  return tls;
}

/** One field of a password file line, `\:` and `\\` unescaped; `*` matches anything. */
function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '\\' && i + 1 < line.length) current += line[++i];
    else if (ch === ':') {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields;
}

/**
 * The password the password file holds for `target` (libpq's rules: the first line whose host,
 * port, database and user each equal the target's or are `*`), or undefined. A file others may
 * read is refused, as libpq ignores it: with a clear message rather than a failed login later.
 */
function pgpassPassword(target: PgTarget, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.PGPASSFILE ?? join(homedir(), '.pgpass');
  let mode: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) return undefined;
    mode = stat.mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) !== 0) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `password file ${file} may be read by other users of the machine; chmod 600 ${file}`,
    );
  }
  const wanted = [target.host, String(target.port), target.database, target.user];
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = splitPgpassLine(line);
    if (fields.length < 5) continue;
    const hostMatches =
      fields[0] === '*' || fields[0] === target.host || (fields[0] === 'localhost' && target.host.startsWith('/'));
    if (hostMatches && wanted.slice(1).every((w, i) => fields[i + 1] === '*' || fields[i + 1] === w))
      return fields.slice(4).join(':');
  }
  return undefined;
}

/**
 * The pool settings of an agency node's own PostgreSQL store, from `url` (no password: refused
 * with the fix) and libpq's environment, with the password from PGPASSWORD, else the password file
 * line for the host, port, database and user they resolve to (as the driver resolves them); when
 * neither holds one and the server asks, the login fails with CONFIG_INVALID saying where to put
 * it. CONFIG_INVALID for a malformed URL or sslmode, or a password file other users may read.
 */
export function pgPoolConfig(url: string | undefined, env: NodeJS.ProcessEnv = process.env): pg.PoolConfig {
  const fromUrl = url === undefined ? undefined : parsePostgresUrl(url);
  const ssl = tlsFor(fromUrl?.sslmode ?? env.PGSSLMODE, fromUrl?.sslrootcert ?? env.PGSSLROOTCERT);
  const config = fromUrl?.config ?? {};
  const user = config.user ?? (env.PGUSER || env.USER || '');
  const target: PgTarget = {
    host: config.host ?? (env.PGHOST || 'localhost'),
    port: config.port ?? Number(env.PGPORT || 5432),
    user,
    database: config.database ?? (env.PGDATABASE || user),
  };
  // Read at start: a password file others may read is refused before anything connects.
  const password = env.PGPASSWORD || pgpassPassword(target, env) || missingPassword(target.user);
  return { ...config, ...(ssl === undefined ? {} : { ssl }), password };
}

/** Called by the driver only if the server asks for a password none of libpq's places holds. */
function missingPassword(user: string): () => string {
  return () => {
    throw new FedstatError(
      'CONFIG_INVALID',
      `the PostgreSQL server asks user ${user} for a password; set PGPASSWORD or add a line to ~/.pgpass (PGPASSFILE)`,
    );
  };
}
