/**
 * Canonical one-line SQL for a plan, for display and logs. parseQuery(formatPlan(p)) deep-equals
 * p for every valid plan whose string literals hold no control characters and no backslash
 * before a quote or at their end (those cannot be written unambiguously in this SQL dialect;
 * control characters are shown as \uXXXX so the line stays one line).
 */
import { defaultAlias } from './aliases.js';
import type { Literal, Predicate, QueryPlan, SelectItem } from './plan.js';
import { escapeControls } from './query-error.js';

/**
 * Words node-sql-parser's Trino grammar will not take as a bare column, alias or dataset name
 * (found by trying every keyword in the grammar; test/query pins the list). They are quoted.
 */
export const RESERVED_WORDS: ReadonlySet<string> = new Set([
  'add',
  'all',
  'alter',
  'and',
  'as',
  'asc',
  'between',
  'by',
  'call',
  'case',
  'create',
  'current_date',
  'current_time',
  'current_timestamp',
  'current_user',
  'delete',
  'desc',
  'describe',
  'distinct',
  'drop',
  'dual',
  'else',
  'end',
  'exists',
  'explain',
  'false',
  'from',
  'full',
  'global',
  'group',
  'having',
  'in',
  'inner',
  'insert',
  'into',
  'is',
  'join',
  'json',
  'left',
  'like',
  'limit',
  'local',
  'not',
  'null',
  'nulls',
  'offset',
  'on',
  'or',
  'order',
  'outer',
  'persist',
  'persist_only',
  'recursive',
  'rename',
  'right',
  'row',
  'rows',
  'select',
  'session',
  'session_user',
  'set',
  'show',
  'sql_big_result',
  'sql_buffer_result',
  'sql_cache',
  'sql_calc_found_rows',
  'sql_no_cache',
  'sql_small_result',
  'system_user',
  'table',
  'then',
  'true',
  'truncate',
  'union',
  'update',
  'using',
  'when',
  'where',
  'window',
  'with',
]);

/** An identifier, double-quoted unless it is a plain ASCII name that is not a reserved word. */
export function formatIdentifier(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !RESERVED_WORDS.has(name.toLowerCase()) ? name : `"${name}"`;
}

/** A literal in SQL: integers in digits, strings single-quoted with '' for a quote. */
export function formatLiteral(v: Literal): string {
  if (typeof v === 'number') return String(v);
  return `'${escapeControls(v.replaceAll("'", "''"))}'`;
}

function formatItem(item: SelectItem): string {
  const expr =
    item.kind === 'group'
      ? formatIdentifier(item.column)
      : item.fn === 'count' || item.column === null
        ? 'COUNT(*)'
        : `${item.fn.toUpperCase()}(${formatIdentifier(item.column)})`;
  return item.alias === defaultAlias(item) ? expr : `${expr} AS ${formatIdentifier(item.alias)}`;
}

function formatAtom(p: Extract<Predicate, { kind: 'compare' | 'in' | 'between' }>, negated: boolean): string {
  const col = formatIdentifier(p.column);
  const not = negated ? 'NOT ' : '';
  switch (p.kind) {
    case 'compare':
      return `${negated ? 'NOT ' : ''}${col} ${p.op} ${formatLiteral(p.value)}`;
    case 'in':
      return `${col} ${not}IN (${p.values.map(formatLiteral).join(', ')})`;
    case 'between':
      return `${col} ${not}BETWEEN ${formatLiteral(p.low)} AND ${formatLiteral(p.high)}`;
  }
}

/** Nested AND/OR always get parentheses, so the text keeps the plan's exact tree shape. */
function formatPredicate(p: Predicate): string {
  switch (p.kind) {
    case 'and':
    case 'or':
      return p.args
        .map((a) => (a.kind === 'and' || a.kind === 'or' ? `(${formatPredicate(a)})` : formatPredicate(a)))
        .join(p.kind === 'and' ? ' AND ' : ' OR ');
    case 'not': {
      const a = p.arg;
      if (a.kind === 'in' || a.kind === 'between' || a.kind === 'compare') return formatAtom(a, true);
      return a.kind === 'not' ? `NOT ${formatPredicate(a)}` : `NOT (${formatPredicate(a)})`;
    }
    default:
      return formatAtom(p, false);
  }
}

/** Canonical one-line SQL for `plan` (default output names are left implicit). */
export function formatPlan(plan: QueryPlan): string {
  const parts = [`SELECT ${plan.select.map(formatItem).join(', ')}`, `FROM ${formatIdentifier(plan.dataset)}`];
  if (plan.where !== null) parts.push(`WHERE ${formatPredicate(plan.where)}`);
  if (plan.groupBy.length > 0) {
    const columns = plan.groupBy.map(formatIdentifier).join(', ');
    parts.push(`GROUP BY ${plan.totals === undefined ? columns : `${plan.totals.toUpperCase()}(${columns})`}`);
  }
  return parts.join(' ');
}
