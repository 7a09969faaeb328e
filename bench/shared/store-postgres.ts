/**
 * bench store's PostgreSQL side: the server (FEDSTAT_TEST_PG when set, else a throwaway one from
 * scripts/pg-server.ts, stopped at the end), and the live table a real agency would have: category
 * columns as text, integers as integer, the id as text, loaded by COPY FROM STDIN from the cached
 * CSV (streamed: the file's bytes, not rows, pass through this process). On a server of your own the
 * table stays for the next run; the throwaway server's goes with it.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { startPgServer } from '../../scripts/pg-server.js';
import type { DatasetSchema } from '../../src/federation/schema.js';

/** Where the bench connects, and how to let go of the server afterwards. */
export interface BenchPostgres extends AsyncDisposable {
  readonly config: pg.ClientConfig;
  /** Shown in the report: whose server it is. */
  readonly where: string;
}

export async function benchPostgres(): Promise<BenchPostgres> {
  const url = process.env.FEDSTAT_TEST_PG;
  if (url !== undefined && url !== '') {
    return { config: { connectionString: url }, where: 'FEDSTAT_TEST_PG', [Symbol.asyncDispose]: async () => {} };
  }
  const server = await startPgServer();
  return {
    config: { ...server.settings },
    where: `throwaway PostgreSQL ${server.version} (fsync off)`,
    [Symbol.asyncDispose]: () => server.stop(),
  };
}

function columnType(schema: DatasetSchema, name: string): string {
  const c = schema.columns[name];
  return c?.type === 'integer' ? 'integer' : 'text';
}

/**
 * The table `bench_store_<rows>.social_insurance`, loaded unless an earlier run completed it;
 * returns its schema (the bench puts it on search_path, so the user's statement names the table
 * as the dataset).
 */
export async function ensurePgTable(
  config: pg.ClientConfig,
  schema: DatasetSchema,
  rows: number,
  csv: string,
  onStep: (what: string) => void,
): Promise<string> {
  const pgSchema = `bench_store_${rows}`;
  const table = `${pgSchema}.social_insurance`;
  const client = new pg.Client(config);
  await client.connect();
  try {
    // A finished load leaves a comment: a table without it was interrupted and is rebuilt.
    const done = await client.query<{ c: string | null }>("SELECT obj_description(to_regclass($1), 'pg_class') AS c", [
      table,
    ]);
    if (done.rows[0]?.c === 'complete') return pgSchema;
    onStep(`COPY ${rows.toLocaleString('en-US')} rows into PostgreSQL`);
    const columns = Object.keys(schema.columns).map((n) => `${pg.escapeIdentifier(n)} ${columnType(schema, n)}`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${pgSchema}`);
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(`CREATE TABLE ${table} (${columns.join(', ')})`);
    await pipeline(createReadStream(csv), client.query(copyFrom(`COPY ${table} FROM STDIN (FORMAT csv, HEADER true)`)));
    onStep('VACUUM (FREEZE, ANALYZE): hint bits set before timing, as on a table in service');
    await client.query(`VACUUM (FREEZE, ANALYZE) ${table}`);
    await client.query(`COMMENT ON TABLE ${table} IS 'complete'`);
    return pgSchema;
  } finally {
    await client.end();
  }
}

/** The statement as a user types it in psql (simple query protocol), its rows by district. */
export async function pgGroupBy(client: pg.Client, sql: string): Promise<Map<string, [bigint, bigint]>> {
  const r = await client.query<[string, string, string]>({ text: sql, rowMode: 'array' });
  return new Map(r.rows.map(([d, n, s]) => [d, [BigInt(n), BigInt(s)]]));
}
