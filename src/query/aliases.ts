/**
 * Output names of a query's columns. Without AS, a group column is named after itself and an
 * aggregate `count`, `sum_<col>` or `avg_<col>`; these names become JSON keys and table headers,
 * so they must be safe (see isSafeAlias) and unique, ignoring case (`count` and `COUNT` would be
 * one header to a reader).
 */
import type { AggregateFn } from './plan.js';
import { isSafeAlias, QUERY_LIMITS } from './limits.js';
import { queryInvalid, quoted } from './query-error.js';
import type { SourcePosition } from './query-error.js';

/** The name an output column gets without AS. */
export function defaultAlias(
  item:
    | { readonly kind: 'group'; readonly column: string }
    | { readonly kind: 'aggregate'; readonly fn: AggregateFn; readonly column: string | null },
): string {
  if (item.kind === 'group') return item.column;
  if (item.fn === 'count' || item.column === null) return 'count';
  return `${item.fn}_${item.column}`;
}

/** Throws QUERY_INVALID unless `alias` (already NFC) may name an output column. */
export function checkAlias(alias: string, at: SourcePosition | null): void {
  if (!isSafeAlias(alias)) {
    throw queryInvalid(
      `the output name ${quoted(alias)} is not allowed`,
      at,
      `use up to ${QUERY_LIMITS.maxAliasLength} letters, digits and underscores (any script), starting with a letter, digit or underscore`,
      { alias },
    );
  }
}

/**
 * Throws QUERY_INVALID when two output names are equal ignoring case; `at(i)` gives the position
 * of item i for the message.
 */
export function checkUniqueAliases(aliases: readonly string[], at: (index: number) => SourcePosition | null): void {
  const seen = new Map<string, number>();
  aliases.forEach((alias, i) => {
    const key = alias.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      throw queryInvalid(
        `the output name ${quoted(alias)} is used twice (select items ${first + 1} and ${i + 1})`,
        at(i),
        'give one of them another name with AS',
        { alias },
      );
    }
    seen.set(key, i);
  });
}
