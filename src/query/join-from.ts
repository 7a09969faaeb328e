/**
 * The linking part of a linked-record query: the two datasets and the id equality that joins
 * them, written either as `FROM a x [INNER] JOIN b y ON x.id = y.id` (inner join) or as
 * `FROM a x WHERE NOT EXISTS (SELECT 1 FROM b y WHERE y.id = x.id)` (anti-join). Everything else
 * a FROM clause or a NOT EXISTS subquery can hold is refused with the form to write instead.
 */
import type { FedstatError } from '../errors.js';
import type { Schema } from '../federation/schema.js';
import { extraKeys, functionName, identifierOf, isEmpty, isNode, spanOf, typeOf } from './ast-node.js';
import type { AstNode, Identifier, Span } from './ast-node.js';
import type { JoinKind, JoinSideName } from './join-plan.js';
import { ANTI_FIX, INNER_FIX } from './join-refusals.js';
import { JoinScope } from './join-scope.js';
import type { ScopeSide } from './join-scope.js';
import { isSafeAlias } from './limits.js';
import { resolveDataset } from './names.js';
import { positionAt, queryInvalid, quoted } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import { isKeyword } from './sql-lexer.js';
import type { Token } from './sql-lexer.js';
import { closest, listNames } from './suggest.js';

/** The datasets, the id column of each side, and (anti-join) where the NOT EXISTS condition is. */
export interface JoinFrom {
  readonly scope: JoinScope;
  readonly ids: Readonly<Record<JoinSideName, string>>;
  /** The NOT EXISTS node of the WHERE clause and its source span; null for an inner join. */
  readonly notExists: { readonly node: AstNode; readonly span: Span } | null;
}

const EXPRESSIONS = new Set(['function', 'aggr_func', 'binary_expr', 'unary_expr', 'cast', 'case']);
const SUB_KEYS = ['type', 'columns', 'from', 'where', 'groupby', 'loc'];
/** Subquery clauses (AST key → keyword) that NOT EXISTS must not hold. */
const SUB_CLAUSES: Readonly<Record<string, string>> = {
  groupby: 'GROUP BY',
  having: 'HAVING',
  orderby: 'ORDER BY',
  limit: 'LIMIT',
  distinct: 'DISTINCT',
  with: 'WITH',
  window: 'WINDOW',
  _next: 'UNION',
  set_op: 'UNION',
  into: 'INTO',
};

/** The first token inside `span` that is one of the keywords `words`. */
function firstWord(tokens: readonly Token[], span: Span | null, words: readonly string[]): Token | undefined {
  if (span === null) return undefined;
  return tokens.find((t) => t.start >= span.start && t.start < span.end && words.some((w) => isKeyword(t, w)));
}

/** The NOT EXISTS nodes of a WHERE tree, found under AND/OR/NOT only. */
function notExistsNodes(node: unknown, out: AstNode[], depth = 0): AstNode[] {
  if (Array.isArray(node) && depth <= 600) for (const v of node as unknown[]) notExistsNodes(v, out, depth + 1);
  if (!isNode(node) || depth > 600) return out;
  const op = typeof node['operator'] === 'string' ? node['operator'].toUpperCase() : '';
  if (typeOf(node) === 'unary_expr' && op === 'NOT EXISTS') out.push(node);
  else if (typeOf(node) === 'binary_expr' && (op === 'AND' || op === 'OR')) {
    notExistsNodes(node['left'], out, depth + 1);
    notExistsNodes(node['right'], out, depth + 1);
  } else if (typeOf(node) === 'unary_expr' && op === 'NOT') notExistsNodes(node['expr'], out, depth + 1);
  else if (typeOf(node) === 'function' && functionName(node) === 'NOT' && isNode(node['args']))
    notExistsNodes(node['args']['value'], out, depth + 1);
  else if (typeOf(node) === 'expr_list' && Array.isArray(node['value']))
    for (const v of node['value'] as unknown[]) notExistsNodes(v, out, depth + 1);
  return out;
}

/** The first id column of a side (for the fix of a refusal), `id` when it has none. */
function firstId(side: ScopeSide): string {
  return Object.keys(side.ds.columns).find((c) => side.ds.columns[c]?.type === 'id') ?? 'id';
}

/**
 * The refusal of a condition inside NOT EXISTS: "no record of b with this id and x" is an OR
 * over b's agencies of "none of my records has it", which the anti-join protocol does not compute.
 */
