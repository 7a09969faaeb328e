/**
 * The one place node-sql-parser is called. We use its Trino grammar: standard SQL quoting
 * (single-quoted strings, double-quoted identifiers) and, unlike the MySQL and PostgreSQL
 * grammars in v5, source locations on column references, string literals and select items.
 *
 * Measured hazard (node-sql-parser 5.4, every dialect): AND/OR precedence is wrong in about one
 * random boolean expression in six (`a AND b AND c OR d` parses as `a AND (b AND (c OR d))`).
 * So the parser's tree is used only for the comparisons; boolean-structure.ts rebuilds the
 * AND/OR/NOT structure from the source text.
 */
import nodeSqlParser from 'node-sql-parser/build/trino.js';
import { describeError, FedstatError } from '../errors.js';
import { QUERY_LIMITS } from './limits.js';
import { queryInvalid } from './query-error.js';
import { syntaxError } from './syntax-error.js';

const parser = new nodeSqlParser.Parser();

/**
 * Parses `sql` into node-sql-parser's statement list (untyped: callers check every node).
 * Throws QUERY_SYNTAX with the position when the text does not parse.
 */
export function parseSqlStatements(sql: string): unknown[] {
  if (sql.length > QUERY_LIMITS.maxSqlLength) {
    throw queryInvalid(
      `the query is ${sql.length} characters long`,
      null,
      `the limit is ${QUERY_LIMITS.maxSqlLength}; use fewer IN values or split the query`,
    );
  }
  let ast: unknown;
  try {
    // trimQuery: false keeps offsets relative to the text the user typed.
    ast = parser.astify(sql, { trimQuery: false, parseOptions: { includeLocations: true } });
  } catch (e) {
    if (e instanceof RangeError) {
      throw queryInvalid(
        'the query is nested too deeply to parse',
        null,
        `use at most ${QUERY_LIMITS.maxPredicateDepth} levels of parentheses and NOT`,
      );
    }
    if (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'SyntaxError' && 'location' in e) {
      throw syntaxError(sql, e, e);
    }
    throw new FedstatError(
      'QUERY_INVALID',
      `the SQL could not be read (${describeError(e).slice(0, 120)}); write SELECT ... FROM dataset [WHERE ...] [GROUP BY ...]`,
      { cause: e },
    );
  }
  const list: unknown[] = Array.isArray(ast) ? ast : [ast];
  // `SELECT ...;` yields an empty statement after the semicolon in some versions.
  return list.filter((s) => !(Array.isArray(s) && s.length === 0));
}
