/**
 * The characters that are not text: no value of any domain holds one. A schema refuses them in a
 * category value, and a CSV cell holding one is invalid in every column type, so a NUL byte, a
 * byte order mark inside a row or a stray control character can never be read as part of a value
 * (DuckDB's nfc_normalize drops a trailing NUL, which made `锦江区\0` count as 锦江区).
 *
 * - C0 controls, DEL and C1 controls (U+0000–U+001F, U+007F–U+009F), tab included;
 * - U+2028 and U+2029, the line and paragraph separators;
 * - U+FEFF, the byte order mark: only the first bytes of a file may hold one, and the file's
 *   reader skips it there.
 *
 * One table, from which the JS check here and the SQL check of the store are both built.
 */

/** Inclusive code point ranges of the characters no value may hold. */
const NON_TEXT_RANGES: readonly (readonly [number, number])[] = Object.freeze([
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0x2028, 0x2029],
  [0xfeff, 0xfeff],
] as const);

const hex = (cp: number): string => cp.toString(16).toUpperCase().padStart(4, '0');

/** `U+0000`: the Unicode name of a code point. */
export function codePointName(cp: number): string {
  return `U+${hex(cp)}`;
}

/** A regular expression character class matching one such character; `re2` for DuckDB, `js` for a `u` RegExp. */
export function nonTextClass(dialect: 'js' | 're2'): string {
  const esc = (cp: number): string => (dialect === 'js' ? `\\u{${hex(cp)}}` : `\\x{${hex(cp)}}`);
  return `[${NON_TEXT_RANGES.map(([a, b]) => (a === b ? esc(a) : `${esc(a)}-${esc(b)}`)).join('')}]`;
}

const NON_TEXT = new RegExp(nonTextClass('js'), 'u');

export function isNonTextChar(cp: number): boolean {
  return NON_TEXT_RANGES.some(([a, b]) => cp >= a && cp <= b);
}

/** The first character of `s` that is not text: its code point and 1-based position in code points. */
export function firstNonTextChar(s: string): { readonly codePoint: number; readonly position: number } | null {
  if (!NON_TEXT.test(s)) return null;
  let position = 0;
  for (const ch of s) {
    position++;
    const cp = ch.codePointAt(0) ?? 0;
    if (isNonTextChar(cp)) return { codePoint: cp, position };
  }
  return null;
}

/** `U+0000 (a control character)`, and so on: how messages name such a character. */
export function describeNonTextChar(cp: number): string {
  if (cp === 0xfeff) return 'U+FEFF (a byte order mark, allowed only at the very start of a file)';
  if (cp === 0x2028) return 'U+2028 (a line separator)';
  if (cp === 0x2029) return 'U+2029 (a paragraph separator)';
  return `${codePointName(cp)} (a control character)`;
}
