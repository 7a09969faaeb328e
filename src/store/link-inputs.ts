/**
 * One side of a record linkage (a PSI join on a citizen id), as a store prepares it: one entry per
 * distinct id of the dataset, with the exact integer components the encrypted join multiplies
 * with the other side's (per group: the rows of that id that pass the side's WHERE, then each
 * measure's sum over them). This file compiles the one statement every engine runs for it;
 * link-assemble.ts turns its result rows into `LinkInputs` and applies the rules.
 *
 * The statement groups by (id, g) (without groupBy: by id alone, with conditional counts), where g is the group index of a row that passes the WHERE, −1
 * for a row the WHERE drops (its id stays present: the set of ids an agency blinds must not
 * depend on the query's predicates, or the coordinator, who sees how many blinded values match,
 * would learn filtered counts) and −2 for a row out of domain in a column the statement reads
 * (live sources only: loaded tables were validated at load). Ids are judged in JS
 * (link-assemble.ts), by the same function the CSV loader's rules derive from.
 */
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { Predicate } from '../query/plan.js';
import { compileWhere } from './compile-where.js';
import { normalizedCell, type LiveSource } from './live-source.js';
import type { SqlDialect } from './sql-dialect.js';

/** One agency's side of a linked query, as the store reads it. */
export interface LinkSideSpec {
  /** The dataset of this side. */
  readonly dataset: string;
  /** The id column the join is on (schema type `id`). */
  readonly id: string;
  /** Category columns of THIS side the join groups by (0..2), in order. */
  readonly groupBy: readonly string[];
  /** Integer columns of THIS side that are summed (distinct), in order. */
  readonly measures: readonly string[];
  /** This side's WHERE (unqualified columns) or null. */
  readonly where: Predicate | null;
  /** At most this many rows may share one id in this agency's dataset (the query's bound, ≥ 1). */
  readonly maxRowsPerId: number;
}

/** A store's per-id inputs to a linked query. */
export interface LinkInputs {
  /** Distinct ids of the dataset at this agency (every valid row's id, whatever the WHERE says), any order. */
  readonly ids: readonly string[];
  /** groups × (1 + measures.length), groups = product of the groupBy columns' domain sizes (1 without groupBy). */
  readonly width: number;
  /**
   * ids.length × width, row-major: for id i and group g (mixed radix over groupBy category
   * positions, first column most significant, as LocalAggregate), [i·width + g·(1+m)] = rows with
   * id i in group g that pass `where`, [i·width + g·(1+m) + 1 + k] = the sum of measures[k] over
   * those rows.
   */
  readonly comps: BigInt64Array;
}

/** The statement of one side, and how to read its rows. */
export interface CompiledLinkInputs {
  readonly dataset: string;
  /**
   * Result rows, ordered by id. `per-group`: id text, g, rows, one sum per measure, then one
   * out-of-domain count per `checked` column. `per-id` (no groupBy): id text, rows, valid rows,
   * valid rows that pass the WHERE, one sum per measure over those, the out-of-domain counts.
   */
  readonly sql: string;
  readonly shape: 'per-group' | 'per-id';
  /** Bound in order to `$1..$n`: category codes and integer literals of the WHERE. */
  readonly params: readonly number[];
  /** The id column and its format. */
  readonly id: string;
  readonly idFormat: 'gb11643' | 'text';
  /** Product of the groupBy domain sizes (1 without groupBy). */
  readonly groups: number;
  /** Number of measures. */
  readonly measures: number;
  /** Columns checked row by row (a live source's groupBy, measure and WHERE columns); empty for a loaded table. */
  readonly checked: readonly string[];
  /** The query's bound on rows per id. */
  readonly maxRowsPerId: number;
}

const DATASET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const MAX_GROUP_BY = 2;
/** Output aliases: `$` cannot occur in a schema column name, so they never shadow one. */
const ID = '"fedstat$id"';
const G = '"fedstat$g"';

function invalid(problem: string, fix: string): FedstatError {
  return new FedstatError('QUERY_INVALID', `linked query: ${problem}; ${fix}`);
}

function isList(v: unknown): v is readonly unknown[] {
  return Array.isArray(v);
}