function conditionInNotExists(scope: JoinScope, at: SourcePosition | null): FedstatError {
  return queryInvalid(
    `NOT EXISTS may hold only the id equality: a condition on ${scope.right.dataset} inside it would need an OR across that dataset's agencies, which fedstat does not compute`,
    at,
    `the anti-join is against every record of ${scope.right.dataset}: ${ANTI_FIX}`,
  );
}

class FromReader {
  constructor(
    private readonly sql: string,
    private readonly tokens: readonly Token[],
    private readonly schema: Schema,
  ) {}

  private pos(offset: number | undefined): SourcePosition | null {
    return offset === undefined ? null : positionAt(this.sql, offset);
  }

  /** One FROM item: a dataset name with an optional alias. */
  table(item: unknown, name: JoinSideName, fallback: number | undefined): ScopeSide {
    const at = this.pos(spanOf(item)?.start ?? fallback);
    const shape = `name a dataset: ${INNER_FIX}`;
    if (!isNode(item) || isNode(item['expr']) || typeof item['table'] !== 'string')
      throw queryInvalid('FROM must name a dataset; subqueries and table functions are not supported', at, shape);
    if (!isEmpty(item['db']) || !isEmpty(item['schema']))
      throw queryInvalid('qualified dataset names are not supported', at, 'write the dataset name alone');
    const extra = extraKeys(item, ['db', 'schema', 'table', 'as', 'loc', 'join', 'on']);
    if (extra.length > 0) throw queryInvalid(`FROM with ${extra.join(', ').toUpperCase()} is not supported`, at, shape);
    const { name: dataset, dataset: ds } = resolveDataset(this.schema, item['table'], at);
    const as = item['as'];
    if (as !== null && as !== undefined && (typeof as !== 'string' || !isSafeAlias(as) || as.includes('.'))) {
      throw queryInvalid('this alias is not supported', at, 'write an alias of letters, digits and underscores');
    }
    const aliased = typeof as === 'string';
    return { name, dataset, ds, alias: aliased ? as : dataset, aliased };
  }

  /** The id column of `side` that `ident` names, refusing other columns. */
  private idColumn(scope: JoinScope, side: ScopeSide, ident: Identifier, at: SourcePosition | null): string {
    const cols = Object.keys(side.ds.columns);
    const ids = cols.filter((c) => side.ds.columns[c]?.type === 'id');
    const name = cols.find((c) => c.toLowerCase() === ident.name.toLowerCase());
    const idFix = `join on the id columns: ${listNames(ids.map((c) => scope.qualified(side, c)))}`;
    if (name === undefined) {
      const near = closest(ident.name, cols)[0];
      throw queryInvalid(
        `unknown column ${quoted(ident.name)} in ${side.dataset}`,
        at,
        `${idFix}${near === undefined ? '' : ` (did you mean ${scope.qualified(side, near)}?)`}`,
        { columnName: ident.name },
      );
    }
    const type = side.ds.columns[name]?.type;
    if (type !== 'id') {
      throw queryInvalid(
        `records are linked on id columns only, and ${side.dataset}.${name} is a ${type ?? 'non-id'} column`,
        at,
        ids.length === 0 ? `${side.dataset} has no id column to link on` : idFix,
        { columnName: name },
      );
    }
    return name;
  }

