/**
 * Reads the SELECT list: group columns (which must appear in GROUP BY) and the aggregates
 * COUNT(*) / COUNT(col), SUM(col) and AVG(col) on integer columns, with their output names.
 */
import { extraKeys, functionName, identifierOf, isNode, isStar, typeOf } from './ast-node.js';
import type { AstNode } from './ast-node.js';
import { checkAlias, checkUniqueAliases, defaultAlias } from './aliases.js';
import { QUERY_LIMITS } from './limits.js';
import { listNames } from './suggest.js';
import type { AggregateFn, SelectItem, Totals } from './plan.js';
import { queryInvalid } from './query-error.js';
import type { QueryContext } from './query-context.js';
import type { SourcePosition } from './query-error.js';
import { queryableColumns } from './names.js';

const AGGREGATES: Readonly<Record<string, AggregateFn>> = { COUNT: 'count', SUM: 'sum', AVG: 'avg' };
const SELECT_FIX = 'select group columns and COUNT(*), SUM(col) or AVG(col)';

function integerColumns(ctx: QueryContext): string[] {
  return queryableColumns(ctx.dataset).filter((n) => ctx.dataset.columns[n]?.type === 'integer');
}

function readAggregate(
  ctx: QueryContext,
  expr: AstNode,
  at: SourcePosition | null,
): { fn: AggregateFn; column: string | null } {
  const name = functionName(expr) ?? '?';
  const fn = AGGREGATES[name];
  if (fn === undefined) {
    throw queryInvalid(`the aggregate ${name}() is not supported`, at, `use COUNT(*), SUM(col) or AVG(col)`);
  }
  if (!isNode(expr['args'])) throw queryInvalid(`${name}() needs an argument`, at, `write ${name}(column)`);
  const args = expr['args'];
  if (typeof args['distinct'] === 'string') {
    throw queryInvalid(
      `${name}(DISTINCT ...) is not supported`,
      at,
      `write ${name === 'COUNT' ? 'COUNT(*)' : `${name}(column)`}`,
    );
  }
  const extra = [...extraKeys(expr, ['type', 'name', 'args', 'loc']), ...extraKeys(args, ['expr', 'loc'])];
  if (extra.length > 0) {
    const what = extra.includes('over')
      ? 'window functions (OVER) are'
      : extra.includes('filter')
        ? 'FILTER (WHERE ...) is'
        : `${name}() with ${extra.join(', ').toUpperCase()} is`;
    throw queryInvalid(
      `${what} not supported`,
      at,
      extra.includes('filter') ? 'move the condition to WHERE' : SELECT_FIX,
    );
  }
  const arg = args['expr'];
  if (isStar(arg)) {
    if (fn !== 'count')
      throw queryInvalid(
        `${name}(*) is not valid`,
        at,
        `${name} needs an integer column: ${listNames(integerColumns(ctx))}`,
      );
    return { fn, column: null };
  }
  const ident = identifierOf(arg);
  if (ident === null) {
    throw queryInvalid(
      `${name}() of an expression is not supported`,
      ctx.pos(arg, at?.offset),
      `${name} takes ${fn === 'count' ? '* or ' : ''}a column; arithmetic is not supported`,
    );
  }
  const col = ctx.column(ident, ctx.pos(arg, at?.offset));
  // Columns are never NULL, so COUNT(col) counts rows: the same measure as COUNT(*).
  if (fn === 'count') return { fn, column: null };
  if (col.column.type !== 'integer') {
    throw queryInvalid(
      `${name}(${col.name}): ${ctx.datasetName}.${col.name} is a category column`,
      ctx.pos(arg, at?.offset),
      `${name} needs an integer column: ${listNames(integerColumns(ctx))}; to count per category use GROUP BY ${col.name}`,
    );
  }
  return { fn, column: col.name };
}

function describeSelectExpr(expr: unknown): string {
  const t = typeOf(expr);
  if (t === 'function') return `the function ${functionName(expr) ?? '?'}() is`;
  if (t === 'binary_expr') return 'arithmetic and comparisons are';
  if (t === 'case') return 'CASE expressions are';
  if (t === 'cast') return 'CAST is';
  if (isNode(expr) && isNode(expr['ast'])) return 'subqueries are';
  return 'constants and expressions are';
}

/** The SELECT list as plan items, with output names checked for safety and uniqueness. */
export function readSelect(
  ctx: QueryContext,
  columns: unknown,
  groupBy: readonly string[],
  stmt: AstNode,
  totals: Totals | null = null,
): SelectItem[] {
  if (!Array.isArray(columns) || columns.length === 0) {
    throw queryInvalid('SELECT * is not supported', ctx.pos(stmt), SELECT_FIX);
  }
  const items = columns as unknown[];
  if (items.length > QUERY_LIMITS.maxSelectItems) {
    throw queryInvalid(
      `SELECT lists ${items.length} items`,
      ctx.pos(items[QUERY_LIMITS.maxSelectItems]),
      `the limit is ${QUERY_LIMITS.maxSelectItems}`,
    );
  }
  const out: SelectItem[] = items.map((raw): SelectItem => {
    const item = isNode(raw) ? raw : {};
    const expr = item['expr'];
    const at = ctx.pos(item, expr);
    if (isStar(expr)) throw queryInvalid('SELECT * is not supported', at, SELECT_FIX);
    const as = item['as'];
    if (as !== null && as !== undefined && typeof as !== 'string')
      throw queryInvalid('this kind of alias is not supported', at, 'write AS name');
    const alias = typeof as === 'string' ? as.normalize('NFC') : null;
    if (alias !== null) checkAlias(alias, at);
    const ident = identifierOf(expr);
    if (ident !== null) {
      const col = ctx.column(ident, at);
      if (!groupBy.includes(col.name)) {
        const grouped = [...groupBy, col.name].join(', ');
        const fix =
          col.column.type === 'category'
            ? `add GROUP BY ${totals === null ? grouped : `${totals.toUpperCase()}(${grouped})`}, or aggregate it`
            : `aggregate it with SUM(${col.name}) or AVG(${col.name}); integer columns cannot be grouped`;
        throw queryInvalid(`${col.name} must appear in GROUP BY to be selected`, at, fix);
      }
      return { kind: 'group', column: col.name, alias: alias ?? col.name };
    }
    if (
      typeOf(expr) === 'aggr_func' ||
      (typeOf(expr) === 'function' &&
        functionName(expr) !== null &&
        Object.hasOwn(AGGREGATES, functionName(expr) ?? ''))
    ) {
      const agg = readAggregate(ctx, expr as AstNode, at);
      const base = { kind: 'aggregate', fn: agg.fn, column: agg.column } as const;
      return { ...base, alias: alias ?? defaultAlias(base) };
    }
    throw queryInvalid(`${describeSelectExpr(expr)} not supported in SELECT`, at, SELECT_FIX);
  });
  if (!out.some((i) => i.kind === 'aggregate')) {
    throw queryInvalid('the query has no aggregate', ctx.pos(items[0]), 'add COUNT(*), SUM(col) or AVG(col) to SELECT');
  }
  checkUniqueAliases(
    out.map((i) => i.alias),
    (i) => ctx.pos(items[i]),
  );
  return out;
}
