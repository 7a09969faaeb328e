/**
 * A linked-record plan as text, for `--explain`, display and logs: canonical SQL on one line, in
 * the style of formatPlan, such that parseJoinQuery(formatJoinPlan(p)) deep-equals p for every
 * plan parseJoinQuery makes (with the same caveat on string literals as formatPlan).
 */
import { defaultAlias } from './aliases.js';
import { formatIdentifier, formatLiteral } from './format-plan.js';
import type { JoinPlan, JoinSelectItem, JoinSide, JoinSideName } from './join-plan.js';
import type { Predicate } from './plan.js';

/** `alias.column`, or `dataset.column` for a side written without an alias. */
function col(side: JoinSide, column: string): string {
  return `${formatIdentifier(side.alias)}.${formatIdentifier(column)}`;
}

/** `dataset alias`, or `dataset` alone when it has no alias of its own. */
function table(side: JoinSide): string {
  const name = formatIdentifier(side.dataset);
  return side.alias === side.dataset ? name : `${name} ${formatIdentifier(side.alias)}`;
}

function atom(side: JoinSide, p: Extract<Predicate, { kind: 'compare' | 'in' | 'between' }>, negated: boolean): string {
  const c = col(side, p.column);
  const not = negated ? 'NOT ' : '';
  switch (p.kind) {
    case 'compare':
      return `${not}${c} ${p.op} ${formatLiteral(p.value)}`;
    case 'in':
      return `${c} ${not}IN (${p.values.map(formatLiteral).join(', ')})`;
    case 'between':
      return `${c} ${not}BETWEEN ${formatLiteral(p.low)} AND ${formatLiteral(p.high)}`;
  }
}

/** A side's predicate with qualified columns; nested AND/OR always get parentheses. */
function predicate(side: JoinSide, p: Predicate): string {
  switch (p.kind) {
    case 'and':
    case 'or':
      return p.args
        .map((a) => (a.kind === 'and' || a.kind === 'or' ? `(${predicate(side, a)})` : predicate(side, a)))
        .join(p.kind === 'and' ? ' AND ' : ' OR ');
    case 'not': {
      const a = p.arg;
      if (a.kind === 'in' || a.kind === 'between' || a.kind === 'compare') return atom(side, a, true);
      return a.kind === 'not' ? `NOT ${predicate(side, a)}` : `NOT (${predicate(side, a)})`;
    }
    default:
      return atom(side, p, false);
  }
}

/** A side's conditions as conjuncts of the WHERE clause: its top-level AND is opened, an OR kept whole. */
function conjuncts(side: JoinSide): string[] {
  const w = side.where;
  if (w === null) return [];
  if (w.kind === 'and')
    return w.args.map((a) => (a.kind === 'and' || a.kind === 'or' ? `(${predicate(side, a)})` : predicate(side, a)));
  return [w.kind === 'or' ? `(${predicate(side, w)})` : predicate(side, w)];
}

function item(plan: JoinPlan, it: JoinSelectItem): string {
  const of = (s: JoinSideName): JoinSide => (s === 'left' ? plan.left : plan.right);
  const expr =
    it.kind === 'group'
      ? col(of(it.side), it.column)
      : it.fn === 'count' || it.side === null || it.column === null
        ? 'COUNT(*)'
        : `${it.fn.toUpperCase()}(${col(of(it.side), it.column)})`;
  const base =
    it.kind === 'group' ? { kind: it.kind, column: it.column } : { kind: it.kind, fn: it.fn, column: it.column };
  return it.alias === defaultAlias(base) ? expr : `${expr} AS ${formatIdentifier(it.alias)}`;
}

/** Canonical one-line SQL for `plan` (default output names are left implicit). */
export function formatJoinPlan(plan: JoinPlan): string {
  const { left, right } = plan;
  const link = `${col(left, left.id)} = ${col(right, right.id)}`;
  const parts = [`SELECT ${plan.select.map((it) => item(plan, it)).join(', ')}`, `FROM ${table(left)}`];
  const conds = [...conjuncts(left), ...conjuncts(right)];
  if (plan.join === 'inner') {
    parts.push(`JOIN ${table(right)} ON ${link}`);
  } else {
    conds.unshift(`NOT EXISTS (SELECT 1 FROM ${table(right)} WHERE ${col(right, right.id)} = ${col(left, left.id)})`);
  }
  if (conds.length > 0) parts.push(`WHERE ${conds.join(' AND ')}`);
  if (plan.groupBy.length > 0) {
    parts.push(`GROUP BY ${plan.groupBy.map((g) => col(g.side === 'left' ? left : right, g.column)).join(', ')}`);
  }
  return parts.join(' ');
}
