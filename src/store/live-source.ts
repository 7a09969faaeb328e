/**
 * A dataset read in place from a table fedstat did not load (a live PostgreSQL table, Parquet
 * files): its cells were never validated, so every statement reads it through a relation that
 * re-checks the schema's domains row by row. The relation has the shape of a loaded table
 * (category codes, integers as BIGINT) so the compilers of compile-sql.ts, glm-sums.ts and
 * record-scan.ts run over it unchanged:
 *
 * - a category cell becomes its code, or NULL when its text is not a declared value;
 * - an integer cell stays, or becomes NULL when it lies outside [min, max];
 * - `__fedstat_ok` (`okColumn`) is true exactly when no category or integer cell of the row is NULL.
 *
 * So nothing out of domain ever reaches a sum (the no-wrap proof of the encoding depends on it):
 * `validRelation` keeps only rows with `__fedstat_ok`, and a census counts the others per column,
 * which store/invalid-rows.ts turns into a refusal (`reject`) or a report (`skip`).
 *
 * Identifier columns are not read: no statement of a plan, a GLM round or a record scan reads one.
 * The category values and bounds come from the federation's schema (the agency's own file, never
 * from a query) and are written as SQL literals, quoted by `sqlString`: standard SQL quoting, which
 * both engines read literally (the PostgreSQL store pins `standard_conforming_strings = on`).
 */
import type { DatasetSchema } from '../federation/schema.js';
import type { SqlDialect } from './sql-dialect.js';

/**
 * The flag column of a flagged relation over `schema`: true for rows inside every domain. Named
 * `__fedstat_ok`, or `__fedstat_ok_<k>` when a schema column already has that name (compared
 * without case: DuckDB's quoted identifiers ignore it), so it never shadows a column of the data.
 */
function okColumn(schema: DatasetSchema): string {
  const taken = new Set(Object.keys(schema.columns).map((n) => n.toLowerCase()));
  let name = '__fedstat_ok';
  for (let k = 1; taken.has(name); k++) name = `__fedstat_ok_${k}`;
  return name;
}
/** The prefix of the census's per-column columns. */
const BAD_PREFIX = '__fedstat_bad_';

/** What a store needs to read one live dataset. */
export interface LiveSource {
  /** What to read from, as SQL: a quoted (qualified) table, or a table function call. */
  readonly from: string;
  /** The schema the rows must fit. */
  readonly schema: DatasetSchema;
}

/**
 * A string as a standard SQL literal: single quotes, embedded quotes doubled. Refuses NUL, which
 * neither engine can carry in text.
 */
export function sqlString(value: string): string {
  if (value.includes('\u0000')) throw new RangeError('a SQL string literal cannot hold NUL');
  return `'${value.replaceAll("'", "''")}'`;
}

/** The category and integer columns of a schema: the ones a live relation checks, in schema order. */
export function checkedColumns(schema: DatasetSchema): string[] {
  return Object.keys(schema.columns).filter((name) => schema.columns[name]?.type !== 'id');
}

/**
 * True exactly when the cell of `name` is in its domain (never NULL: a NULL cell is out of domain):
 * a category's text among the declared values, an integer within its bounds.
 */
export function inDomain(schema: DatasetSchema, name: string, dialect: SqlDialect): string {
  const col = schema.columns[name];
  const q = dialect.quoteIdent(name);
  if (col?.type === 'category') {
    return `COALESCE(${dialect.cast(q, 'text')} IN (${col.values.map(sqlString).join(', ')}), FALSE)`;
  }
  if (col?.type === 'integer') return `COALESCE(${q} BETWEEN ${col.min} AND ${col.max}, FALSE)`;
  throw new RangeError(`column ${name} is not checked by a live relation`);
}

/** `name` normalized: a code, a bounded integer, or NULL when out of domain, as `name`. */
export function normalizedCell(schema: DatasetSchema, name: string, dialect: SqlDialect): string {
  const col = schema.columns[name];
  const q = dialect.quoteIdent(name);
  if (col?.type === 'category') {
    // CAST to text: an enum or varchar column compares by its text, never by an enum's own order.
    const branches = col.values.map((v, i) => `WHEN ${sqlString(v)} THEN ${i}`).join(' ');
    return `${dialect.cast(`CASE ${dialect.cast(q, 'text')} ${branches} END`, 'code')} AS ${q}`;
  }
  if (col?.type === 'integer') {
    return `CASE WHEN ${q} BETWEEN ${col.min} AND ${col.max} THEN ${dialect.cast(q, 'integer')} END AS ${q}`;
  }
  throw new RangeError(`column ${name} is not checked by a live relation`);
}

/**
 * The rows of `source` with every checked column normalized and the `__fedstat_ok` flag, as a
 * parenthesized subquery aliased `alias`.
 */
function flaggedRelation(source: LiveSource, dialect: SqlDialect, alias: string): string {
  const names = checkedColumns(source.schema);
  const cells = names.map((name) => normalizedCell(source.schema, name, dialect));
  const ok = names.length === 0 ? 'TRUE' : names.map((n) => `${dialect.quoteIdent(n)} IS NOT NULL`).join(' AND ');
  const inner = `SELECT ${cells.join(', ')} FROM ${source.from}`;
  return `(SELECT *, (${ok}) AS ${dialect.quoteIdent(okColumn(source.schema))} FROM (${inner}) AS "fedstat_cells") AS ${dialect.quoteIdent(alias)}`;
}

/** Only the rows of `source` inside every domain, normalized, as a subquery aliased `alias`. */
export function validRelation(source: LiveSource, dialect: SqlDialect, alias: string): string {
  const names = checkedColumns(source.schema).map((n) => dialect.quoteIdent(n));
  const list = names.length === 0 ? '1 AS "fedstat_row"' : names.join(', ');
  return `(SELECT ${list} FROM ${flaggedRelation(source, dialect, 'fedstat_flagged')} WHERE ${dialect.quoteIdent(okColumn(source.schema))}) AS ${dialect.quoteIdent(alias)}`;
}

/**
 * The census's output columns over a flagged relation: out-of-domain rows in all, then per checked
 * column (in `checkedColumns` order) the rows whose cell there is out of domain. Portable SQL (no
 * FILTER clause: some PostgreSQL-compatible servers predate it).
 */
function censusOutputs(schema: DatasetSchema, dialect: SqlDialect): string[] {
  const ok = dialect.quoteIdent(okColumn(schema));
  return [
    `COUNT(CASE WHEN NOT ${ok} THEN 1 END)`,
    ...checkedColumns(schema).map(
      (n, i) =>
        `COUNT(CASE WHEN ${dialect.quoteIdent(n)} IS NULL THEN 1 END) AS ${dialect.quoteIdent(BAD_PREFIX + String(i))}`,
    ),
  ];
}

/** The census alone: one row of `censusOutputs` over the whole dataset. */
export function compileCensus(source: LiveSource, dialect: SqlDialect): string {
  return `SELECT ${censusOutputs(source.schema, dialect).join(', ')} FROM ${flaggedRelation(source, dialect, 'fedstat_rows')}`;
}
