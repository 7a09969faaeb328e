/**
 * A small SQL tokenizer that mirrors the lexical rules of node-sql-parser's Trino grammar
 * (strings with backslash escapes and doubled quotes, double-quoted and backtick identifiers,
 * `--`, `//` and block comments). It exists to read what the parser's tree gets wrong or leaves
 * out: the AND/OR/NOT skeleton of a WHERE clause and the positions of nodes without locations.
 */

type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'punct';

export interface Token {
  readonly kind: TokenKind;
  /** The token's source text (for `word`, as typed; compare case-insensitively). */
  readonly text: string;
  /** Offsets in UTF-16 code units: `sql.slice(start, end) === text`. */
  readonly start: number;
  readonly end: number;
}

// The grammar's identifier classes: a letter, underscore, CJK ideograph or Latin-1/Latin
// Extended-A letter to start; then ASCII word characters, `$` or anything from U+0080 on.
const WORD_START = /[A-Za-z_\u4e00-\u9fa5\u00c0-\u017f]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const TWO_CHAR_OPS = new Set([
  '<>',
  '<=',
  '>=',
  '!=',
  '||',
  '&&',
  '::',
  '->',
  '=>',
  '<@',
  '@>',
  '#>',
  '#-',
  '?|',
  '?&',
]);

function skipQuoted(sql: string, i: number, quote: string): number {
  // Returns the offset just past the closing quote (or the end of the text when unterminated).
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j];
    if (c === '\\' && quote !== '`') {
      j += 2;
    } else if (c === quote) {
      if (quote === "'" && sql[j + 1] === "'") j += 2;
      else return j + 1;
    } else {
      j++;
    }
  }
  return sql.length;
}

/** Tokens of `sql`, skipping whitespace and comments. Never throws. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number): void => {
    out.push({ kind, text: sql.slice(i, end), start: i, end });
    i = end;
  };
  while (i < sql.length) {
    const c = sql.charAt(i);
    const two = sql.slice(i, i + 2);
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (two === '--' || two === '//') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (two === '/*') {
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? sql.length : close + 2;
    } else if (c === "'") {
      push('string', skipQuoted(sql, i, c));
    } else if (c === '"' || c === '`') {
      push('quoted', skipQuoted(sql, i, c));
    } else if (c >= '0' && c <= '9') {
      const m = /^[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?/.exec(sql.slice(i, i + 400));
      push('number', i + (m?.[0].length ?? 1));
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && WORD_PART.test(sql.charAt(j))) j++;
      push('word', j);
    } else if (TWO_CHAR_OPS.has(two)) {
      push('punct', i + 2);
    } else {
      // One code point, so a stray astral character stays whole.
      push('punct', i + ((sql.codePointAt(i) ?? 0) > 0xffff ? 2 : 1));
    }
  }
  return out;
}

/** True when `t` is the keyword `kw` (case-insensitive). */
export function isKeyword(t: Token | undefined, kw: string): boolean {
  return t !== undefined && t.kind === 'word' && t.text.toUpperCase() === kw;
}