  /**
   * `x.id = y.id` with one id column of each side, in either order. `bare` is the side an
   * unqualified name belongs to (the subquery's own dataset inside NOT EXISTS), null for ON.
   */
  idEquality(
    scope: JoinScope,
    node: unknown,
    clause: 'ON' | 'NOT EXISTS',
    bare: ScopeSide | null,
  ): Record<JoinSideName, string> {
    const span = spanOf(node);
    const at = this.pos(span?.start);
    const eq = `${scope.qualified(scope.left, firstId(scope.left))} = ${scope.qualified(scope.right, firstId(scope.right))}`;
    const op = isNode(node) && typeof node['operator'] === 'string' ? node['operator'].toUpperCase() : '';
    if (typeOf(node) === 'binary_expr' && (op === 'AND' || op === 'OR')) {
      const kw = firstWord(this.tokens, span, ['AND', 'OR']);
      if (clause === 'ON')
        throw queryInvalid(
          'ON may hold only the id equality',
          this.pos(kw?.start ?? span?.start),
          `move the other conditions to WHERE: ON ${eq} WHERE …`,
        );
      throw conditionInNotExists(scope, this.pos(kw?.start ?? span?.start));
    }
    const [l, r] =
      isNode(node) && op === '=' ? [identifierOf(node['left']), identifierOf(node['right'])] : [null, null];
    if (!isNode(node) || l === null || r === null) {
      // A comparison with a literal is a condition on the dataset; a function of a column is an expression.
      const expression = isNode(node) && [node['left'], node['right']].some((n) => EXPRESSIONS.has(typeOf(n) ?? ''));
      if (clause === 'NOT EXISTS' && !expression) {
        throw conditionInNotExists(scope, at);
      }
      throw queryInvalid(
        `${clause} must compare the id columns themselves; expressions are not supported`,
        at,
        `write ${eq}`,
      );
    }
    const sideOf = (ident: Identifier, n: unknown): [ScopeSide, string] => {
      const p = this.pos(spanOf(n)?.start ?? span?.start);
      let side: ScopeSide;
      if (ident.qualifier !== null) side = scope.sideOfQualifier(ident.qualifier, ident, p);
      else if (bare !== null) side = bare;
      else {
        const has = [scope.left, scope.right].filter((s) =>
          Object.keys(s.ds.columns).some((c) => c.toLowerCase() === ident.name.toLowerCase()),
        );
        const [first, second] = has;
        if (first !== undefined && second !== undefined) {
          throw queryInvalid(
            `the column ${quoted(ident.name)} is ambiguous: both ${first.dataset} and ${second.dataset} have it`,
            p,
            `write ${scope.qualified(first, ident.name)} or ${scope.qualified(second, ident.name)}`,
            { columnName: ident.name },
          );
        }
        side = first ?? scope.left;
      }
      return [side, this.idColumn(scope, side, ident, p)];
    };
    const [ls, lc] = sideOf(l, node['left']);
    const [rs, rc] = sideOf(r, node['right']);
    if (ls.name === rs.name)
      throw queryInvalid(
        `${clause} compares two columns of ${ls.dataset}`,
        at,
        `compare the id column of each dataset: ${eq}`,
      );
    const ids = ls.name === 'left' ? { left: lc, right: rc } : { left: rc, right: lc };
    const lf = scope.left.ds.columns[ids.left];
    const rf = scope.right.ds.columns[ids.right];
    if (lf?.type === 'id' && rf?.type === 'id' && lf.format !== rf.format) {
      throw queryInvalid(
        `${scope.left.dataset}.${ids.left} holds ${lf.format} ids and ${scope.right.dataset}.${ids.right} holds ${rf.format} ids, so no record could match`,
        at,
        "link id columns of the same format (the schema declares each id column's format)",
      );
    }
    return ids;
  }

  /** The NOT EXISTS subquery: `SELECT 1 FROM dataset [alias] WHERE alias.id = outer.id`. */
  subquery(node: AstNode, left: ScopeSide): { scope: JoinScope; ids: Record<JoinSideName, string>; span: Span } {
    const expr = node['expr'];
    const ast = isNode(expr) ? expr['ast'] : undefined;
    const start = spanOf(ast)?.start;
    const k = this.tokens.findIndex((t) => t.start === start);
    const [not, exists, open] = [this.tokens[k - 3], this.tokens[k - 2], this.tokens[k - 1]];
    if (!isNode(ast) || k < 3 || !isKeyword(not, 'NOT') || !isKeyword(exists, 'EXISTS') || open?.text !== '(') {
      const t = this.tokens.find((x) => isKeyword(x, 'EXISTS'));
      throw queryInvalid('this NOT EXISTS form is not supported', this.pos(t?.start), ANTI_FIX);
    }
    let depth = 0;
    let end = this.sql.length;
    for (const t of this.tokens.slice(k - 1)) {
      if (t.text === '(') depth++;
      if (t.text === ')' && --depth === 0) {
        end = t.end;
        break;
      }
    }
    const at = this.pos(not?.start);
    const clauses = [...extraKeys(ast, SUB_KEYS), ...(isEmpty(ast['groupby']) ? [] : ['groupby'])];
    const [first] = clauses;
    if (first !== undefined) {
      const words = (SUB_CLAUSES[first] ?? first).split(' ');
      const kw = firstWord(this.tokens, { start: start ?? 0, end }, words.slice(0, 1));
      throw queryInvalid(
        `${words.join(' ').toUpperCase()} inside NOT EXISTS is not supported`,
        this.pos(kw?.start ?? not?.start),
        ANTI_FIX,
      );
    }
    const cols = Array.isArray(ast['columns']) ? (ast['columns'] as unknown[]) : [];
    const constant = (c: unknown): boolean => {
      const e = isNode(c) ? c['expr'] : undefined;
      return (
        typeOf(e) === 'number' || typeOf(e) === 'star' || (isNode(e) && e['column'] === '*' && isEmpty(e['table']))
      );
    };
    if (cols.length !== 1 || !constant(cols[0]))
      throw queryInvalid(
        'NOT EXISTS takes SELECT 1 or SELECT * only',
        this.pos(spanOf(cols[0])?.start ?? start),
        'write NOT EXISTS (SELECT 1 FROM … WHERE ….id = ….id)',
      );
    const from = Array.isArray(ast['from']) ? (ast['from'] as unknown[]) : [];
    if (from.length !== 1)
      throw queryInvalid(
        'NOT EXISTS must read one dataset',
        this.pos(spanOf(from[1])?.start ?? start),
        `a linked-record query links two datasets; ${ANTI_FIX}`,
      );
    const right = this.table(from[0], 'right', start);
    const scope = this.scope('anti', left, right, at);
    if (isEmpty(ast['where']))
      throw queryInvalid('NOT EXISTS without a WHERE id equality is not supported', at, ANTI_FIX);
    const ids = this.idEquality(scope, ast['where'], 'NOT EXISTS', right);
    return { scope, ids, span: { start: not?.start ?? 0, end } };
  }

