/**
 * Reads a WHERE clause: every comparison node of the parser's tree becomes a checked predicate
 * (column resolved, operator allowed for the column's type, literal inside the domain), and
 * boolean-structure.ts then rebuilds AND/OR/NOT around them from the source text.
 */
import { functionName, identifierOf, isNode, spanOf, typeOf } from './ast-node.js';
import type { AstNode } from './ast-node.js';
import { rebuildWhere } from './boolean-structure.js';
import type { LocatedAtom } from './boolean-structure.js';
import { QUERY_LIMITS } from './limits.js';
import { checkLiteral } from './literals.js';
import type { ResolvedColumn } from './names.js';
import type { ComparisonOp, Literal, Predicate } from './plan.js';
import { queryInvalid } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import type { QueryContext } from './query-context.js';
import { isKeyword } from './sql-lexer.js';

/** A literal as written: a string, a whole number (exact), or something that is not an integer. */
type RawLiteral =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'fraction'; readonly text: string };

const COMPARE: Readonly<Record<string, ComparisonOp>> = {
  '=': '=',
  '<>': '<>',
  '!=': '<>',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};
const FLIP: Readonly<Record<ComparisonOp, ComparisonOp>> = {
  '=': '=',
  '<>': '<>',
  '<': '>',
  '<=': '>=',
  '>': '<',
  '>=': '<=',
};
const ORDERING = new Set<string>(['<', '<=', '>', '>=', 'BETWEEN', 'NOT BETWEEN']);

// An odd run of backslashes before a quote: node-sql-parser reads `\'` as an escaped quote,
// standard SQL as a backslash ending the string. Refuse rather than guess.
const AMBIGUOUS_ESCAPE = /(^|[^\\])(\\\\)*\\'/;

/**
 * A single-quoted string read from the source text with standard SQL rules ('' is a quote, a
 * backslash is itself). node-sql-parser's own value cannot be used: it turns \n, \t, \b, \f,
 * \r and \uXXXX into characters but leaves other backslash pairs as typed.
 */
function readString(ctx: QueryContext, node: AstNode, fallback: unknown): string {
  const span = spanOf(node);
  const at = ctx.pos(node, fallback);
  const sql = ctx.sql;
  let end = -1;
  if (span !== null && sql.charAt(span.start) === "'") {
    for (let i = span.start + 1; i < sql.length; i++) {
      if (sql.charAt(i) !== "'") continue;
      if (sql.charAt(i + 1) === "'") i++;
      else {
        end = i;
        break;
      }
    }
  }
  const source = span === null || end < 0 ? null : sql.slice(span.start, end + 1);
  if (source === null || AMBIGUOUS_ESCAPE.test(source) || sql.slice(end + 1, span?.end ?? 0).trim() !== '') {
    throw queryInvalid(
      'a backslash before a quote in a string is ambiguous',
      at,
      "write a quote inside a string as two quotes: 'it''s'",
    );
  }
  return source.slice(1, -1).replaceAll("''", "'").normalize('NFC');
}

function numberLiteral(text: string): RawLiteral {
  return /^[+-]?\d+$/.test(text) ? { kind: 'int', value: BigInt(text) } : { kind: 'fraction', text };
}

/** The literal a node holds, or null when it is not a literal. Throws for literal kinds we refuse. */
function readLiteral(ctx: QueryContext, node: unknown, fallback: unknown, depth = 0): RawLiteral | null {
  const t = typeOf(node);
  if (!isNode(node) || depth > 8) return null;
  const v = node['value'];
  if (t === 'single_quote_string') return { kind: 'string', value: readString(ctx, node, fallback) };
  if (t === 'number' || t === 'bigint') {
    if (typeof v === 'number')
      return Number.isInteger(v) ? { kind: 'int', value: BigInt(v) } : { kind: 'fraction', text: String(v) };
    if (typeof v === 'string') return numberLiteral(v);
    return null;
  }
  if (t === 'unary_expr' && (node['operator'] === '-' || node['operator'] === '+')) {
    const inner = readLiteral(ctx, node['expr'], fallback, depth + 1);
    if (inner === null || inner.kind === 'string') return null;
    if (node['operator'] === '+') return inner;
    return inner.kind === 'int' ? { kind: 'int', value: -inner.value } : { kind: 'fraction', text: `-${inner.text}` };
  }
  if (t === 'bool' || t === 'null' || t === 'param' || t === 'origin' || t === 'var') {
    const what = t === 'bool' ? 'TRUE and FALSE are' : t === 'null' ? 'NULL is' : 'query parameters are';
    throw queryInvalid(
      `${what} not supported in fedstat queries`,
      ctx.pos(node, fallback),
      t === 'null' ? 'fedstat columns never hold NULL' : 'write the value itself',
    );
  }
  return null;
}

