/**
 * SELECT and GROUP BY of a linked-record query: GROUP BY names at most two category columns of
 * either side (of the FROM dataset only, in an anti-join), SELECT repeats GROUP BY columns and
 * computes COUNT(*) (linked pairs, or unmatched records), SUM(x.col) and AVG(x.col) of integer
 * columns. Output names follow the single-dataset rules (aliases.ts).
 */
import { extraKeys, functionName, identifierOf, isEmpty, isNode, isStar, spanOf, typeOf } from './ast-node.js';
import type { AstNode } from './ast-node.js';
import { checkAlias, checkUniqueAliases, defaultAlias } from './aliases.js';
import type { JoinColumn, JoinSelectItem } from './join-plan.js';
import type { JoinScope, SideColumn } from './join-scope.js';
import { QUERY_LIMITS } from './limits.js';
import type { AggregateFn } from './plan.js';
import { positionAt, queryInvalid } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import { isKeyword } from './sql-lexer.js';

const AGGREGATES: Readonly<Record<string, AggregateFn>> = { COUNT: 'count', SUM: 'sum', AVG: 'avg' };
const SELECT_FIX = 'select GROUP BY columns and COUNT(*), SUM(x.col) or AVG(x.col)';

function pos(scope: JoinScope, node: unknown, fallback: number | undefined): SourcePosition | null {
  const start = spanOf(node)?.start ?? fallback;
  return start === undefined ? null : positionAt(scope.sql, start);
}

/** The GROUP BY columns, each resolved to its side. */
export function readJoinGroupBy(scope: JoinScope, stmt: AstNode): JoinColumn[] {
  const g = stmt['groupby'];
  if (isEmpty(g)) return [];
  const kw = scope.tokens.find((t, i) => isKeyword(t, 'GROUP') && isKeyword(scope.tokens[i + 1], 'BY'))?.start;
  const cols = isNode(g) && Array.isArray(g['columns']) ? (g['columns'] as unknown[]) : null;
  if (cols === null || extraKeys(g as AstNode, ['columns', 'loc']).length > 0)
    throw queryInvalid('this GROUP BY form is not supported', pos(scope, g, kw), 'write GROUP BY x.col[, y.col]');
  if (cols.length > QUERY_LIMITS.maxGroupBy) {
    throw queryInvalid(
      `GROUP BY lists ${cols.length} columns`,
      pos(scope, cols[QUERY_LIMITS.maxGroupBy], kw),
      `the limit is ${QUERY_LIMITS.maxGroupBy} for both datasets together; filter on the others in WHERE`,
    );
  }
  const out: JoinColumn[] = [];
  for (const node of cols) {
    const at = pos(scope, node, kw);
    const fn = functionName(node);
    if (fn === 'ROLLUP' || fn === 'CUBE')
      throw queryInvalid(
        `GROUP BY ${fn}(…) is not yet supported for joins`,
        at,
        'write GROUP BY x.col[, y.col] without totals',
      );
    const ident = identifierOf(node);
    if (ident === null) throw queryInvalid('GROUP BY takes category columns only', at, 'write GROUP BY x.col[, y.col]');
    const { side, col } = scope.resolve(ident, at);
    if (col.column.type !== 'category') {
      throw queryInvalid(
        `GROUP BY ${scope.qualified(side, col.name)}: ${side.dataset}.${col.name} is an integer column`,
        at,
        'group by category columns and filter integer ranges in WHERE',
      );
    }
    if (out.some((c) => c.side === side.name && c.column === col.name))
      throw queryInvalid(`${scope.qualified(side, col.name)} appears twice in GROUP BY`, at, 'list each column once');
    out.push({ side: side.name, column: col.name });
  }
  return out;
}

