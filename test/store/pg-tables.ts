/**
 * Live PostgreSQL tables for the store tests: a dataset's rows written to a real table whose column
 * types an agency might really have (text, varchar, char(n), an enum type, a domain over an integer
 * type; smallint, integer or bigint), with rows that may break the schema's domains (NULLs, unknown
 * category text, text that differs only in Unicode normalization, integers outside the bounds), and
 * the reference: which rows are valid and how many of each column's cells are not.
 */
import pg from 'pg';
import type { Column, DatasetSchema } from '../../src/federation/schema.js';
import { evaluatePredicate } from '../../src/query/evaluate.js';
import { planMeasures, type Predicate, type QueryPlan } from '../../src/query/plan.js';
import type { TestDatabase } from '../helpers/postgres.js';

/** A cell as written: text, a whole number (bigint past 2^53), or NULL. */
export type LiveCell = string | number | bigint | null;
export type LiveRow = Readonly<Record<string, LiveCell>>;

/** How one column is declared in the table. */
export type CategoryType = 'text' | 'varchar' | 'char' | 'enum';
export type IntegerType = 'smallint' | 'integer' | 'bigint' | 'domain';

const RANGES: Readonly<Record<Exclude<IntegerType, 'domain'>, readonly [bigint, bigint]>> = {
  smallint: [-32768n, 32767n],
  integer: [-2147483648n, 2147483647n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
};

/** The smallest integer type that holds every value of `cells` (its declared bounds ± 1 included). */
function integerTypeFor(col: Column, cells: readonly LiveCell[]): Exclude<IntegerType, 'domain'> {
  if (col.type !== 'integer') throw new RangeError('not an integer column');
  const vs = [BigInt(col.min) - 1n, BigInt(col.max) + 1n, ...cells.filter((c) => c !== null).map((c) => BigInt(c))];
  const lo = vs.reduce((a, b) => (a < b ? a : b));
  const hi = vs.reduce((a, b) => (a > b ? a : b));
  for (const t of ['smallint', 'integer', 'bigint'] as const) if (lo >= RANGES[t][0] && hi <= RANGES[t][1]) return t;
  throw new RangeError('values beyond bigint');
}

/** Whether a char(n) column keeps these texts apart from the schema's values (it pads with spaces). */
function charSafe(texts: readonly string[]): boolean {
  return texts.every((t) => !t.endsWith(' ') && t !== '');
}

/** Whether these texts can be the labels of one enum type (non-empty, at most 63 bytes, distinct). */
function enumSafe(texts: readonly string[]): boolean {
  return texts.every((t) => t !== '' && Buffer.byteLength(t, 'utf8') <= 63) && new Set(texts).size === texts.length;
}

/**
 * The type a column gets: the wanted one when it can hold the column's values (a char(n) column
 * would merge texts that differ in trailing spaces, an enum label is at most 63 bytes, an integer
 * type must hold every value), else text or the smallest integer type that fits.
 */
function effectiveType(
  col: Column,
  cells: readonly LiveCell[],
  want: CategoryType | IntegerType | undefined,
): CategoryType | IntegerType {
  const texts = [...new Set(cells.filter((c): c is string => typeof c === 'string'))];
  if (col.type === 'category') {
    if (want === 'char') return charSafe([...col.values, ...texts]) ? 'char' : 'text';
    if (want === 'enum') return enumSafe([...new Set([...col.values, ...texts])]) ? 'enum' : 'text';
    return want === 'varchar' ? 'varchar' : 'text';
  }
  if (col.type === 'integer') {
    const least = integerTypeFor(col, cells);
    if (want === 'domain') return 'domain';
    const order = ['smallint', 'integer', 'bigint'];
    return want !== undefined && order.indexOf(want) >= order.indexOf(least) ? want : least;
  }
  return 'text';
}

const q = (name: string): string => pg.escapeIdentifier(name);

/**
 * Creates `table` (a quoted, possibly qualified name) holding `rows`. `types` says how each checked
 * column is declared (category default text, integer default the smallest type that fits); id
 * columns are text. Enum and domain types are named after the table, so tables never share one.
 */
export async function createLiveTable(
  db: TestDatabase,
  table: { readonly schema: string; readonly name: string },
  schema: DatasetSchema,
  rows: readonly LiveRow[],
  types: Readonly<Record<string, CategoryType | IntegerType>> = {},
): Promise<string> {
  const ref = `${q(table.schema)}.${q(table.name)}`;
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${q(table.schema)}`);
  const decls: string[] = [];
  let k = 0;
  for (const [name, col] of Object.entries(schema.columns)) {
    const cells = rows.map((r) => r[name] ?? null);
    const texts = [...new Set(cells.filter((c): c is string => typeof c === 'string'))];
    const want = effectiveType(col, cells, types[name]);
    let type = 'text';
    if (col.type === 'category' && want === 'varchar') type = 'varchar';
    if (col.type === 'category' && want === 'char') {
      const longest = Math.max(1, ...[...col.values, ...texts].map((t) => [...t].length));
      type = `char(${longest + 2})`;
    }
    if (col.type === 'category' && want === 'enum') {
      const labels = [...new Set([...col.values, ...texts])].reverse(); // its own order, not the schema's
      const e = `${table.name}_e${k++}`;
      await db.query(
        `CREATE TYPE ${q(table.schema)}.${q(e)} AS ENUM (${labels.map((l) => pg.escapeLiteral(l)).join(', ')})`,
      );
      type = `${q(table.schema)}.${q(e)}`;
    }
    if (col.type === 'integer') {
      type = want;
      if (want === 'domain') {
        const d = `${table.name}_d${k++}`;
        await db.query(`CREATE DOMAIN ${q(table.schema)}.${q(d)} AS ${integerTypeFor(col, cells)}`);
        type = `${q(table.schema)}.${q(d)}`;
      }
    }
    decls.push(`${q(name)} ${type}`);
  }
  await db.query(`CREATE TABLE ${ref} (${decls.join(', ')})`);
  const names = Object.keys(schema.columns);
  for (let at = 0; at < rows.length; at += 200) {
    const chunk = rows.slice(at, at + 200);
    const values: unknown[] = [];
    const tuples = chunk.map((r) => {
      const ps = names.map((n) => {
        const v = r[n] ?? null;
        values.push(typeof v === 'bigint' || typeof v === 'number' ? String(v) : v);
        return `$${values.length}`;
      });
      return `(${ps.join(', ')})`;
    });
    await db.query(`INSERT INTO ${ref} (${names.map(q).join(', ')}) VALUES ${tuples.join(', ')}`, values);
  }
  return ref;
}

/** Whether `cell` lies in `col`'s domain, as the store must judge it (exact text, no normalization). */
function cellValid(col: Column, cell: LiveCell): boolean {
  if (col.type === 'id') return true;
  if (cell === null) return false;
  if (col.type === 'category') return typeof cell === 'string' && col.values.includes(cell);
  const v = BigInt(cell);
  return v >= BigInt(col.min) && v <= BigInt(col.max);
}

/** The census the store must report: out-of-domain rows, and per checked column its bad cells. */
export function expectedCensus(
  schema: DatasetSchema,
  rows: readonly LiveRow[],
): { rows: number; byColumn: Record<string, number> } {
  let bad = 0;
  const byColumn: Record<string, number> = {};
  for (const r of rows) {
    let ok = true;
    for (const [name, col] of Object.entries(schema.columns)) {
      if (cellValid(col, r[name] ?? null)) continue;
      ok = false;
      byColumn[name] = (byColumn[name] ?? 0) + 1;
    }
    if (!ok) bad++;
  }
  return { rows: bad, byColumn };
}

/** The rows inside every domain, typed as a CSV reader gives them (integers as numbers). */
export function validRows(schema: DatasetSchema, rows: readonly LiveRow[]): Record<string, string | number>[] {
  return rows
    .filter((r) => Object.entries(schema.columns).every(([n, c]) => cellValid(c, r[n] ?? null)))
    .map((r) =>
      Object.fromEntries(
        Object.entries(schema.columns).map(([n, c]) => [
          n,
          c.type === 'integer' ? Number(r[n]) : String(r[n] ?? 'id'), // an id is never read
        ]),
      ),
    );
}

/** The columns a predicate compares. */
function compared(p: Predicate | null, out = new Set<string>()): Set<string> {
  if (p === null) return out;
  if (p.kind === 'and' || p.kind === 'or') for (const a of p.args) compared(a, out);
  else if (p.kind === 'not') compared(p.arg, out);
  else out.add(p.column);
  return out;
}

/**
 * What one live aggregate must make of `rows` (compile-sql.ts `liveAggregate`): a row is judged by
 * the columns the statement reads. Out of domain in a WHERE or SUM column (checked per row): left
 * out and counted, whatever the WHERE says. Out of domain only in a GROUP BY column the WHERE
 * does not compare: left out, and counted when the WHERE keeps it. `rows` are those the answer
 * must equal the reference over; `census` what `skip` reports and `reject` names.
 */
export function statementView(
  schema: DatasetSchema,
  plan: QueryPlan,
  rows: readonly LiveRow[],
): { rows: Record<string, string | number>[]; census: { rows: number; byColumn: Record<string, number> } } {
  const measured = planMeasures(plan).flatMap((m) => (m.kind === 'sum' && m.column !== null ? [m.column] : []));
  const checked = new Set([...compared(plan.where ?? null), ...measured]);
  const grouped = plan.groupBy.filter((g) => !checked.has(g));
  const col = (n: string): Column => schema.columns[n]!;
  const kept: LiveRow[] = [];
  let bad = 0;
  const byColumn: Record<string, number> = {};
  for (const r of rows) {
    const badChecked = [...checked].filter((n) => !cellValid(col(n), r[n] ?? null));
    const badGrouped = grouped.filter((n) => !cellValid(col(n), r[n] ?? null));
    const typed = typedRow(schema, r);
    const counted = badChecked.length > 0 || (badGrouped.length > 0 && evaluatePredicate(plan.where ?? null, typed));
    if (!counted) {
      if (badGrouped.length === 0) kept.push(r);
      continue;
    }
    bad++;
    for (const n of [...badChecked, ...badGrouped]) byColumn[n] = (byColumn[n] ?? 0) + 1;
  }
  return { rows: kept.map((r) => typedRow(schema, r)), census: { rows: bad, byColumn } };
}

function typedRow(schema: DatasetSchema, r: LiveRow): Record<string, string | number> {
  return Object.fromEntries(
    Object.entries(schema.columns).map(([n, c]) => [
      n,
      c.type === 'integer' && r[n] !== null && r[n] !== undefined ? Number(r[n]) : String(r[n] ?? 'id'),
    ]),
  );
}