/** The columns a predicate compares (it was compiled, so checked, before this runs). */
function predicateColumns(p: Predicate, out: Set<string>): Set<string> {
  switch (p.kind) {
    case 'and':
    case 'or':
      for (const a of p.args) predicateColumns(a, out);
      break;
    case 'not':
      predicateColumns(p.arg, out);
      break;
    default:
      out.add(p.column);
  }
  return out;
}

/** A column of `schema` by name, or QUERY_INVALID naming the columns there are. */
function columnOf(schema: DatasetSchema, dataset: string, name: unknown) {
  const col = typeof name === 'string' && Object.hasOwn(schema.columns, name) ? schema.columns[name] : undefined;
  if (typeof name !== 'string' || col === undefined) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 64)) : typeof name;
    throw invalid(`unknown column ${shown} in ${dataset}`, `use one of ${Object.keys(schema.columns).join(', ')}`);
  }
  return col;
}

/** The checks of a spec that need no SQL: names, types, the bound. */
function checkSpec(spec: LinkSideSpec, schema: DatasetSchema): { idFormat: 'gb11643' | 'text'; sizes: number[] } {
  if (typeof spec.dataset !== 'string' || !DATASET_NAME.test(spec.dataset)) {
    throw invalid(
      `bad dataset name ${JSON.stringify(String(spec.dataset).slice(0, 64))}`,
      'name a dataset of the schema',
    );
  }
  const idCol = columnOf(schema, spec.dataset, spec.id);
  if (idCol.type !== 'id') throw invalid(`${spec.id} is not an id column`, 'join on a column of type id');
  if (!isList(spec.groupBy) || spec.groupBy.length > MAX_GROUP_BY) {
    throw invalid(`GROUP BY must list at most ${MAX_GROUP_BY} columns`, 'group by one or two category columns');
  }
  const sizes: number[] = [];
  for (const [i, g] of spec.groupBy.entries()) {
    const col = columnOf(schema, spec.dataset, g);
    if (col.type !== 'category')
      throw invalid(`GROUP BY ${g}: not a category column`, 'group by category columns only');
    if (spec.groupBy.indexOf(g) !== i) throw invalid(`GROUP BY ${g} twice`, 'list each column once');
    sizes.push(col.values.length);
  }
  if (!isList(spec.measures)) throw invalid('missing measure list', 'list the integer columns to sum');
  for (const [i, m] of spec.measures.entries()) {
    const col = columnOf(schema, spec.dataset, m);
    if (col.type !== 'integer') throw invalid(`SUM(${m}): not an integer column`, 'sum integer columns only');
    if (spec.measures.indexOf(m) !== i) throw invalid(`SUM(${m}) twice`, 'list each measure once');
  }
  if (!Number.isSafeInteger(spec.maxRowsPerId) || spec.maxRowsPerId < 1) {
    throw invalid('maxRowsPerId is not a whole number ≥ 1', 'bound the rows one id may have');
  }
  return { idFormat: idCol.format, sizes };
}

/**
 * Compiles one side's statement over a loaded table (`live` absent: cells were validated at load,
 * `dialect.table` names it) or over a live source read in place (Parquet, PostgreSQL: each cell
 * the statement reads is normalized and checked, store/live-source.ts). QUERY_INVALID for an
 * unknown or mistyped column, a bad bound or a predicate that does not fit `schema`.
 */
