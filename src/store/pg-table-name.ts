/**
 * A PostgreSQL table name as an operator writes it (`--dataset NAME=postgres:SCHEMA.TABLE`), read
 * the way PostgreSQL reads one: an unquoted part is folded to lower case, a double-quoted part is
 * kept as written (`""` for a quote inside). One or two parts; the schema, when absent, is found by
 * the server's search_path.
 */
import { FedstatError } from '../errors.js';
import { quoteIdent } from './sql-dialect.js';

/** A table as its parts, each the exact identifier PostgreSQL stores. */
export interface PgTableName {
  /** The schema, or null to resolve through search_path. */
  readonly schema: string | null;
  /** The table (or view) name. */
  readonly table: string;
}

const UNQUOTED = /^[A-Za-z_][A-Za-z0-9_$]*/;
/** PostgreSQL's NAMEDATALEN − 1: longer identifiers are truncated by the server. */
const MAX_IDENT_BYTES = 63;

function bad(text: string, problem: string): FedstatError {
  return new FedstatError(
    'CONFIG_INVALID',
    `PostgreSQL table ${JSON.stringify(text.slice(0, 80))}: ${problem}; write SCHEMA.TABLE, e.g. postgres:public.rental_filings (double-quote a part to keep its case)`,
  );
}

/** Parses `text` (e.g. `public.rentals`, `"Housing"."Rentals"`, `rentals`); CONFIG_INVALID when malformed. */
export function parsePgTableName(text: string): PgTableName {
  const parts: string[] = [];
  let rest = text;
  while (true) {
    let part: string;
    if (rest.startsWith('"')) {
      let end = 1;
      part = '';
      for (;;) {
        const q = rest.indexOf('"', end);
        if (q < 0) throw bad(text, 'an unterminated quoted name');
        part += rest.slice(end, q);
        if (rest[q + 1] === '"') {
          part += '"';
          end = q + 2;
          continue;
        }
        rest = rest.slice(q + 1);
        break;
      }
    } else {
      const m = UNQUOTED.exec(rest);
      if (m === null) throw bad(text, 'a name must start with a letter or _ (or be double-quoted)');
      part = m[0].toLowerCase();
      rest = rest.slice(m[0].length);
    }
    if (part.length === 0 || part.includes('\u0000')) throw bad(text, 'an empty name');
    if (Buffer.byteLength(part, 'utf8') > MAX_IDENT_BYTES)
      throw bad(text, `a name longer than ${MAX_IDENT_BYTES} bytes`);
    parts.push(part);
    if (rest.length === 0) break;
    if (!rest.startsWith('.')) throw bad(text, `unexpected ${JSON.stringify(rest.slice(0, 10))}`);
    rest = rest.slice(1);
  }
  if (parts.length > 2) throw bad(text, 'more than two parts (a database is chosen by the connection, not here)');
  const [a, b] = parts as [string, string | undefined];
  return b === undefined ? { schema: null, table: a } : { schema: a, table: b };
}

/** The table as quoted SQL (`"public"."rentals"`). */
export function quotePgTableName(name: PgTableName): string {
  return (name.schema === null ? '' : quoteIdent(name.schema) + '.') + quoteIdent(name.table);
}