  scope(kind: JoinKind, left: ScopeSide, right: ScopeSide, at: SourcePosition | null): JoinScope {
    if (left.dataset === right.dataset)
      throw queryInvalid(
        `${left.dataset} is joined with itself`,
        at,
        'link two different datasets: a dataset is linked within itself by its agencies, not by a query',
      );
    if (left.alias.toLowerCase() === right.alias.toLowerCase())
      throw queryInvalid(`both datasets are called ${left.alias}`, at, 'give each dataset its own alias');
    return new JoinScope(this.sql, this.tokens, kind, left, right);
  }
}

/** Reads FROM (and, for an anti-join, the NOT EXISTS subquery) of a parsed statement. */
export function readJoinFrom(sql: string, tokens: readonly Token[], schema: Schema, stmt: AstNode): JoinFrom {
  const r = new FromReader(sql, tokens, schema);
  const from = Array.isArray(stmt['from']) ? (stmt['from'] as unknown[]) : [];
  const fromAt = tokens.find((t) => isKeyword(t, 'FROM'))?.start;
  const joins = tokens.filter((t) => isKeyword(t, 'JOIN'));
  const nots = notExistsNodes(stmt['where'], []);
  if (from.length === 0) throw queryInvalid('the query has no FROM clause', null, INNER_FIX);
  if (from.length > 2 || (from.length === 2 && nots.length > 0) || nots.length > 1) {
    // Point at the JOIN or NOT EXISTS that brings in the third dataset.
    const nots = tokens.filter((t, i) => isKeyword(t, 'NOT') && isKeyword(tokens[i + 1], 'EXISTS'));
    const third = from.length > 2 ? joins[1]?.start : nots[from.length === 2 ? 0 : 1]?.start;
    throw queryInvalid(
      'a linked-record query links two datasets, not more',
      positionAt(sql, third ?? 0),
      'link two datasets per query and combine the results',
    );
  }
  const left = r.table(from[0], 'left', fromAt);
  const second = from[1];
  if (second === undefined) {
    const node = nots[0];
    if (node === undefined) throw queryInvalid('this query reads one dataset, so it links no records', null, INNER_FIX);
    const sub = r.subquery(node, left);
    return { scope: sub.scope, ids: sub.ids, notExists: { node, span: sub.span } };
  }
  const joinAt = positionAt(sql, joins[0]?.start ?? spanOf(second)?.start ?? 0);
  if (!isNode(second) || second['join'] !== 'INNER JOIN') {
    const kind = isNode(second) && typeof second['join'] === 'string' ? second['join'] : null;
    const comma = tokens.find((t, i) => t.text === ',' && i > tokens.findIndex((x) => isKeyword(x, 'FROM')));
    throw queryInvalid(
      kind === null ? 'listing two datasets with a comma is not supported' : `${kind} is not supported`,
      kind === null ? positionAt(sql, comma?.start ?? spanOf(second)?.start ?? 0) : joinAt,
      INNER_FIX,
    );
  }
  if (!isEmpty(second['using']))
    throw queryInvalid('JOIN … USING (…) is not supported', joinAt, 'write ON x.id = y.id');
  const right = r.table(second, 'right', joins[0]?.start);
  const scope = r.scope('inner', left, right, joinAt);
  if (isEmpty(second['on']))
    throw queryInvalid(
      'JOIN without ON is not supported',
      joinAt,
      `write JOIN … ON ${scope.qualified(left, firstId(left))} = ${scope.qualified(right, firstId(right))}`,
    );
  return { scope, ids: r.idEquality(scope, second['on'], 'ON', null), notExists: null };
}
