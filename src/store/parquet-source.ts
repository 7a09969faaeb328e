/**
 * Parquet files a DuckDB store reads in place (`--dataset NAME=FILE.parquet`, or a glob of files):
 * nothing is loaded. When the dataset is attached the files must exist and their columns must have
 * types whose values can be what the schema says (VARCHAR for a category or an id; an integer type
 * for an integer), every mismatch named at once, as store/pg-schema-check.ts does for a table.
 * Values are not checked here: every read checks them (store/live-source.ts), since the files may
 * change under the agency.
 */
import { isAbsolute, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { describeError, FedstatError } from '../errors.js';
import type { Column, DatasetSchema } from '../federation/schema.js';
import { closest } from '../query/suggest.js';
import { sqlString, type LiveSource } from './live-source.js';

/** DuckDB's integer types: a Parquet INT32/INT64 (signed or not) reads as one of these. */
const INTEGER_TYPES = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
  'UHUGEINT',
]);

function fits(col: Column, type: string): boolean {
  return col.type === 'integer' ? INTEGER_TYPES.has(type) : type === 'VARCHAR';
}

function expected(col: Column): string {
  return col.type === 'integer' ? 'an integer type' : 'VARCHAR (a Parquet string)';
}

/** A local path made absolute (a later change of directory must not change what is read); a URL is kept. */
function absolute(pattern: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(pattern) || isAbsolute(pattern) ? pattern : resolve(pattern);
}

/** A DuckDB failure while reading Parquet files, as a FedstatError that names them. */
export function parquetError(e: unknown, label: string): FedstatError {
  const message = describeError(e).split('\n')[0]?.slice(0, 200) ?? 'unknown error';
  return new FedstatError('IO', `${label}: reading failed (${message}); check the files are readable Parquet`, {
    cause: e,
  });
}

/** How a store names the files of a dataset in messages. */
export function parquetLabel(dataset: string, pattern: string): string {
  return `Parquet files ${pattern} (dataset ${dataset})`;
}

/**
 * Checks the Parquet files `pattern` names (a file or a glob) against `schema` on `conn` and
 * returns the live source that reads them in place. RangeError for a pattern with NUL; NOT_FOUND
 * when no file matches; DATA_INVALID naming every missing or mistyped column; IO when the files
 * cannot be read.
 */
export async function parquetSource(
  conn: DuckDBConnection,
  dataset: string,
  schema: DatasetSchema,
  pattern: string,
): Promise<LiveSource> {
  if (pattern.length === 0) throw new RangeError(`dataset ${dataset}: empty Parquet file name`);
  const path = absolute(pattern);
  const literal = sqlString(path); // RangeError for NUL
  const label = parquetLabel(dataset, pattern);
  let columns: Map<string, string>;
  try {
    const matched = await conn.runAndReadAll(`SELECT count(*) FROM glob(${literal})`);
    if (Number(matched.getRows()[0]?.[0] ?? 0) === 0) {
      throw new FedstatError(
        'NOT_FOUND',
        `dataset ${dataset}: no file matches ${pattern}; check the path (quote a glob so the shell does not expand it)`,
        { details: { dataset } },
      );
    }
    const described = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal})`);
    columns = new Map(described.getRows().map((r) => [String(r[0]), String(r[1])]));
  } catch (e) {
    if (e instanceof FedstatError) throw e;
    throw parquetError(e, label);
  }
  const problems: string[] = [];
  for (const [name, col] of Object.entries(schema.columns)) {
    const type = columns.get(name);
    if (type === undefined) {
      const hint = closest(name, [...columns.keys()])[0];
      problems.push(`column ${name} is missing${hint === undefined ? '' : ` (did you mean ${hint}?)`}`);
    } else if (!fits(col, type)) {
      problems.push(`column ${name} is ${type}, expected ${expected(col)} for its ${col.type} type`);
    }
  }
  if (problems.length > 0) {
    throw new FedstatError(
      'DATA_INVALID',
      `${label} do not fit the schema: ${problems.join('; ')}; rewrite the files with those columns and types`,
      { details: { dataset, problems } },
    );
  }
  return Object.freeze({ from: `read_parquet(${literal})`, schema });
}
