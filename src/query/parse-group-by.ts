/**
 * Reads the GROUP BY clause: `GROUP BY g1[, g2]`, or with totals `GROUP BY ROLLUP(g1[, g2])` /
 * `GROUP BY CUBE(g1[, g2])`. node-sql-parser 5.4's Trino grammar has no ROLLUP or CUBE rule: it
 * reads them as calls of functions so named (`{type: 'function', name: {name: [{type: 'default',
 * value: 'ROLLUP'}]}, args: {type: 'expr_list', value: [...]}}`), so they are recognised here by
 * name. Quoted names inside carry no source location; their positions come from the tokens.
 */
import { extraKeys, functionName, identifierOf, isEmpty, isNode, isStar, typeOf } from './ast-node.js';
import type { AstNode } from './ast-node.js';
import { QUERY_LIMITS } from './limits.js';
import { queryableColumns } from './names.js';
import type { Totals } from './plan.js';
import type { QueryContext } from './query-context.js';
import { positionAt, queryInvalid } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import { isKeyword } from './sql-lexer.js';
import type { Token } from './sql-lexer.js';
import { closest, listNames } from './suggest.js';

/** The GROUP BY columns in order, and the totals the query asks for (null: none). */
export interface GroupByClause {
  readonly groupBy: string[];
  readonly totals: Totals | null;
}

const TOTALS_WORDS: Readonly<Record<string, Totals>> = { ROLLUP: 'rollup', CUBE: 'cube' };
const PLAIN_FIX = 'write GROUP BY column[, column]';

/**
 * Start offsets of the comma-separated items from token index `first`, up to the end of the
 * clause (`inClause`) or else to the `)` that closes the list.
 */
function listOffsets(tokens: readonly Token[], first: number, inClause: boolean): number[] {
  const out: number[] = [];
  let depth = 0;
  let expectItem = true;
  for (const t of tokens.slice(first)) {
    if (
      depth === 0 &&
      (t.text === ';' || (inClause && (isKeyword(t, 'HAVING') || isKeyword(t, 'ORDER') || isKeyword(t, 'LIMIT'))))
    )
      break;
    if (!inClause && depth === 0 && t.text === ')') break;
    if (expectItem) out.push(t.start);
    expectItem = depth === 0 && t.text === ',';
    if (t.text === '(') depth++;
    if (t.text === ')') depth--;
  }
  return out;
}

/** Start offsets of the GROUP BY items (the grammar records none for quoted names). */
function groupByOffsets(tokens: readonly Token[]): number[] {
  const g = tokens.findIndex((t, i) => isKeyword(t, 'GROUP') && isKeyword(tokens[i + 1], 'BY'));
  return g < 0 ? [] : listOffsets(tokens, g + 2, true);
}

/** Start offsets of the arguments of the call whose name token starts at `offset`. */
function argOffsets(tokens: readonly Token[], offset: number | undefined): number[] {
  const i = tokens.findIndex((t) => t.start === offset);
  if (i < 0 || tokens[i + 1]?.text !== '(') return [];
  return listOffsets(tokens, i + 2, false);
}

/** ROLLUP or CUBE when `node` is an unquoted, unqualified call of one of them. */
function totalsOf(node: unknown): Totals | null {
  if (typeOf(node) !== 'function' || !isNode(node) || !isNode(node['name'])) return null;
  const parts = node['name']['name'];
  if (!Array.isArray(parts) || parts.length !== 1) return null;
  const part: unknown = parts[0];
  if (typeOf(part) !== 'default' || !isNode(part) || typeof part['value'] !== 'string') return null;
  return TOTALS_WORDS[part['value'].toUpperCase()] ?? null;
}

/** The call's arguments when it has a plain `(a, b)` list, else null. */
function argsOf(node: AstNode): { list: unknown[]; extra: string[] } | null {
  const args = node['args'];
  if (!isNode(args) || typeOf(args) !== 'expr_list' || !Array.isArray(args['value'])) return null;
  return { list: args['value'] as unknown[], extra: extraKeys(args, ['type', 'value', 'loc']) };
}

/** The plain names of GROUP BY items, ROLLUP/CUBE arguments flattened, for a suggested rewrite. */
function typedNames(cols: readonly unknown[]): string[] | null {
  const names: string[] = [];
  for (const c of cols) {
    const inner = totalsOf(c) === null ? [c] : isNode(c) ? (argsOf(c)?.list ?? []) : [];
    for (const x of inner) {
      const ident = identifierOf(x);
      if (ident === null) return null;
      names.push(ident.name);
    }
  }
  return names;
}

