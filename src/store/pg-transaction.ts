/**
 * The read-only transaction every statement of the PostgreSQL store runs in: REPEATABLE READ (one
 * snapshot for all statements of a read), READ ONLY, the store's statement timeout, and the text
 * settings live SQL relies on, on a client of the pool that is watched until it is given back.
 *
 * A pool can hand out a client whose connection the server dropped while it sat idle (a restart
 * the pool did not hear of): such a client fails at BEGIN, before anything was read. It is
 * destroyed and another taken, as many times as the pool holds such clients (one try for a client
 * of the host's own that this store never used), so a restart costs no answer once the server is
 * back; a connection that fails after BEGIN is never retried.
 */
import type pg from 'pg';
import { pgError, watchClient, type WatchedClient } from './pg-errors.js';

/** Clients this module has already begun a transaction on: at BEGIN, only these can be stale. */
const used = new WeakSet<pg.PoolClient>();
/** A bound on the stale clients thrown away for one read (a pool larger than this is unusual). */
const MAX_STALE = 64;

/** The transaction preamble, one round trip (simple protocol: several statements, no parameters). */
function beginReadOnly(timeoutMs: number): string {
  return [
    'BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY',
    `SET LOCAL statement_timeout = ${timeoutMs}`,
    // Literals of live-source.ts are standard SQL strings; sums read doubles back exactly.
    'SET LOCAL standard_conforming_strings = on',
    'SET LOCAL extra_float_digits = 3',
    // A synchronized scan may start mid-table: a record scan's order must not depend on other scans.
    'SET LOCAL synchronize_seqscans = off',
  ].join('; ');
}

/** A pooled client inside a fresh read-only transaction, under watch (pg-errors.ts `watchClient`). */
export interface Begun {
  readonly client: pg.PoolClient;
  readonly watch: WatchedClient;
}

/** Takes a client and begins the transaction; UNAVAILABLE (mapped by pg-errors.ts) when it cannot. */
export async function beginOn(pool: pg.Pool, timeoutMs: number, label: string): Promise<Begun> {
  for (let attempt = 0; ; attempt++) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw pgError(e, label);
    }
    const stale = used.has(client) || attempt === 0;
    used.add(client);
    const watch = watchClient(client);
    try {
      await client.query(beginReadOnly(timeoutMs));
      return { client, watch };
    } catch (e) {
      watch.unwatch();
      client.release(e instanceof Error ? e : true); // destroyed, never pooled again
      const mapped = pgError(e, label);
      if (mapped.code !== 'UNAVAILABLE' || !stale || attempt >= MAX_STALE) throw mapped;
    }
  }
}

/** `work` in a read-only transaction, then COMMIT; a client in doubt is destroyed, never pooled. */
export async function readOnly<T>(
  pool: pg.Pool,
  timeoutMs: number,
  label: string,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const { client, watch } = await beginOn(pool, timeoutMs, label);
  try {
    const out = await work(client);
    await client.query('COMMIT');
    watch.unwatch();
    client.release();
    return out;
  } catch (e) {
    watch.unwatch();
    client.release(e instanceof Error ? e : true);
    throw pgError(e, label);
  }
}
