/**
 * PostgreSQL driver failures as FedstatErrors an operator can act on. A server message can quote a
 * cell (`invalid input syntax for type integer: "…"`), so the message is kept only for classes that
 * never hold row values (connection, privileges, names, resources, operator intervention); for the
 * others only the SQLSTATE is shown.
 */
import type pg from 'pg';
import { describeError, FedstatError, isFedstatError } from '../errors.js';

/** SQLSTATE classes whose messages name objects and settings, never row values. */
const SAFE_CLASSES = new Set(['08', '28', '3D', '42', '53', '54', '57', '58']);
/** Node socket errors: the server cannot be reached or went away. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
]);

function sqlState(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

function shortMessage(e: unknown): string {
  return describeError(e).split('\n')[0]?.slice(0, 200) ?? 'unknown error';
}

/** `e` (anything a `pg` call threw) as a FedstatError about `label` (what was being read). */
export function pgError(e: unknown, label: string): FedstatError {
  if (isFedstatError(e)) return e;
  const state = sqlState(e);
  const errno = (e as { code?: unknown } | null)?.code;
  const message = state === null || SAFE_CLASSES.has(state.slice(0, 2)) ? shortMessage(e) : `SQLSTATE ${state}`;
  const details = { sqlState: state ?? undefined };
  if (state === '57014') {
    return new FedstatError(
      'UNAVAILABLE',
      `${label}: the statement ran past the statement timeout and was cancelled; nothing was answered (raise --statement-timeout, or add an index or more resources)`,
      { cause: e, details },
    );
  }
  if (state === '42501') {
    return new FedstatError(
      'CONFIG_INVALID',
      `${label}: permission denied (${message}); grant the agency's role SELECT on the table and USAGE on its schema (docs/postgres.md)`,
      { cause: e, details },
    );
  }
  if (state === '28P01' || state === '28000') {
    return new FedstatError(
      'CONFIG_INVALID',
      `${label}: the server refused the login (${message}); check PGUSER and the password in PGPASSWORD or ~/.pgpass`,
      { cause: e, details },
    );
  }
  if (state === '3D000') {
    return new FedstatError('CONFIG_INVALID', `${label}: ${message}; check PGDATABASE or the database in --postgres`, {
      cause: e,
      details,
    });
  }
  if (
    (state !== null && ['08', '57', '53', '58'].includes(state.slice(0, 2))) ||
    (typeof errno === 'string' && SOCKET_CODES.has(errno)) ||
    /Connection terminated|connection closed|not queryable/i.test(shortMessage(e))
  ) {
    return new FedstatError(
      'UNAVAILABLE',
      `${label}: the PostgreSQL server is unreachable or closed the connection (${message}); nothing was answered, retry when it is back`,
      { cause: e, details },
    );
  }
  if (state !== null && state.startsWith('42')) {
    return new FedstatError(
      'DATA_INVALID',
      `${label}: the table no longer fits what the agency checked at start (${message}); restart the agency to check it again`,
      { cause: e, details },
    );
  }
  return new FedstatError('IO', `${label}: PostgreSQL failed (${message})`, { cause: e, details });
}

/** A checked-out client under watch: `lost` rejects once its connection fails; `unwatch` before release. */
export interface WatchedClient {
  readonly lost: Promise<never>;
  unwatch(): void;
}

/**
 * Watches a client taken from the pool. A connection the server drops while the client is checked
 * out (pg_terminate_backend, a restart, a network cut) emits 'error' on the client, which pg-pool
 * listens to only while the client is idle: unheard, it would end the agency's process. The
 * statement in flight rejects on its own; `lost` lets a wait that no statement covers (closing a
 * cursor) end too.
 */
export function watchClient(client: pg.PoolClient): WatchedClient {
  let fail: (e: unknown) => void = () => undefined;
  const lost = new Promise<never>((_, reject) => (fail = reject));
  lost.catch(() => undefined); // nobody may be waiting on it
  const onError = (e: Error): void => fail(e);
  client.on('error', onError);
  return { lost, unwatch: () => client.removeListener('error', onError) };
}
