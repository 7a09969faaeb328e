/**
 * The WHERE clause of a linked-record query, split per dataset. It must be a conjunction whose
 * conditions each name columns of one dataset only: each agency then filters its own records, and
 * no condition needs the other dataset's values. Every comparison is read by the single-dataset
 * reader (readWhere) in the context of its side, so literals, operators and errors are the same;
 * the AND/OR/NOT structure is rebuilt from the text by boolean-structure.ts, with the NOT EXISTS
 * subquery of an anti-join standing in as one opaque condition.
 */
import { functionName, identifierOf, isNode, spanOf, typeOf } from './ast-node.js';
import type { AstNode, Span } from './ast-node.js';
import { rebuildWhere } from './boolean-structure.js';
import type { LocatedAtom } from './boolean-structure.js';
import type { JoinSideName } from './join-plan.js';
import type { JoinScope } from './join-scope.js';
import { predicateSize, QUERY_LIMITS } from './limits.js';
import { readWhere } from './parse-predicate.js';
import type { Predicate } from './plan.js';
import { positionAt, queryInvalid } from './query-error.js';
import { isKeyword } from './sql-lexer.js';
import type { Token } from './sql-lexer.js';

/** Stands for the NOT EXISTS condition in the rebuilt tree (recognised by identity). */
const NOT_EXISTS: Predicate = Object.freeze({ kind: 'compare', column: '', op: '=', value: 0 });
const ONE_SIDE_FIX =
  'each condition must name columns of one dataset: join such conditions with AND (an OR or a comparison across the two datasets is not supported)';

type Owner = JoinSideName | 'exists';

class WhereSplitter {
  private readonly atoms: LocatedAtom[] = [];
  /** The side and start offset of every atom predicate, by identity. */
  private readonly owner = new Map<Predicate, { side: Owner; at: number }>();

  constructor(
    private readonly scope: JoinScope,
    private readonly notExists: { readonly node: AstNode; readonly span: Span } | null,
  ) {}

  /** Column references inside a comparison (not inside subqueries), with a bound on the walk. */
  private columns(node: unknown, out: { node: AstNode; name: string; qualifier: string | null }[], depth = 0): void {
    if (depth > 16 || out.length > 8) return;
    if (Array.isArray(node)) for (const x of node as unknown[]) this.columns(x, out, depth + 1);
    if (!isNode(node) || isNode(node['ast'])) return;
    if (typeOf(node) === 'column_ref') {
      const ident = identifierOf(node);
      if (ident !== null) out.push({ node, ...ident });
      return;
    }
    for (const k of ['left', 'right', 'expr', 'args', 'value']) this.columns(node[k], out, depth + 1);
  }

  /** One comparison, read in the context of the one side its columns belong to. */
  private leaf(node: AstNode, parent: unknown): void {
    const span = spanOf(node);
    const at = positionAt(this.scope.sql, span?.start ?? spanOf(parent)?.start ?? 0);
    if (span === null)
      throw queryInvalid('could not locate a condition in the WHERE clause', at, 'add parentheses around it');
    const refs: { node: AstNode; name: string; qualifier: string | null }[] = [];
    this.columns(node, refs);
    // A double-quoted name in column position reads as a string in WHERE (see ast-node.ts).
    const left = node['left'];
    if (typeOf(left) === 'double_quote_string' && isNode(left)) {
      const ident = identifierOf(left);
      if (ident !== null) refs.unshift({ node: left, ...ident });
    }
    const sides = refs.map(
      (r) => this.scope.resolve(r, positionAt(this.scope.sql, spanOf(r.node)?.start ?? span.start)).side,
    );
    const side = sides[0] ?? this.scope.left;
    const other = sides.find((s) => s.name !== side.name);
    if (other !== undefined) {
      throw queryInvalid(`this condition compares columns of ${side.dataset} and ${other.dataset}`, at, ONE_SIDE_FIX);
    }
    // The single-dataset reader sees a WHERE clause holding this comparison alone.
    const inside = this.scope.tokens.filter((t) => t.start >= span.start && t.start < span.end);
    const where: Token = { kind: 'word', text: 'WHERE', start: span.start, end: span.start };
    const pred = readWhere(this.scope.context(side, [where, ...inside]), node);
    if (pred === null) throw queryInvalid('WHERE holds an empty condition', at, 'write a comparison');
    this.add(span, pred, side.name);
  }

  private add(span: Span, pred: Predicate, side: Owner): void {
    this.atoms.push({ span, pred });
    this.owner.set(pred, { side, at: span.start });
  }

