/**
 * A dataset's records read back from the agency's own store, in batches, for training that runs at
 * the agency (federated averaging): `AgencyStore.scanRecords`. The rows never leave the agency;
 * only what a trainer computes from them does, under the federation's protections.
 *
 * The statement reads only the named columns, with the WHERE clause compiled by compile-sql.ts
 * (every literal a bound parameter; identifiers only from the schema, quoted by the dialect).
 * Identifier (`id`) columns are refused: no model reads them, so no trainer needs them.
 *
 * Order: a plain scan, without ORDER BY. DuckDB returns a table's rows in insertion order (its
 * default `preserve_insertion_order`, which the store never changes; score-csv.ts relies on it
 * too), also through a WHERE filter on many threads, and the load writes a table once, so a table
 * gives the same sequence every call. `ORDER BY rowid` would say so explicitly but is a blocking
 * sort: at 5M rows it took 1.6–1.9 s instead of 1.1 s and 170–250 MB more, and no batch arrives
 * before the whole table is sorted.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { Column, DatasetSchema } from '../federation/schema.js';
import type { DataRecord } from '../learn/design-row.js';
import { idColumnError, queryableColumns } from '../query/names.js';
import type { Predicate } from '../query/plan.js';
import { queryInvalid, quoted } from '../query/query-error.js';
import { closest, listNames } from '../query/suggest.js';
import { compileWhere } from './compile-where.js';
import type { SqlDialect } from './sql-dialect.js';

const DATASET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A compiled scan: the statement, its parameters, and the columns its rows hold, in order. */
export interface CompiledScan {
  readonly sql: string;
  /** Bound in order to `$1..$n`: the WHERE clause's literals. */
  readonly params: readonly number[];
  /** The selected columns' names and schema entries, in the statement's column order. */
  readonly columns: readonly (readonly [name: string, column: Column])[];
  /** Records per batch. */
  readonly batchRows: number;
}

/** A stored cell back to the value a CSV reader gives: a category's value, an integer, an id's text. */
export function cellValue(col: Column | undefined, v: unknown): string | number {
  if (col?.type === 'category') return col.values[Number(v)] as string;
  if (col?.type === 'integer') return Number(v);
  return String(v);
}

/** The schema entry of a column a scan may read; QUERY_INVALID for unknown and `id` columns. */
function scanColumn(dataset: string, schema: DatasetSchema, name: string): Column {
  const column = Object.hasOwn(schema.columns, name) ? schema.columns[name] : undefined;
  if (column === undefined) {
    const valid = queryableColumns(schema);
    const hit = closest(name, valid)[0];
    throw queryInvalid(
      `unknown column ${quoted(name)} in ${dataset}`,
      null,
      `valid columns: ${listNames(valid)}${hit === undefined ? '' : ` (did you mean ${hit}?)`}`,
      { columnName: name.slice(0, 64), valid },
    );
  }
  if (column.type === 'id') throw idColumnError(dataset, name, null);
  return column;
}

/**
 * The scan of `columns` (each once, in first-named order) of the rows of `dataset` that `where`
 * keeps, `batchRows` records at a time. QUERY_INVALID for no column, an unknown or `id` column, or
 * a predicate that does not fit `schema`; RangeError for a name that cannot be a dataset's or a
 * `batchRows` that is not a positive whole number.
 */
export function compileRecordScan(
  dataset: string,
  schema: DatasetSchema,
  columns: readonly string[],
  where: Predicate | null,
  batchRows: number,
  dialect: SqlDialect,
): CompiledScan {
  if (!DATASET_NAME.test(dataset)) throw new RangeError(`invalid dataset name ${JSON.stringify(dataset.slice(0, 64))}`);
  if (!Number.isSafeInteger(batchRows) || batchRows < 1)
    throw new RangeError(`scanRecords: batchRows must be a positive whole number, got ${String(batchRows)}`);
  const names = [...new Set(columns)];
  if (names.length === 0)
    throw queryInvalid(`a record scan of ${dataset} names no column`, null, 'name the columns the model reads');
  const selected = names.map((name) => [name, scanColumn(dataset, schema, name)] as const);
  const w = compileWhere(dataset, schema, dialect, where);
  const list = names.map((name) => dialect.quoteIdent(name)).join(', ');
  return Object.freeze({
    sql: `SELECT ${list} FROM ${dialect.table(dataset)}${w.text}`,
    params: w.params,
    columns: Object.freeze(selected),
    batchRows,
  });
}

/**
 * Streams a compiled scan on `conn`, `compiled.batchRows` records at a time (the last batch may be
 * shorter; no batch is empty). `stillOpen` runs before each batch is handed over and throws to stop the
 * scan (the store closing). The connection must not run anything else until the iteration ends:
 * a new statement on it would cut the stream short.
 */
export async function* streamRecords(
  conn: DuckDBConnection,
  compiled: CompiledScan,
  stillOpen: () => void,
): AsyncGenerator<readonly DataRecord[], void, undefined> {
  const { batchRows } = compiled;
  const result = await conn.stream(compiled.sql, [...compiled.params] as DuckDBValue[]);
  let batch: DataRecord[] = [];
  for await (const chunk of result.yieldRows()) {
    for (const cells of chunk) {
      const record: Record<string, string | number> = {};
      compiled.columns.forEach(([name, column], k) => {
        record[name] = cellValue(column, cells[k]);
      });
      batch.push(record);
      if (batch.length === batchRows) {
        stillOpen();
        yield Object.freeze(batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) {
    stillOpen();
    yield Object.freeze(batch);
  }
}
