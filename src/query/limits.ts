/**
 * Size limits of a query plan. They bound the work an agency does for one plan and the size of
 * every structure a hostile peer can make it walk; parseQuery refuses SQL that would exceed them,
 * so every plan it produces passes validatePlan.
 */
import type { Predicate } from './plan.js';

export const QUERY_LIMITS = Object.freeze({
  /** Longest SQL text parseQuery reads, in UTF-16 code units. */
  maxSqlLength: 100_000,
  /** GROUP BY columns (group count is the product of their domain sizes). */
  maxGroupBy: 2,
  /** Items in the SELECT list. */
  maxSelectItems: 64,
  /** Nesting depth of a WHERE predicate; a lone comparison has depth 1. */
  maxPredicateDepth: 32,
  /** Nodes (connectives and comparisons) in a WHERE predicate. */
  maxPredicateNodes: 256,
  /** Values in one IN list. */
  maxInValues: 1024,
  /** Longest output alias, in code points. */
  maxAliasLength: 64,
});

/**
 * Output aliases: letters (any script, so 人数 works), combining marks, digits and underscores,
 * not starting with a mark. Nothing that needs escaping in SQL, JSON keys, CSV headers or logs.
 */
const SAFE_ALIAS = /^[\p{L}\p{N}_][\p{L}\p{M}\p{N}_]*$/u;

/** True when `alias` may name an output column (see SAFE_ALIAS; NFC; 1-64 code points). */
export function isSafeAlias(alias: string): boolean {
  return SAFE_ALIAS.test(alias) && alias.normalize('NFC') === alias && [...alias].length <= QUERY_LIMITS.maxAliasLength;
}

/** Depth (a lone comparison is 1) and node count of a predicate tree built by this package. */
export function predicateSize(pred: Predicate): { depth: number; nodes: number } {
  if (pred.kind === 'and' || pred.kind === 'or') {
    let depth = 0;
    let nodes = 1;
    for (const a of pred.args) {
      const s = predicateSize(a);
      depth = Math.max(depth, s.depth);
      nodes += s.nodes;
    }
    return { depth: depth + 1, nodes };
  }
  if (pred.kind === 'not') {
    const s = predicateSize(pred.arg);
    return { depth: s.depth + 1, nodes: s.nodes + 1 };
  }
  return { depth: 1, nodes: 1 };
}