  /** Walks AND/OR/NOT down to the comparisons and the NOT EXISTS, as parse-predicate.ts does. */
  collect(node: unknown, parent: unknown, depth: number): void {
    if (depth > 2 * QUERY_LIMITS.maxPredicateNodes + 8) {
      throw queryInvalid('WHERE has too many conditions', null, `use at most ${QUERY_LIMITS.maxPredicateNodes}`);
    }
    if (this.notExists !== null && node === this.notExists.node) {
      this.add(this.notExists.span, NOT_EXISTS, 'exists');
      return;
    }
    if (!isNode(node)) throw queryInvalid('WHERE holds something that is not a condition', null, 'write a comparison');
    const op = typeof node['operator'] === 'string' ? node['operator'].toUpperCase() : null;
    if (typeOf(node) === 'binary_expr' && (op === 'AND' || op === 'OR')) {
      this.collect(node['left'], node, depth + 1);
      this.collect(node['right'], node, depth + 1);
    } else if (typeOf(node) === 'unary_expr' && op === 'NOT') {
      this.collect(node['expr'], node, depth + 1);
    } else if (typeOf(node) === 'function' && functionName(node) === 'NOT') {
      // `NOT (a AND b)` reads as a call of a function NOT (see parse-predicate.ts).
      const args = isNode(node['args']) ? node['args']['value'] : undefined;
      const arg: unknown = Array.isArray(args) && args.length === 1 ? (args as unknown[])[0] : undefined;
      if (arg === undefined) throw queryInvalid('NOT needs one condition', null, 'write NOT (condition)');
      this.collect(arg, node, depth + 1);
    } else if (typeOf(node) === 'expr_list' && Array.isArray(node['value']) && node['value'].length === 1) {
      this.collect((node['value'] as unknown[])[0], node, depth + 1);
    } else {
      this.leaf(node, parent);
    }
  }

  /** The owners of the atoms under `p`. */
  private owners(p: Predicate, out: Set<Owner>): Set<Owner> {
    const o = this.owner.get(p);
    if (o !== undefined) out.add(o.side);
    else if (p.kind === 'and' || p.kind === 'or') for (const a of p.args) this.owners(a, out);
    else if (p.kind === 'not') this.owners(p.arg, out);
    return out;
  }

  /** The start offset of the first atom under `p`. */
  private start(p: Predicate): number {
    const o = this.owner.get(p);
    if (o !== undefined) return o.at;
    if (p.kind === 'and' || p.kind === 'or') return this.start(p.args[0] ?? p);
    return p.kind === 'not' ? this.start(p.arg) : 0;
  }

  /** Top-level conjuncts; a nested AND is opened only when it spans both sides or the NOT EXISTS. */
  private conjuncts(p: Predicate): Predicate[] {
    if (p.kind === 'and' && this.owners(p, new Set()).size > 1) return p.args.flatMap((a) => this.conjuncts(a));
    return [p];
  }

  split(tree: Predicate): Record<JoinSideName, Predicate | null> {
    const parts: Record<JoinSideName, Predicate[]> = { left: [], right: [] };
    for (const c of this.conjuncts(tree)) {
      const owners = [...this.owners(c, new Set())];
      const at = positionAt(this.scope.sql, this.start(c));
      if (owners.includes('exists') && c !== NOT_EXISTS) {
        throw queryInvalid(
          'NOT EXISTS must be one of the conditions joined by AND',
          positionAt(this.scope.sql, this.notExists?.span.start ?? 0),
          `write WHERE NOT EXISTS (…) AND other conditions; OR and NOT around it are not supported`,
        );
      }
      if (owners.length > 1) {
        const [a, b] = owners.map((o) => (o === 'exists' ? 'NOT EXISTS' : this.scope.side(o).dataset));
        throw queryInvalid(`this condition combines ${a} and ${b}`, at, ONE_SIDE_FIX);
      }
      const [o] = owners;
      if (o === 'left' || o === 'right') parts[o].push(c);
    }
    const out = { left: null, right: null } as Record<JoinSideName, Predicate | null>;
    for (const side of ['left', 'right'] as const) {
      const list = parts[side];
      const pred =
        list.length === 0 ? null : list.length === 1 ? (list[0] ?? null) : { kind: 'and' as const, args: list };
      const size = pred === null ? { depth: 0, nodes: 0 } : predicateSize(pred);
      if (size.depth > QUERY_LIMITS.maxPredicateDepth || size.nodes > QUERY_LIMITS.maxPredicateNodes) {
        throw queryInvalid(
          `the conditions on ${this.scope.side(side).dataset} are too large (${size.nodes} conditions and connectives, nested ${size.depth} deep)`,
          null,
          `use at most ${QUERY_LIMITS.maxPredicateNodes}, nested at most ${QUERY_LIMITS.maxPredicateDepth} deep; IN (...) counts as one`,
        );
      }
      out[side] = pred;
    }
    return out;
  }

  get located(): readonly LocatedAtom[] {
    return this.atoms;
  }
}

/** The index of the outer WHERE keyword (not one inside a subquery), or -1. */
function outerWhere(tokens: readonly Token[]): number {
  let depth = 0;
  return tokens.findIndex((t) => {
    if (t.text === '(') depth++;
    if (t.text === ')') depth--;
    return depth === 0 && isKeyword(t, 'WHERE');
  });
}

/** Each side's conditions (unqualified column names), null where a side has none. */
export function readJoinWhere(
  scope: JoinScope,
  where: unknown,
  notExists: { readonly node: AstNode; readonly span: Span } | null,
): Record<JoinSideName, Predicate | null> {
  if (where === null || where === undefined) return { left: null, right: null };
  const splitter = new WhereSplitter(scope, notExists);
  splitter.collect(where, null, 0);
  const tree = rebuildWhere(scope.sql, scope.tokens, outerWhere(scope.tokens), splitter.located);
  return splitter.split(tree);
}