class GroupByReader {
  private readonly out: string[] = [];
  private readonly categories: string[];
  constructor(private readonly ctx: QueryContext) {
    this.categories = queryableColumns(ctx.dataset).filter((n) => ctx.dataset.columns[n]?.type === 'category');
  }

  /** One grouping column; `inside` names ROLLUP/CUBE when the column is one of its arguments. */
  column(node: unknown, at: SourcePosition | null, inside: string | null): void {
    const ident = identifierOf(node);
    const where = inside === null ? 'GROUP BY' : inside;
    if (ident === null) {
      const t = typeOf(node);
      const fn = functionName(node);
      const what = isStar(node)
        ? '*'
        : t === 'number'
          ? 'a position'
          : t === 'function'
            ? `${fn ?? 'a function'}(...)`
            : 'an expression';
      const near = fn === null ? undefined : closest(fn, Object.keys(TOTALS_WORDS))[0];
      const hint = near === undefined || near === fn ? '' : ` (did you mean ${near}?)`;
      throw queryInvalid(
        `${inside === null ? `GROUP BY ${what}` : `${what} in ${inside}(...)`} is not supported${hint}`,
        at,
        `name the category columns: ${inside ?? 'GROUP BY'}${inside === null ? ' ' : '('}${this.categories.slice(0, 2).join(', ')}${inside === null ? '' : ')'}`,
      );
    }
    const col = this.ctx.column(ident, at);
    if (col.column.type !== 'category') {
      throw queryInvalid(
        `${inside === null ? 'GROUP BY ' : ''}${col.name}${inside === null ? '' : ` in ${inside}(...)`}: ${this.ctx.datasetName}.${col.name} is an integer column`,
        at,
        `group by category columns (${listNames(this.categories)}) and filter integer ranges in WHERE`,
      );
    }
    if (this.out.includes(col.name))
      throw queryInvalid(`${col.name} appears twice in ${where}`, at, 'list each column once');
    this.out.push(col.name);
  }

  /** `ROLLUP(a[, b])` or `CUBE(a[, b])`, the only GROUP BY item. */
  totals(node: AstNode, totals: Totals, at: SourcePosition | null, offset: number | undefined): GroupByClause {
    const kw = totals.toUpperCase();
    const shape = `write GROUP BY ${kw}(column[, column]) with category columns: ${listNames(this.categories)}`;
    const extra = extraKeys(node, ['type', 'name', 'args', 'loc']);
    if (extra.length > 0)
      throw queryInvalid(`${kw}(...) with ${extra.join(', ').toUpperCase()} is not supported`, at, shape);
    const args = argsOf(node);
    if (args === null) throw queryInvalid(`this ${kw} form is not supported`, at, shape);
    if (args.extra.includes('parentheses')) {
      throw queryInvalid(
        `composite ${kw} elements such as ${kw}((a, b)) are not supported`,
        at,
        `write ${kw}(a, b), or GROUP BY a, b without totals`,
      );
    }
    if (args.extra.length > 0)
      throw queryInvalid(`${kw}(...) with ${args.extra.join(', ').toUpperCase()} is not supported`, at, shape);
    if (args.list.length === 0) throw queryInvalid(`${kw}() names no columns`, at, shape);
    const offsets = argOffsets(this.ctx.tokens, offset);
    const argAt = (i: number): SourcePosition | null => this.ctx.pos(args.list[i], offsets[i] ?? at?.offset);
    if (args.list.length > QUERY_LIMITS.maxGroupBy) {
      throw queryInvalid(
        `${kw} lists ${args.list.length} columns`,
        argAt(QUERY_LIMITS.maxGroupBy),
        `the limit is ${QUERY_LIMITS.maxGroupBy}; filter on the others in WHERE`,
      );
    }
    args.list.forEach((a, i) => this.column(a, argAt(i), kw));
    return { groupBy: this.out, totals };
  }

