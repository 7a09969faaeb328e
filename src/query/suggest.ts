/**
 * "Did you mean" suggestions for misspelt names and category values (the distance and the choice
 * of candidates live in util/closest-name.ts, shared with the schema's unknown keys), and lists.
 */
export { closest, editDistance } from '../util/closest-name.js';

/** `a, b, c`, cut after `max` entries with a count of the rest. */
export function listNames(names: readonly string[], max = 20): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')}, … (${names.length - max} more)`;
}