/** Converts a raw literal for `col`, with the domain checks of checkLiteral. */
function literalFor(ctx: QueryContext, col: ResolvedColumn, lit: RawLiteral, at: SourcePosition | null): Literal {
  const c = col.column;
  if (lit.kind === 'string') return checkLiteral(ctx.datasetName, col.name, c, lit.value, at);
  // A number against a category column: checkLiteral reports the type mismatch.
  if (c.type === 'category')
    return checkLiteral(ctx.datasetName, col.name, c, lit.kind === 'int' ? lit.value : Number(lit.text), at);
  if (lit.kind === 'fraction') {
    throw queryInvalid(
      `${lit.text} is not a whole number written in digits`,
      at,
      `compare ${ctx.datasetName}.${col.name} with a whole number between ${c.min} and ${c.max}`,
    );
  }
  if (lit.value < BigInt(Number.MIN_SAFE_INTEGER) || lit.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw queryInvalid(
      `${lit.value} is outside the range of ${ctx.datasetName}.${col.name} (${c.min}..${c.max})`,
      at,
      `use a value between ${c.min} and ${c.max}`,
      { columnName: col.name, min: c.min, max: c.max },
    );
  }
  return checkLiteral(ctx.datasetName, col.name, c, Number(lit.value), at);
}

function describeExpr(node: unknown): string {
  const t = typeOf(node);
  const fn = functionName(node);
  if (fn !== null && (t === 'function' || t === 'aggr_func')) return `the function ${fn}()`;
  if (t === 'binary_expr' && isNode(node)) return `the expression with ${String(node['operator'])}`;
  if (t === 'case') return 'a CASE expression';
  if (t === 'cast') return 'a CAST';
  if (isNode(node) && isNode(node['ast'])) return 'a subquery';
  if (t === 'expr_list') return 'a list';
  return t === undefined ? 'this expression' : `a ${t.replaceAll('_', ' ')}`;
}

/** The checked column of a comparison, refusing anything that is not a plain column. */
function columnOf(ctx: QueryContext, node: unknown, atom: AstNode): ResolvedColumn {
  const ident = identifierOf(node);
  if (ident === null) {
    throw queryInvalid(
      `${describeExpr(node)} cannot be compared here`,
      ctx.pos(node, atom),
      'compare a column with a literal: age >= 18, district IN (...), income BETWEEN 0 AND 5000',
    );
  }
  return ctx.column(ident, ctx.pos(node, atom));
}

function checkOperator(ctx: QueryContext, col: ResolvedColumn, op: string, atom: AstNode): void {
  if (col.column.type === 'category' && ORDERING.has(op)) {
    throw queryInvalid(
      `${ctx.datasetName}.${col.name} is a category column, which has no order, so ${op} cannot apply`,
      ctx.pos(atom),
      'use =, <>, IN or NOT IN with its values',
    );
  }
}

function listLiterals(ctx: QueryContext, col: ResolvedColumn, list: unknown, atom: AstNode, what: string): Literal[] {
  const items =
    typeOf(list) === 'expr_list' && isNode(list) && Array.isArray(list['value']) ? (list['value'] as unknown[]) : null;
  if (items === null || items.some((x) => isNode(x) && isNode(x['ast']))) {
    throw queryInvalid(
      `${what} needs a list of literals; subqueries are not supported`,
      ctx.pos(atom),
      'list the values: IN (1, 2, 3)',
    );
  }
  return items.map((item) => {
    const lit = readLiteral(ctx, item, atom);
    if (lit === null)
      throw queryInvalid(`${describeExpr(item)} is not a literal`, ctx.pos(item, atom), `${what} takes literals only`);
    return literalFor(ctx, col, lit, ctx.pos(item, atom));
  });
}