function readAggregate(
  scope: JoinScope,
  expr: AstNode,
  at: SourcePosition | null,
): Omit<Extract<JoinSelectItem, { kind: 'aggregate' }>, 'alias' | 'kind'> {
  const name = functionName(expr) ?? '?';
  const fn = AGGREGATES[name];
  if (fn === undefined)
    throw queryInvalid(`the aggregate ${name}() is not supported`, at, 'use COUNT(*), SUM(x.col) or AVG(x.col)');
  const args = expr['args'];
  if (!isNode(args)) throw queryInvalid(`${name}() needs an argument`, at, `write ${name}(x.col)`);
  if (typeof args['distinct'] === 'string')
    throw queryInvalid(
      `${name}(DISTINCT ...) is not supported`,
      at,
      `write ${name === 'COUNT' ? 'COUNT(*)' : `${name}(x.col)`}`,
    );
  const extra = [...extraKeys(expr, ['type', 'name', 'args', 'loc']), ...extraKeys(args, ['expr', 'loc'])];
  if (extra.length > 0)
    throw queryInvalid(`${name}() with ${extra.join(', ').toUpperCase()} is not supported`, at, SELECT_FIX);
  const arg = args['expr'];
  if (isStar(arg)) {
    if (fn !== 'count')
      throw queryInvalid(`${name}(*) is not valid`, at, `${name} needs an integer column: ${name}(x.col)`);
    return { fn, side: null, column: null };
  }
  const ident = identifierOf(arg);
  if (ident === null)
    throw queryInvalid(
      `${name}() of an expression is not supported`,
      pos(scope, arg, at?.offset),
      `${name} takes ${fn === 'count' ? '* or ' : ''}a column`,
    );
  const { side, col }: SideColumn = scope.resolve(ident, pos(scope, arg, at?.offset));
  // Columns are never NULL, so COUNT(x.col) counts the same rows as COUNT(*).
  if (fn === 'count') return { fn, side: null, column: null };
  if (col.column.type !== 'integer') {
    throw queryInvalid(
      `${name}(${scope.qualified(side, col.name)}): ${side.dataset}.${col.name} is a category column`,
      pos(scope, arg, at?.offset),
      `${name} needs an integer column; to count per category use GROUP BY ${scope.qualified(side, col.name)}`,
    );
  }
  return { fn, side: side.name, column: col.name };
}

/** The SELECT list as join plan items, output names checked for safety and uniqueness. */
export function readJoinSelect(scope: JoinScope, stmt: AstNode, groupBy: readonly JoinColumn[]): JoinSelectItem[] {
  const columns = stmt['columns'];
  if (!Array.isArray(columns) || columns.length === 0)
    throw queryInvalid('SELECT * is not supported', pos(scope, stmt, 0), SELECT_FIX);
  const items = columns as unknown[];
  if (items.length > QUERY_LIMITS.maxSelectItems)
    throw queryInvalid(
      `SELECT lists ${items.length} items`,
      pos(scope, items[QUERY_LIMITS.maxSelectItems], 0),
      `the limit is ${QUERY_LIMITS.maxSelectItems}`,
    );
  const out = items.map((raw): JoinSelectItem => {
    const item = isNode(raw) ? raw : {};
    const expr = item['expr'];
    const at = pos(scope, item, spanOf(expr)?.start);
    if (isStar(expr)) throw queryInvalid('SELECT * is not supported', at, SELECT_FIX);
    const as = item['as'];
    if (as !== null && as !== undefined && typeof as !== 'string')
      throw queryInvalid('this kind of alias is not supported', at, 'write AS name');
    const alias = typeof as === 'string' ? as.normalize('NFC') : null;
    if (alias !== null) checkAlias(alias, at);
    const ident = identifierOf(expr);
    if (ident !== null) {
      const { side, col } = scope.resolve(ident, at);
      if (!groupBy.some((g) => g.side === side.name && g.column === col.name)) {
        const q = scope.qualified(side, col.name);
        const fix =
          col.column.type === 'category'
            ? `add GROUP BY ${[...groupBy.map((g) => scope.qualified(scope.side(g.side), g.column)), q].join(', ')}, or aggregate it`
            : `aggregate it with SUM(${q}) or AVG(${q}); integer columns cannot be grouped`;
        throw queryInvalid(`${q} must appear in GROUP BY to be selected`, at, fix);
      }
      return { kind: 'group', side: side.name, column: col.name, alias: alias ?? col.name };
    }
    const t = typeOf(expr);
    if (t === 'aggr_func' || (t === 'function' && Object.hasOwn(AGGREGATES, functionName(expr) ?? ''))) {
      const agg = readAggregate(scope, expr as AstNode, at);
      return {
        kind: 'aggregate',
        ...agg,
        alias: alias ?? defaultAlias({ kind: 'aggregate', fn: agg.fn, column: agg.column }),
      };
    }
    throw queryInvalid('only columns and aggregates are supported in SELECT', at, SELECT_FIX);
  });
  if (!out.some((i) => i.kind === 'aggregate'))
    throw queryInvalid(
      'the query has no aggregate',
      pos(scope, items[0], 0),
      'add COUNT(*), SUM(x.col) or AVG(x.col) to SELECT',
    );
  checkUniqueAliases(
    out.map((i) => i.alias),
    (i) => pos(scope, items[i], 0),
  );
  return out;
}
