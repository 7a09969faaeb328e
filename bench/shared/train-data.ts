/**
 * The `train` benchmark's data: a workers dataset (district, sector, sex, zone, age, income,
 * months insured; binomial response `insured` from a documented logistic model), generated inside
 * DuckDB from a hash of (agency, row, column), so every run holds the same rows and 10M rows take
 * seconds, not the minutes a CSV would. Each agency's DuckDB file is laid out by the store itself
 * (a one-row CSV through `loadCsv`, which writes the table and its schema fingerprint); its rows
 * are then replaced by SQL. The pooled table, for the single-process baseline, is the union of the
 * agencies' files as written, so both fits see exactly the same rows.
 */
import { writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { parseSchema, type DatasetSchema, type Schema } from '../../src/federation/schema.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import { quoteIdent } from '../../src/store/sql-dialect.js';

/** The dataset every agency serves. */
export const DATASET = 'workers';

const levels = (prefix: string, k: number): string[] => Array.from({ length: k }, (_, i) => `${prefix}${i}`);

/** The federation schema, its `maxRows` the rows of one agency (the fixed-point encoding is sized to it). */
export function benchSchema(maxRows: number): Schema {
  return parseSchema(
    {
      datasets: {
        [DATASET]: {
          maxRows,
          columns: {
            district: { type: 'category', values: levels('区', 68) },
            sector: { type: 'category', values: levels('业', 32) },
            sex: { type: 'category', values: ['男', '女'] },
            zone: { type: 'category', values: levels('zone', 5) },
            age: { type: 'integer', min: 16, max: 75 },
            income: { type: 'integer', min: 0, max: 1_000_000 },
            months: { type: 'integer', min: 0, max: 600 },
            insured: { type: 'category', values: ['否', '是'] },
          },
        },
      },
    },
    'bench-train-schema.json',
  );
}

/** Binomial models by their number of coefficients d (intercept included). */
export const FORMULAS = {
  /** The headline model: five terms. */
  9: 'insured ~ age + sex + zone + income + months',
  10: 'insured ~ age + sex + zone + income + months + age:sex',
  40: 'insured ~ age + sex + sector + zone + income + months',
  120: 'insured ~ age + sex + district + sector + zone + income + months + age:sex + age:zone + months:sex + zone:sex + age:months + income:sex + income:months',
} as const;

/** Integer columns in [0, k) from a hash of (agency, row, column): uniform enough, the same every run. */
function draw(agency: number, column: number, k: number): string {
  return `(hash(${agency} * 4294967296 + i * 16 + ${column}) % ${k})::BIGINT`;
}

/**
 * The rows of agency `agency` (0-based) as one SELECT over range(n). The response follows
 * logit P(insured = 是) = −0.4 + 0.03·(age − 40) − 0.35·[sex = 女] + 0.12·zone
 * + 1.5·income/10⁶ + 0.002·months + 0.25·sin(district) + 0.15·cos(sector).
 */
function agencyRowsSql(agency: number, n: number): string {
  const base =
    `SELECT ${draw(agency, 1, 68)} AS district, ${draw(agency, 2, 32)} AS sector, ${draw(agency, 3, 2)} AS sex, ` +
    `${draw(agency, 4, 5)} AS zone, 16 + ${draw(agency, 5, 60)} AS age, ` +
    `${draw(agency, 6, 400_001)} + ${draw(agency, 7, 200_001)} AS income, ${draw(agency, 8, 241)} AS months, ` +
    `${draw(agency, 9, 9_007_199_254_740_992)}::DOUBLE / 9007199254740992.0 AS u FROM range(${n}) t(i)`;
  const eta =
    '-0.4 + 0.03 * (age - 40) - 0.35 * sex + 0.12 * zone + 1.5 * income / 1e6 + 0.002 * months' +
    ' + 0.25 * sin(district) + 0.15 * cos(sector)';
  return (
    'SELECT district::USMALLINT AS district, sector::USMALLINT AS sector, sex::USMALLINT AS sex, zone::USMALLINT AS zone, ' +
    'age::BIGINT AS age, income::BIGINT AS income, months::BIGINT AS months, ' +
    `(CASE WHEN u < 1 / (1 + exp(-(${eta}))) THEN 1 ELSE 0 END)::USMALLINT AS insured FROM (${base})`
  );
}

const COLUMNS = ['district', 'sector', 'sex', 'zone', 'age', 'income', 'months', 'insured'] as const;

async function withConnection<T>(file: string, f: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(file);
  const conn = await instance.connect();
  try {
    return await f(conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/**
 * Writes agency `agency`'s DuckDB file with `n` rows: the store lays out the table from a one-row
 * CSV (`scratchCsv`, overwritten), then the rows are replaced by SQL in the same table.
 */
export async function writeAgencyDb(
  file: string,
  scratchCsv: string,
  schema: DatasetSchema,
  agency: number,
  n: number,
): Promise<void> {
  writeFileSync(scratchCsv, `${COLUMNS.join(',')}\n区0,业0,男,zone0,30,1000,12,否\n`);
  {
    await using store = await openDuckDbStore(file);
    await store.loadCsv(DATASET, schema, scratchCsv);
  }
  await withConnection(file, async (conn) => {
    const table = `main.${quoteIdent(DATASET)}`;
    await conn.run('BEGIN TRANSACTION');
    await conn.run(`DELETE FROM ${table}`);
    await conn.run(`INSERT INTO ${table} (${COLUMNS.join(', ')}) ${agencyRowsSql(agency, n)}`);
    await conn.run(`UPDATE fedstat.datasets SET rows = ${n} WHERE name = '${DATASET}'`);
    await conn.run('COMMIT');
    await conn.run('CHECKPOINT');
  });
}

/** A connection to a DuckDB file holding every agency's rows in one table named `DATASET`. */
export interface PooledTable {
  readonly conn: DuckDBConnection;
  close(): void;
}

/** Copies the agencies' tables (read-only) into one table of a new DuckDB file; keep it open for the pooled fits. */
export async function openPooledTable(file: string, agencyFiles: readonly string[]): Promise<PooledTable> {
  const instance = await DuckDBInstance.create(file);
  const conn = await instance.connect();
  const q = quoteIdent(DATASET);
  try {
    const names = agencyFiles.map((_, i) => `a${i}`);
    for (const [i, f] of agencyFiles.entries())
      await conn.run(`ATTACH '${f.replace(/'/g, "''")}' AS a${i} (READ_ONLY)`);
    const union = names.map((a) => `SELECT ${COLUMNS.join(', ')} FROM ${a}.main.${q}`).join(' UNION ALL ');
    await conn.run(`CREATE TABLE ${q} AS ${union}`);
    for (const a of names) await conn.run(`DETACH ${a}`);
    await conn.run('CHECKPOINT');
  } catch (e) {
    conn.closeSync();
    instance.closeSync();
    throw e;
  }
  return {
    conn,
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}