export function compileLinkInputs(
  spec: LinkSideSpec,
  schema: DatasetSchema,
  dialect: SqlDialect,
  live?: LiveSource,
): CompiledLinkInputs {
  const { idFormat, sizes } = checkSpec(spec, schema);
  // Compiled over codes: a live source is normalized to codes below, as a loaded table stores them.
  const where = compileWhere(spec.dataset, schema, dialect, spec.where);
  const q = (name: string): string => dialect.quoteIdent(name);
  const read = [
    ...new Set([
      ...spec.groupBy,
      ...spec.measures,
      ...(spec.where === null ? [] : predicateColumns(spec.where, new Set())),
    ]),
  ];
  const checked = live === undefined ? [] : read;
  const from =
    live === undefined
      ? dialect.table(spec.dataset)
      : `(SELECT ${[q(spec.id), ...checked.map((n) => normalizedCell(live.schema, n, dialect))].join(', ')} FROM ${live.from}) AS "fedstat_cells"`;
  let index = '0';
  for (const [i, g] of spec.groupBy.entries()) {
    const code = dialect.cast(q(g), 'integer');
    index = i === 0 ? code : `(${index}) * ${sizes[i] ?? 0} + ${code}`;
  }
  const cond = where.text === '' ? 'TRUE' : where.text.slice(' WHERE '.length);
  const ok = checked.length === 0 ? null : checked.map((n) => `${q(n)} IS NOT NULL`).join(' AND ');
  // Byte order on PostgreSQL (DuckDB's default): the rows of one id end up adjacent whatever the
  // database's collation, which link-assemble.ts relies on.
  const id = `${dialect.cast(q(spec.id), 'text')}${dialect.name === 'postgres' ? ' COLLATE "C"' : ''} AS ${ID}`;
  // DuckDB's HUGEINT sum as BIGINT (reading 128-bit cells costs): NULL if it does not fit, which
  // link-assemble.ts refuses as INTERNAL; PostgreSQL's NUMERIC sum comes as exact text.
  const sum = (k: number): string =>
    dialect.name === 'duckdb' ? `TRY_CAST(SUM("fedstat$m${k}") AS BIGINT)` : `SUM("fedstat$m${k}")`;
  const bad = checked.map((n, c) => `CASE WHEN ${q(n)} IS NULL THEN 1 END AS "fedstat$bad${c}"`);
  const badCounts = checked.map((_, c) => `COUNT("fedstat$bad${c}")`);
  let sql: string;
  if (sizes.length === 0) {
    // One group: one row per id with conditional aggregates, a quarter faster than grouping by
    // (id, g) at 1M ids (measured; with groups, the per-group rows are several times faster).
    const pass = ok === null ? cond : `(${ok}) AND ${cond}`;
    const rowItems = [
      id,
      `CASE WHEN ${ok ?? 'TRUE'} THEN 1 END AS "fedstat$ok"`,
      `CASE WHEN ${pass} THEN 1 END AS "fedstat$pass"`,
      ...spec.measures.map((m, k) => `CASE WHEN ${pass} THEN ${q(m)} END AS "fedstat$m${k}"`),
      ...bad,
    ];
    const outputs = [
      ID,
      'COUNT(*)',
      'COUNT("fedstat$ok")',
      'COUNT("fedstat$pass")',
      ...spec.measures.map((_, k) => sum(k)),
      ...badCounts,
    ];
    sql = `SELECT ${outputs.join(', ')} FROM (SELECT ${rowItems.join(', ')} FROM ${from}) AS "fedstat_rows" GROUP BY ${ID} ORDER BY ${ID}`;
  } else {
    const g = `CASE ${ok === null ? '' : `WHEN NOT (${ok}) THEN -2 `}WHEN ${cond} THEN ${index} ELSE -1 END`;
    const rowItems = [
      id,
      // INTEGER, not BIGINT: a group index is small, and drivers hand back 32-bit cells as numbers.
      `CAST(${g} AS INTEGER) AS ${G}`,
      ...spec.measures.map((m, k) => `${q(m)} AS "fedstat$m${k}"`),
      ...bad,
    ];
    const outputs = [ID, G, 'COUNT(*)', ...spec.measures.map((_, k) => sum(k)), ...badCounts];
    sql = `SELECT ${outputs.join(', ')} FROM (SELECT ${rowItems.join(', ')} FROM ${from}) AS "fedstat_rows" GROUP BY ${ID}, ${G} ORDER BY ${ID}`;
  }
  return Object.freeze({
    shape: sizes.length === 0 ? 'per-id' : 'per-group',
    dataset: spec.dataset,
    sql,
    params: Object.freeze([...where.params]),
    id: spec.id,
    idFormat,
    groups: sizes.reduce((a, b) => a * b, 1),
    measures: spec.measures.length,
    checked: Object.freeze(checked),
    maxRowsPerId: spec.maxRowsPerId,
  });
}
