/**
 * The check an agency runs on each live PostgreSQL table before it serves it: the table exists and
 * the role may read it, and every column of the dataset's schema is there with a type whose values
 * can be what the schema says (text or an enum for a category or an id; a whole-number type for an
 * integer). Extra columns are ignored. Every mismatch is named at once, so one restart fixes all.
 * Values are not checked here: they change under the agency, so every read checks them
 * (store/live-source.ts).
 */
import type pg from 'pg';
import { FedstatError } from '../errors.js';
import type { Column, DatasetSchema } from '../federation/schema.js';
import { closest } from '../query/suggest.js';
import { quotePgTableName, type PgTableName } from './pg-table-name.js';
import { quoteIdent } from './sql-dialect.js';

/** The type names (of the base type, under any domain) an integer column may have. */
const WHOLE_NUMBER_TYPES = new Set(['int2', 'int4', 'int8']);

interface TableColumn {
  /** The base type's name (pg_type.typname, e.g. int4). */
  readonly type: string;
  /** The column's declared type as SQL writes it (e.g. `numeric(10,2)`, a domain's name). */
  readonly shown: string;
  /** pg_type.typcategory: 'S' string, 'E' enum, 'N' numeric… */
  readonly category: string;
  readonly readable: boolean;
}

function expected(col: Column): string {
  if (col.type === 'integer') return 'smallint, integer or bigint';
  return 'text, varchar, char or an enum';
}

function fits(col: Column, found: TableColumn): boolean {
  if (col.type === 'integer') return WHOLE_NUMBER_TYPES.has(found.type);
  return found.category === 'S' || found.category === 'E';
}

/**
 * Checks `name` against `schema` on `client` and returns the table as quoted SQL, schema-qualified
 * with the schema it resolved to. NOT_FOUND for a missing table; DATA_INVALID naming every missing
 * or mistyped column; CONFIG_INVALID when the role may not read a column it needs.
 */
export async function checkPgTable(
  client: pg.ClientBase,
  dataset: string,
  name: PgTableName,
  schema: DatasetSchema,
): Promise<string> {
  const shown = quotePgTableName(name);
  const rel = await client.query<{ oid: number; nspname: string; relname: string }>(
    'SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)',
    [shown],
  );
  const table = rel.rows[0];
  if (table === undefined) {
    throw new FedstatError(
      'NOT_FOUND',
      `PostgreSQL table ${shown} (dataset ${dataset}) does not exist or is not on the search_path; name it as SCHEMA.TABLE`,
      { details: { dataset } },
    );
  }
  const cols = await client.query<{
    attname: string;
    typname: string;
    shown: string;
    typcategory: string;
    readable: boolean;
  }>(
    `SELECT a.attname, b.typname, format_type(a.atttypid, a.atttypmod) AS shown, b.typcategory,
            has_column_privilege(a.attrelid, a.attnum, 'SELECT') AS readable
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
    [table.oid],
  );
  const found = new Map<string, TableColumn>(
    cols.rows.map((r) => [
      r.attname,
      { type: r.typname, shown: r.shown, category: r.typcategory, readable: r.readable },
    ]),
  );
  const problems: string[] = [];
  const unreadable: string[] = [];
  for (const [column, col] of Object.entries(schema.columns)) {
    const have = found.get(column);
    if (have === undefined) {
      const hint = closest(column, [...found.keys()])[0];
      problems.push(`column ${column} is missing${hint === undefined ? '' : ` (did you mean ${hint}?)`}`);
    } else if (!fits(col, have)) {
      problems.push(`column ${column} is ${have.shown}, expected ${expected(col)} for its ${col.type} type`);
    } else if (col.type !== 'id' && !have.readable) {
      unreadable.push(column);
    }
  }
  const resolved = `${quoteIdent(table.nspname)}.${quoteIdent(table.relname)}`;
  if (problems.length > 0) {
    throw new FedstatError(
      'DATA_INVALID',
      `PostgreSQL table ${resolved} does not fit dataset ${dataset}: ${problems.join('; ')}; alter the table or serve a view that casts and renames its columns`,
      { details: { dataset, problems } },
    );
  }
  if (unreadable.length > 0) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `PostgreSQL table ${resolved} (dataset ${dataset}): the role may not read ${unreadable.join(', ')}; GRANT SELECT ON ${resolved} TO the agency's role (docs/postgres.md)`,
      { details: { dataset } },
    );
  }
  return resolved;
}
