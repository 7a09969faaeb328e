/**
 * The test federation's residents (test-federation.ts) where agencies keep them without fedstat
 * loading them: a PostgreSQL table, and Parquet files written by DuckDB from the agency's CSV.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import type { Row } from './test-federation.js';
import type { TestDatabase } from './postgres.js';

/** CREATE TABLE `table` with the residents' columns (ages as integer, incomes as bigint) and `rows` in it. */
export async function residentsTable(db: TestDatabase, table: string, rows: readonly Row[]): Promise<void> {
  const t = pg.escapeIdentifier(table);
  await db.query(
    `CREATE TABLE ${t} (person text NOT NULL, district text, sex varchar(4), age integer, income bigint, balance integer)`,
  );
  await db.query(
    `INSERT INTO ${t} SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::int[])`,
    [
      rows.map((r) => r.person),
      rows.map((r) => r.district),
      rows.map((r) => r.sex),
      rows.map((r) => r.age),
      rows.map((r) => r.income),
      rows.map((r) => r.balance),
    ],
  );
}

/** The rows of `csvFile` as `parts` Parquet files `prefix-1.parquet`…, in order; returns their paths. */
export async function residentsParquet(csvFile: string, prefix: string, parts: number): Promise<string[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run(
      `CREATE TABLE r AS SELECT row_number() OVER () AS i, * FROM read_csv('${csvFile}', header = true, columns = {'person': 'VARCHAR', 'district': 'VARCHAR', 'sex': 'VARCHAR', 'age': 'INTEGER', 'income': 'BIGINT', 'balance': 'INTEGER'})`,
    );
    const files: string[] = [];
    for (let k = 1; k <= parts; k++) {
      const file = `${prefix}-${k}.parquet`;
      await conn.run(
        `COPY (SELECT person, district, sex, age, income, balance FROM r WHERE i % ${parts} = ${k % parts} ORDER BY i) TO '${file}' (FORMAT parquet)`,
      );
      files.push(file);
    }
    return files;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
