/**
 * SQL to QueryPlan. Accepts exactly
 * `SELECT [g1, g2,] COUNT(*), SUM(col), AVG(col) [AS alias] FROM dataset [WHERE ...] [GROUP BY g1[, g2]]`
 * and refuses everything else by name. The resulting plan is passed through validatePlan, so the
 * coordinator and the agencies check a plan by one and the same code.
 */
import { FedstatError } from '../errors.js';
import type { Schema } from '../federation/schema.js';
import { extraKeys, functionName, identifierOf, isEmpty, isNode, spanOf, typeOf } from './ast-node.js';
import type { AstNode } from './ast-node.js';
import { predicateSize, QUERY_LIMITS } from './limits.js';
import { queryableColumns, resolveDataset } from './names.js';
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
const SHAPE = 'fedstat accepts SELECT [g1, g2,] COUNT(*), SUM(col), AVG(col) FROM dataset [WHERE ...] [GROUP BY g1[, g2]]';

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
function refuseOperatorLookalikes(sql: string, tokens: readonly Token[]): void {
  const word: Readonly<Record<string, string>> = { '&&': 'AND', '||': 'OR', '!': 'NOT' };
  const t = tokens.find((x) => x.kind === 'punct' && Object.hasOwn(word, x.text));
  if (t !== undefined) {
    throw queryInvalid(`the operator ${t.text} is not supported`, positionAt(sql, t.start), `write ${word[t.text] ?? 'AND'}`);
  }
}

function checkStatement(sql: string, tokens: readonly Token[], statements: readonly unknown[]): AstNode {
  if (statements.length === 0) throw queryInvalid('the query is empty', null, SHAPE);
  if (statements.length > 1) {
    const semi = tokens.find((t) => t.text === ';');
    throw queryInvalid('the text holds more than one statement', semi === undefined ? null : positionAt(sql, semi.start), 'send one SELECT at a time');
  }
  const stmt = statements[0];
  if (!isNode(stmt) || typeOf(stmt) !== 'select') {
    const kind = typeOf(stmt);
    throw queryInvalid(`${kind === undefined ? 'this statement' : `${kind.toUpperCase()} statements`} cannot run in fedstat`, positionAt(sql, tokens[0]?.start ?? 0), SHAPE);
  }
  for (const key of extraKeys(stmt, STATEMENT_KEYS)) {
    const [what, kw] = REFUSED[key] ?? [key.toUpperCase(), key.toUpperCase()];
    throw queryInvalid(`${what} is not supported`, keywordPos(sql, tokens, kw), SHAPE);
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
    throw queryInvalid(`${join ?? 'reading several datasets'} is not supported`, join === null ? ctxPos(sql, second) : keywordPos(sql, tokens, 'JOIN'),
      'query one dataset at a time');
  }
  const f = items[0];
  const at = (): SourcePosition | null => keywordPos(sql, tokens, 'FROM');
  if (!isNode(f) || isNode(f['expr']) || typeof f['table'] !== 'string') {
    throw queryInvalid('FROM must name a dataset; subqueries and table functions are not supported', at(), SHAPE);
  }
  if (!isEmpty(f['db']) || !isEmpty(f['schema'])) {
    throw queryInvalid(`qualified dataset names are not supported`, at(), `write the dataset name alone; datasets: ${listNames(datasets)}`);
  }
  const extra = extraKeys(f, ['db', 'schema', 'table', 'as', 'loc']);
  if (extra.length > 0) throw queryInvalid(`FROM with ${extra.join(', ').toUpperCase()} is not supported`, at(), SHAPE);
  const tableTok = tokens.find((_t, i) => i > 0 && isKeyword(tokens[i - 1], 'FROM'));
  const { name, dataset } = resolveDataset(schema, f['table'], tableTok === undefined ? at() : positionAt(sql, tableTok.start));
  const alias = typeof f['as'] === 'string' ? f['as'] : null;
  const qualifiers = [f['table'].toLowerCase(), ...(alias === null ? [] : [alias.toLowerCase()])];
  return new QueryContext(sql, tokens, name, dataset, qualifiers);
}

