/**
 * Runs a side's link statement (link-inputs.ts) on each engine and feeds its rows to a
 * `LinkInputsBuilder` as they stream, so only the per-id result is ever held: DuckDB chunk by chunk
 * (2048 rows, read from its vectors without building row objects), PostgreSQL through a
 * server-side cursor inside the caller's read-only snapshot.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type pg from 'pg';
import Cursor from 'pg-cursor';
import type { LinkInputsBuilder } from './link-assemble.js';
import type { CompiledLinkInputs } from './link-inputs.js';

/** PostgreSQL rows fetched per round trip. */
const PG_BATCH = 10_000;

/** Streams the statement on `conn` into `builder`. */
export async function readDuckDbLink(
  conn: DuckDBConnection,
  compiled: CompiledLinkInputs,
  builder: LinkInputsBuilder,
): Promise<void> {
  const result = await conn.stream(compiled.sql, [...compiled.params] as DuckDBValue[]);
  const width = builder.columns;
  for (;;) {
    const chunk = await result.fetchChunk();
    // rowCount is a native call: read once per chunk.
    const rows = chunk === null ? 0 : chunk.rowCount;
    if (chunk === null || rows === 0) return;
    const vectors = Array.from({ length: width }, (_, k) => chunk.getColumnVector(k));
    const row: unknown[] = new Array<unknown>(width);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < width; k++) row[k] = vectors[k]?.getItem(r);
      builder.add(row);
    }
  }
}

/** Streams the statement on `client` (inside its transaction) into `builder`. */
export async function readPgLink(
  client: pg.PoolClient,
  compiled: CompiledLinkInputs,
  builder: LinkInputsBuilder,
): Promise<void> {
  const cursor = client.query(new Cursor<unknown[]>(compiled.sql, [...compiled.params], { rowMode: 'array' }));
  // Closed only once read to the end: after a failure the caller's transaction destroys the
  // client (pg-transaction.ts), and closing a failed cursor could wait forever on a lost connection.
  for (;;) {
    const rows = await cursor.read(PG_BATCH);
    if (rows.length === 0) break;
    for (const row of rows) builder.add(row);
  }
  await cursor.close();
}