  read(stmt: AstNode): GroupByClause {
    const g = stmt['groupby'];
    if (isEmpty(g)) return { groupBy: [], totals: null };
    const offsets = groupByOffsets(this.ctx.tokens);
    const at = (i: number, node: unknown): SourcePosition | null => this.ctx.pos(node, offsets[i]);
    if (!isNode(g) || !Array.isArray(g['columns']))
      throw queryInvalid('this GROUP BY form is not supported', at(0, g), PLAIN_FIX);
    if (extraKeys(g, ['columns', 'loc']).length > 0)
      throw queryInvalid('GROUP BY modifiers are not supported', at(0, g), PLAIN_FIX);
    const cols = g['columns'] as unknown[];
    const kinds = cols.map(totalsOf);
    const kind = kinds.find((k) => k !== null);
    if (kind !== undefined && kind !== null) {
      const kw = kind.toUpperCase();
      if (cols.length > 1) {
        const names = typedNames(cols);
        const fix =
          names !== null && names.length <= QUERY_LIMITS.maxGroupBy
            ? `write GROUP BY ${kw}(${names.join(', ')})`
            : `list every grouping column inside it: GROUP BY ${kw}(a[, b])`;
        throw queryInvalid(`${kw}(...) cannot be combined with other GROUP BY items`, at(1, cols[1]), fix);
      }
      const node = cols[0] as AstNode; // totalsOf matched it, so it is a node
      return this.totals(node, kind, at(0, node), offsets[0]);
    }
    if (cols.length > QUERY_LIMITS.maxGroupBy) {
      throw queryInvalid(
        `GROUP BY lists ${cols.length} columns`,
        at(QUERY_LIMITS.maxGroupBy, cols[QUERY_LIMITS.maxGroupBy]),
        `the limit is ${QUERY_LIMITS.maxGroupBy}; filter on the others in WHERE`,
      );
    }
    cols.forEach((node, i) => {
      const fn = functionName(node);
      if (fn !== null && Object.hasOwn(TOTALS_WORDS, fn)) {
        // Only a quoted name gets here: in SQL, "ROLLUP"(a) calls a function named ROLLUP.
        throw queryInvalid(
          `GROUP BY "${fn}"(...) calls a function named ${fn}, which is not supported`,
          at(i, node),
          `write ${fn}(...) without quotes`,
        );
      }
      this.column(node, at(i, node), null);
    });
    return { groupBy: this.out, totals: null };
  }
}

/** The GROUP BY clause of `stmt`, resolved against the dataset (see the module comment). */
export function readGroupBy(ctx: QueryContext, stmt: AstNode): GroupByClause {
  return new GroupByReader(ctx).read(stmt);
}

/**
 * Totals written in other dialects fail to parse; on such a syntax error, name them instead:
 * MySQL's `GROUP BY a WITH ROLLUP` and `GROUPING SETS (...)` (which the grammar lacks).
 */
export function refuseOtherTotalsSyntax(sql: string, tokens: readonly Token[]): void {
  const g = tokens.findIndex((t, i) => isKeyword(t, 'GROUP') && isKeyword(tokens[i + 1], 'BY'));
  if (g < 0) return;
  const after = tokens.slice(g + 2);
  const withAt = after.findIndex(
    (t, i) => isKeyword(t, 'WITH') && (isKeyword(after[i + 1], 'ROLLUP') || isKeyword(after[i + 1], 'CUBE')),
  );
  const w = after[withAt];
  if (w !== undefined) {
    const kw = after[withAt + 1]?.text.toUpperCase() ?? 'ROLLUP';
    const items = after.slice(0, withAt).filter((t) => t.text !== ',');
    const plain =
      items.length > 0 &&
      items.length <= QUERY_LIMITS.maxGroupBy &&
      items.every((t) => t.kind === 'word' || t.kind === 'quoted');
    throw queryInvalid(
      `GROUP BY ... WITH ${kw} is not standard SQL`,
      positionAt(sql, w.start),
      `write GROUP BY ${kw}(${plain ? items.map((t) => t.text).join(', ') : 'a[, b]'})`,
    );
  }
  const grouping = after[0];
  if (grouping !== undefined && isKeyword(grouping, 'GROUPING') && isKeyword(after[1], 'SETS')) {
    throw queryInvalid(
      'GROUPING SETS is not supported',
      positionAt(sql, grouping.start),
      'for totals write GROUP BY ROLLUP(a[, b]) (per-a totals and the grand total) or CUBE(a, b) (also per-b totals)',
    );
  }
}