/** One comparison: `col op lit`, `lit op col`, `col [NOT] IN (...)`, `col [NOT] BETWEEN a AND b`. */
function readAtom(ctx: QueryContext, node: unknown, parent: unknown): Predicate {
  const t = typeOf(node);
  if (!isNode(node))
    throw queryInvalid('WHERE holds something that is not a condition', ctx.pos(parent), 'write a comparison');
  const op = t === 'binary_expr' && typeof node['operator'] === 'string' ? node['operator'].toUpperCase() : null;
  const fix = 'conditions are comparisons (=, <>, <, <=, >, >=), IN, BETWEEN, combined with AND, OR, NOT';
  if (op === null) {
    const what =
      identifierOf(node) !== null
        ? 'a bare column'
        : readLiteral(ctx, node, parent) !== null
          ? 'a constant'
          : describeExpr(node);
    throw queryInvalid(`${what} is not a condition`, ctx.pos(node, parent), fix);
  }
  const cmp = COMPARE[op];
  if (cmp !== undefined) {
    const l = node['left'];
    const r = node['right'];
    const lIdent = identifierOf(l);
    const rIdent = identifierOf(r);
    if (lIdent !== null && rIdent !== null) {
      const hint =
        typeOf(r) === 'double_quote_string'
          ? `; "${rIdent.name}" is a column name in double quotes: write values in single quotes, '${rIdent.name}'`
          : '';
      throw queryInvalid(
        'comparing two columns is not supported',
        ctx.pos(node),
        `compare a column with a literal${hint}`,
      );
    }
    const flipped = lIdent === null && rIdent !== null;
    const colNode = flipped ? r : l;
    const litNode = flipped ? l : r;
    const col = columnOf(ctx, colNode, node);
    const o = flipped ? FLIP[cmp] : cmp;
    checkOperator(ctx, col, o, node);
    const lit = readLiteral(ctx, litNode, node);
    if (lit === null) {
      throw queryInvalid(
        `${describeExpr(litNode)} is not supported in a comparison`,
        ctx.pos(litNode, node),
        'compare the column with a literal value',
      );
    }
    return { kind: 'compare', column: col.name, op: o, value: literalFor(ctx, col, lit, ctx.pos(litNode, node)) };
  }
  if (op === 'IN' || op === 'NOT IN') {
    const col = columnOf(ctx, node['left'], node);
    const values = listLiterals(ctx, col, node['right'], node, op);
    if (values.length > QUERY_LIMITS.maxInValues) {
      throw queryInvalid(
        `${op} lists ${values.length} values`,
        ctx.pos(node),
        `the limit is ${QUERY_LIMITS.maxInValues}; split the query`,
      );
    }
    const pred: Predicate = { kind: 'in', column: col.name, values };
    return op === 'IN' ? pred : { kind: 'not', arg: pred };
  }
  if (op === 'BETWEEN' || op === 'NOT BETWEEN') {
    const col = columnOf(ctx, node['left'], node);
    checkOperator(ctx, col, op, node);
    const [low, high] = listLiterals(ctx, col, node['right'], node, op);
    if (low === undefined || high === undefined)
      throw queryInvalid(`${op} needs two bounds`, ctx.pos(node), 'write col BETWEEN low AND high');
    const pred: Predicate = { kind: 'between', column: col.name, low, high };
    return op === 'BETWEEN' ? pred : { kind: 'not', arg: pred };
  }
  throw queryInvalid(`the operator ${op} is not supported`, ctx.pos(node), fix);
}

function isNot(node: AstNode): boolean {
  if (typeOf(node) === 'unary_expr')
    return typeof node['operator'] === 'string' && node['operator'].toUpperCase() === 'NOT';
  return typeOf(node) === 'function' && functionName(node) === 'NOT';
}

/** Walks the parser's connectives down to the comparisons, in source order. */
function collectAtoms(ctx: QueryContext, node: unknown, parent: unknown, out: LocatedAtom[], depth: number): void {
  // The parser's tree is binary, so a flat chain of n conditions is n deep: bound by node count.
  if (depth > 2 * QUERY_LIMITS.maxPredicateNodes + 8) {
    throw queryInvalid(
      'WHERE has too many conditions',
      ctx.pos(node, parent),
      `use at most ${QUERY_LIMITS.maxPredicateNodes}`,
    );
  }
  if (isNode(node)) {
    const op = typeof node['operator'] === 'string' ? node['operator'].toUpperCase() : null;
    if (typeOf(node) === 'binary_expr' && (op === 'AND' || op === 'OR')) {
      collectAtoms(ctx, node['left'], node, out, depth + 1);
      collectAtoms(ctx, node['right'], node, out, depth + 1);
      return;
    }
    if (isNot(node)) {
      const arg =
        typeOf(node) === 'unary_expr' ? node['expr'] : isNode(node['args']) ? node['args']['value'] : undefined;
      const inner: unknown = Array.isArray(arg) ? (arg.length === 1 ? (arg as unknown[])[0] : undefined) : arg;
      if (inner === undefined)
        throw queryInvalid('NOT needs one condition', ctx.pos(node, parent), 'write NOT (condition)');
      collectAtoms(ctx, inner, node, out, depth + 1);
      return;
    }
    if (typeOf(node) === 'expr_list' && Array.isArray(node['value']) && node['value'].length === 1) {
      collectAtoms(ctx, (node['value'] as unknown[])[0], node, out, depth + 1);
      return;
    }
  }
  const pred = readAtom(ctx, node, parent);
  const span = spanOf(node);
  if (span === null)
    throw queryInvalid(
      'could not locate a condition in the WHERE clause',
      ctx.pos(parent),
      'add parentheses around it',
    );
  out.push({ span, pred });
}

/** The WHERE predicate of a statement (null without WHERE). */
export function readWhere(ctx: QueryContext, where: unknown): Predicate | null {
  if (where === null || where === undefined) return null;
  const atoms: LocatedAtom[] = [];
  collectAtoms(ctx, where, null, atoms, 0);
  const whereIndex = ctx.tokens.findIndex((t) => isKeyword(t, 'WHERE'));
  return rebuildWhere(ctx.sql, ctx.tokens, whereIndex, atoms);
}
