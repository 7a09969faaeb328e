/**
 * A record scan (training at the agency) over a live PostgreSQL table: one read-only snapshot on a
 * client of its own, the census first (a `reject` dataset with out-of-domain rows refuses before a
 * record is read), then the rows through a server-side cursor, `batchRows` at a time, so a table of
 * any size streams in bounded memory. Order: the table's heap order with synchronized scans off
 * (pg-transaction.ts), the same every call while the table is unchanged.
 */
import type pg from 'pg';
import Cursor from 'pg-cursor';
import type { DataRecord } from '../learn/design-row.js';
import { pgError } from './pg-errors.js';
import { beginOn } from './pg-transaction.js';
import { cellValue, type CompiledScan } from './record-scan.js';

/** What the scan runs besides the rows, and how it learns the store closed. */
export interface PgScanHooks {
  /** The census statement (live-source.ts `compileCensus`). */
  readonly census: string;
  /** Judges the census rows; throws to refuse the scan. */
  readonly onCensus: (rows: readonly (readonly unknown[])[]) => void;
  /** Throws once the store has closed; runs before each batch is handed over. */
  readonly stillOpen: () => void;
}

export async function* scanPgRecords(
  pool: pg.Pool,
  timeoutMs: number,
  label: string,
  compiled: CompiledScan,
  hooks: PgScanHooks,
): AsyncGenerator<readonly DataRecord[], void, undefined> {
  const { client, watch } = await beginOn(pool, timeoutMs, label);
  let failure: unknown = undefined;
  let cursor: Cursor<unknown[]> | undefined;
  try {
    let rows: unknown[][];
    try {
      const counted = await client.query({ text: hooks.census, rowMode: 'array' });
      hooks.onCensus(counted.rows as unknown[][]);
      cursor = client.query(new Cursor<unknown[]>(compiled.sql, [...compiled.params], { rowMode: 'array' }));
      rows = await cursor.read(compiled.batchRows);
    } catch (e) {
      throw pgError(e, label);
    }
    while (rows.length > 0) {
      const batch: DataRecord[] = rows.map((cells) => {
        const record: Record<string, string | number> = {};
        compiled.columns.forEach(([name, column], k) => {
          record[name] = cellValue(column, cells[k]);
        });
        return record;
      });
      hooks.stillOpen();
      yield Object.freeze(batch);
      try {
        rows = await cursor.read(compiled.batchRows);
      } catch (e) {
        throw pgError(e, label);
      }
    }
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    // Ended (read to the end, or the caller stopped reading): close the cursor, end the
    // transaction. Failed: the client is in doubt (its connection may be gone, where closing a
    // cursor would wait forever), so it is destroyed rather than pooled; the server rolls back.
    const doubt = failure !== undefined ? failure : await closeScan(client, cursor, watch.lost);
    watch.unwatch();
    client.release(doubt === null ? undefined : doubt instanceof Error ? doubt : true);
  }
}

/** Closes the cursor and commits; the error when that failed (the client is then in doubt), else null. */
async function closeScan(
  client: pg.PoolClient,
  cursor: Cursor<unknown[]> | undefined,
  lost: Promise<never>,
): Promise<unknown> {
  try {
    const end = async (): Promise<void> => {
      if (cursor !== undefined) await cursor.close();
      await client.query('COMMIT');
    };
    await Promise.race([end(), lost]);
    return null;
  } catch (e) {
    return e;
  }
}
