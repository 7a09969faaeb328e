/**
 * SQL to QueryPlan. Accepts exactly
 * `SELECT [g1, g2,] COUNT(*), SUM(col), AVG(col) [AS alias] FROM dataset [WHERE ...] [GROUP BY g1[, g2]]`,
 * where the GROUP BY may also be `ROLLUP(g1[, g2])` or `CUBE(g1[, g2])` (the plan's `totals`),
 * and refuses everything else by name. The resulting plan is passed through validatePlan, so the
 * coordinator and the agencies check a plan by one and the same code.
 */
import { FedstatError } from '../errors.js';
import type { Schema } from '../federation/schema.js';
import { extraKeys, isEmpty, isNode, spanOf, typeOf } from './ast-node.js';
import type { AstNode } from './ast-node.js';
import { predicateSize, QUERY_LIMITS } from './limits.js';
import { resolveDataset } from './names.js';
import { readGroupBy, refuseOtherTotalsSyntax } from './parse-group-by.js';
import { readWhere } from './parse-predicate.js';
import { readSelect } from './parse-select.js';
import type { QueryPlan } from './plan.js';
import { QueryContext } from './query-context.js';
import { positionAt, queryInvalid } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import { parseSqlStatements } from './sql-parser.js';
import { isKeyword, tokenize } from './sql-lexer.js';
import type { Token } from './sql-lexer.js';
import { listNames } from './suggest.js';
import { validatePlan } from './validate-plan.js';

const STATEMENT_KEYS = ['type', 'columns', 'from', 'where', 'groupby', 'loc'];

/** Clauses we refuse: AST key → what the user wrote (and the keyword to point at). */
const REFUSED: Readonly<Record<string, readonly [string, string]>> = {
  with: ['WITH (common table expressions)', 'WITH'],
  distinct: ['DISTINCT', 'DISTINCT'],
  into: ['SELECT ... INTO', 'INTO'],
  having: ['HAVING', 'HAVING'],
  orderby: ['ORDER BY', 'ORDER'],
  limit: ['LIMIT/OFFSET', 'LIMIT'],
  window: ['WINDOW', 'WINDOW'],
  _next: ['UNION/INTERSECT/EXCEPT', 'UNION'],
  set_op: ['UNION/INTERSECT/EXCEPT', 'UNION'],
};
const SHAPE =
  'fedstat accepts SELECT [g1, g2,] COUNT(*), SUM(col), AVG(col) FROM dataset [WHERE ...] [GROUP BY g1[, g2]]';

function keywordPos(sql: string, tokens: readonly Token[], kw: string): SourcePosition | null {
  const t = tokens.find((x) => isKeyword(x, kw));
  return t === undefined ? null : positionAt(sql, t.start);
}

function ctxPos(sql: string, node: unknown): SourcePosition | null {
  const span = spanOf(node);
  return span === null ? null : positionAt(sql, span.start);
}

/**
 * `&&`, `||` and `!` parse, but as other operators than the user meant (`a = 1 && b = 2` becomes
 * `a = (1 && b) = 2`): name them before the confusing error that would follow.
 */
export function refuseOperatorLookalikes(sql: string, tokens: readonly Token[]): void {
  const word: Readonly<Record<string, string>> = { '&&': 'AND', '||': 'OR', '!': 'NOT' };
  const t = tokens.find((x) => x.kind === 'punct' && Object.hasOwn(word, x.text));
  if (t !== undefined) {
    throw queryInvalid(
      `the operator ${t.text} is not supported`,
      positionAt(sql, t.start),
      `write ${word[t.text] ?? 'AND'}`,
    );
  }
}

/**
 * The one SELECT statement of `statements`, refusing other statements and the clauses fedstat
 * does not compute (`shape` is the accepted form, for the fix).
 */
export function checkStatement(
  sql: string,
  tokens: readonly Token[],
  statements: readonly unknown[],
  shape = SHAPE,
): AstNode {
  if (statements.length === 0) throw queryInvalid('the query is empty', null, shape);
  if (statements.length > 1) {
    const semi = tokens.find((t) => t.text === ';');
    throw queryInvalid(
      'the text holds more than one statement',
      semi === undefined ? null : positionAt(sql, semi.start),
      'send one SELECT at a time',
    );
  }
  const stmt = statements[0];
  if (!isNode(stmt) || typeOf(stmt) !== 'select') {
    const kind = typeOf(stmt);
    throw queryInvalid(
      `${kind === undefined ? 'this statement' : `${kind.toUpperCase()} statements`} cannot run in fedstat`,
      positionAt(sql, tokens[0]?.start ?? 0),
      shape,
    );
  }
  for (const key of extraKeys(stmt, STATEMENT_KEYS)) {
    const [what, kw] = REFUSED[key] ?? [key.toUpperCase(), key.toUpperCase()];
    throw queryInvalid(`${what} is not supported`, keywordPos(sql, tokens, kw), shape);
  }
  return stmt;
}