/** Start offsets of the GROUP BY items (the grammar records none for quoted names). */
function groupByOffsets(tokens: readonly Token[]): number[] {
  const g = tokens.findIndex((t, i) => isKeyword(t, 'GROUP') && isKeyword(tokens[i + 1], 'BY'));
  if (g < 0) return [];
  const out: number[] = [];
  let depth = 0;
  let expectItem = true;
  for (const t of tokens.slice(g + 2)) {
    if (depth === 0 && (t.text === ';' || isKeyword(t, 'HAVING') || isKeyword(t, 'ORDER') || isKeyword(t, 'LIMIT'))) break;
    if (expectItem) out.push(t.start);
    expectItem = depth === 0 && t.text === ',';
    if (t.text === '(') depth++;
    if (t.text === ')') depth--;
  }
  return out;
}

function readGroupBy(ctx: QueryContext, stmt: AstNode): string[] {
  const g = stmt['groupby'];
  if (isEmpty(g)) return [];
  const at = (i: number, node: unknown): SourcePosition | null => ctx.pos(node, groupByOffsets(ctx.tokens)[i]);
  if (!isNode(g) || !Array.isArray(g['columns'])) throw queryInvalid('this GROUP BY form is not supported', at(0, g), 'write GROUP BY column[, column]');
  if (extraKeys(g, ['columns', 'loc']).length > 0) throw queryInvalid('GROUP BY modifiers are not supported', at(0, g), 'write GROUP BY column[, column]');
  const cols = g['columns'] as unknown[];
  if (cols.length > QUERY_LIMITS.maxGroupBy) {
    throw queryInvalid(`GROUP BY lists ${cols.length} columns`, at(QUERY_LIMITS.maxGroupBy, cols[QUERY_LIMITS.maxGroupBy]),
      `the limit is ${QUERY_LIMITS.maxGroupBy}; filter on the others in WHERE`);
  }
  const categories = queryableColumns(ctx.dataset).filter((n) => ctx.dataset.columns[n]?.type === 'category');
  const out: string[] = [];
  cols.forEach((node, i) => {
    const ident = identifierOf(node);
    if (ident === null) {
      const t = typeOf(node);
      const what = t === 'number' ? 'GROUP BY a position' : t === 'function' ? `GROUP BY ${functionName(node) ?? 'a function'}(...)` : 'GROUP BY an expression';
      throw queryInvalid(`${what} is not supported`, at(i, node), `name the category columns: GROUP BY ${categories.slice(0, 2).join(', ')}`);
    }
    const col = ctx.column(ident, at(i, node));
    if (col.column.type !== 'category') {
      throw queryInvalid(`GROUP BY ${col.name}: ${ctx.datasetName}.${col.name} is an integer column`, at(i, node),
        `group by category columns (${listNames(categories)}) and filter integer ranges in WHERE`);
    }
    if (out.includes(col.name)) throw queryInvalid(`${col.name} appears twice in GROUP BY`, at(i, node), 'list each column once');
    out.push(col.name);
  });
  return out;
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
  const statements = parseSqlStatements(sql);
  const tokens = tokenize(sql);
  refuseOperatorLookalikes(sql, tokens);
  const stmt = checkStatement(sql, tokens, statements);
  const ctx = readFrom(sql, tokens, schema, stmt);
  const groupBy = readGroupBy(ctx, stmt);
  const select = readSelect(ctx, stmt['columns'], groupBy, stmt);
  const where = readWhere(ctx, stmt['where']);
  if (where !== null) {
    const { depth, nodes } = predicateSize(where);
    if (depth > QUERY_LIMITS.maxPredicateDepth || nodes > QUERY_LIMITS.maxPredicateNodes) {
      throw queryInvalid(`WHERE is too large (${nodes} conditions and connectives, nested ${depth} deep)`, keywordPos(sql, tokens, 'WHERE'),
        `use at most ${QUERY_LIMITS.maxPredicateNodes}, nested at most ${QUERY_LIMITS.maxPredicateDepth} deep; IN (...) counts as one`);
    }
  }
  try {
    return validatePlan({ dataset: ctx.datasetName, groupBy, select, where }, schema);
  } catch (e) {
    // The parser checked everything above; a structural refusal here is our bug, not the user's.
    if (e instanceof FedstatError && e.code === 'BAD_MESSAGE') {
      throw new FedstatError('INTERNAL', `parseQuery built a plan that validatePlan refuses (${e.message}); please report this query`, { cause: e });
    }
    throw e;
  }
}
