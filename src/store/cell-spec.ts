/**
 * What a valid CSV cell of each column type is, defined once: an ordered list of checks that a
 * cell must all pass. Both validators are derived from this list (cell-rules.ts): the DuckDB
 * expression that converts millions of cells at once, and the JS diagnosis that explains the few
 * reported rows, whose reason is the first check that fails. Neither validator has a rule of its
 * own, so they cannot drift apart; a property test runs both over adversarial cells.
 *
 * - category: present, text, and (NFC-normalised) one of the declared values;
 * - integer: present, text, `-?[0-9]+` (leading zeros and -0 allowed; no plus, spaces, decimals,
 *   exponents, underscores, hex or non-ASCII digits, all of which DuckDB's own cast would
 *   accept), inside [min, max];
 * - id: present and text; `gb11643` also 17 digits and a check character, a real birth date from
 *   1900 and the right check character.
 *
 * "text" means no character of util/text-chars.ts (controls, NUL, U+FEFF, line separators).
 */
import type { Column } from '../federation/schema.js';

export type CellCheck =
  /** Not NULL and not empty (DuckDB reads an empty field, quoted or not, as NULL). */
  | { readonly kind: 'present' }
  /** No character that is not text (util/text-chars.ts). */
  | { readonly kind: 'text' }
  /**
   * The whole cell matches `source`, a pattern of ASCII letters, digits, dashes, classes of them
   * and the quantifiers `?`, `+`, `{n}`: JS and RE2 read it the same way, and it matches only
   * non-empty printable ASCII, so it implies `present` and `text`. `canonicalIntegers`: it
   * matches the decimal text of every 64-bit integer (SQL then skips the regex for those).
   */
  | { readonly kind: 'pattern'; readonly source: string; readonly what: string; readonly canonicalIntegers: boolean }
  /** A decimal integer (the pattern before it guarantees the shape) inside [min, max]. */
  | { readonly kind: 'range'; readonly min: number; readonly max: number }
  /**
   * The cell or its NFC form is one of `values` (NFC, free of non-text characters: schema.ts).
   * NFC is ICU's in JS and utf8proc's in DuckDB; by Unicode's normalization stability they agree
   * on every character both versions assign, and the property test tries composed, decomposed and
   * compatibility forms. utf8proc drops a NUL, hence `text` before normalising.
   */
  | { readonly kind: 'member'; readonly values: readonly string[] }
  /** A real birth date from 1900 and the right check character (after the GB 11643 pattern). */
  | { readonly kind: 'gb11643'; readonly what: string };

type PatternCheck = Extract<CellCheck, { kind: 'pattern' }>;

const SAFE_PATTERN = /^(?:[A-Za-z0-9-]|\[[A-Za-z0-9-]+\]|[?+]|\{[1-9][0-9]*\})+$/;

function pattern(source: string, what: string, canonicalIntegers = false): PatternCheck {
  if (!SAFE_PATTERN.test(source) || new RegExp(`^(?:${source})$`).test('')) {
    throw new RangeError(`pattern ${source} must be non-empty ASCII literals, classes and ?, +, {n}`);
  }
  return Object.freeze({ kind: 'pattern', source, what, canonicalIntegers });
}

const PRESENT: CellCheck = Object.freeze({ kind: 'present' });
const TEXT: CellCheck = Object.freeze({ kind: 'text' });
const INTEGER_PATTERN = pattern('-?[0-9]+', 'a plain decimal integer', true);
const GB11643_WHAT = 'a valid GB 11643 citizen ID (17 digits with a real birth date, then the check character)';
const GB11643_PATTERN = pattern('[0-9]{17}[0-9X]', GB11643_WHAT);
const GB11643: CellCheck = Object.freeze({ kind: 'gb11643', what: GB11643_WHAT });

/** The checks a cell of `col` must pass, in the order their reasons are reported. */
export function cellChecks(col: Column): readonly CellCheck[] {
  switch (col.type) {
    case 'category':
      return [PRESENT, TEXT, { kind: 'member', values: col.values }];
    case 'integer':
      return [PRESENT, TEXT, INTEGER_PATTERN, { kind: 'range', min: col.min, max: col.max }];
    case 'id':
      return col.format === 'text' ? [PRESENT, TEXT] : [PRESENT, TEXT, GB11643_PATTERN, GB11643];
  }
}

/**
 * Whether SQL may leave `check` out because another check of `checks` implies it: a pattern
 * implies `present` and `text`, and so does a member check (a declared value is non-empty text,
 * and its normalising branch checks `text` itself). Only for speed: the regex for `text` costs
 * as much as the whole conversion of a cell.
 */
export function impliedInSql(check: CellCheck, checks: readonly CellCheck[]): boolean {
  if (check.kind !== 'present' && check.kind !== 'text') return false;
  return checks.some((c) => c.kind === 'pattern' || c.kind === 'member');
}