function readFrom(sql: string, tokens: readonly Token[], schema: Schema, stmt: AstNode): QueryContext {
  const from = stmt['from'];
  const datasets = Object.keys(schema.datasets);
  if (!Array.isArray(from) || from.length === 0) {
    throw queryInvalid('the query has no FROM clause', null, `add FROM dataset; datasets: ${listNames(datasets)}`);
  }
  const items = from as unknown[];
  const second = items[1];
  if (second !== undefined) {
    const join = isNode(second) && typeof second['join'] === 'string' ? second['join'] : null;
    throw queryInvalid(
      `${join ?? 'reading several datasets'} is not supported`,
      join === null ? ctxPos(sql, second) : keywordPos(sql, tokens, 'JOIN'),
      'query one dataset at a time, or link two datasets on their id columns: JOIN … ON x.id = y.id',
    );
  }
  const f = items[0];
  const at = (): SourcePosition | null => keywordPos(sql, tokens, 'FROM');
  if (!isNode(f) || isNode(f['expr']) || typeof f['table'] !== 'string') {
    throw queryInvalid('FROM must name a dataset; subqueries and table functions are not supported', at(), SHAPE);
  }
  if (!isEmpty(f['db']) || !isEmpty(f['schema'])) {
    throw queryInvalid(
      `qualified dataset names are not supported`,
      at(),
      `write the dataset name alone; datasets: ${listNames(datasets)}`,
    );
  }
  const extra = extraKeys(f, ['db', 'schema', 'table', 'as', 'loc']);
  if (extra.length > 0) throw queryInvalid(`FROM with ${extra.join(', ').toUpperCase()} is not supported`, at(), SHAPE);
  const tableTok = tokens.find((_t, i) => i > 0 && isKeyword(tokens[i - 1], 'FROM'));
  const { name, dataset } = resolveDataset(
    schema,
    f['table'],
    tableTok === undefined ? at() : positionAt(sql, tableTok.start),
  );
  const alias = typeof f['as'] === 'string' ? f['as'] : null;
  const qualifiers = [f['table'].toLowerCase(), ...(alias === null ? [] : [alias.toLowerCase()])];
  return new QueryContext(sql, tokens, name, dataset, qualifiers);
}

/**
 * Parses fedstat SQL into a validated, frozen QueryPlan.
 *
 * Throws FedstatError `QUERY_SYNTAX` (text does not parse; details `{line, column, offset}`),
 * `QUERY_INVALID` (valid SQL outside the subset, unknown column, literal outside its domain,
 * with the position where known) or `NOT_FOUND` (unknown dataset, listing the valid ones).
 */
export function parseQuery(sql: string, schema: Schema): QueryPlan {
  if (typeof sql !== 'string') throw new TypeError('parseQuery: sql must be a string');
  let statements: unknown[];
  try {
    statements = parseSqlStatements(sql);
  } catch (e) {
    if (e instanceof FedstatError && e.code === 'QUERY_SYNTAX') refuseOtherTotalsSyntax(sql, tokenize(sql));
    throw e;
  }
  const tokens = tokenize(sql);
  refuseOperatorLookalikes(sql, tokens);
  const stmt = checkStatement(sql, tokens, statements);
  const ctx = readFrom(sql, tokens, schema, stmt);
  const { groupBy, totals } = readGroupBy(ctx, stmt);
  const select = readSelect(ctx, stmt['columns'], groupBy, stmt, totals);
  const where = readWhere(ctx, stmt['where']);
  if (where !== null) {
    const { depth, nodes } = predicateSize(where);
    if (depth > QUERY_LIMITS.maxPredicateDepth || nodes > QUERY_LIMITS.maxPredicateNodes) {
      throw queryInvalid(
        `WHERE is too large (${nodes} conditions and connectives, nested ${depth} deep)`,
        keywordPos(sql, tokens, 'WHERE'),
        `use at most ${QUERY_LIMITS.maxPredicateNodes}, nested at most ${QUERY_LIMITS.maxPredicateDepth} deep; IN (...) counts as one`,
      );
    }
  }
  try {
    return validatePlan(
      { dataset: ctx.datasetName, groupBy, select, where, ...(totals === null ? {} : { totals }) },
      schema,
    );
  } catch (e) {
    // The parser checked everything above; a structural refusal here is our bug, not the user's.
    if (e instanceof FedstatError && e.code === 'BAD_MESSAGE') {
      throw new FedstatError(
        'INTERNAL',
        `parseQuery built a plan that validatePlan refuses (${e.message}); please report this query`,
        { cause: e },
      );
    }
    throw e;
  }
}
