/**
 * The tokens of a model formula (R's syntax): names, numbers, quoted strings and the operators of
 * R's formula language. Operators fedstat does not take (`*`, `^`, `/`, `|`, `%in%`) are still
 * tokens, so the parser can refuse them by name with the rewrite, instead of "unexpected character".
 */
import { formulaError } from './formula-error.js';

/** What a token is; `op` covers every operator and bracket. */
type TokenKind = 'name' | 'number' | 'string' | 'op' | 'end';

/** A token and where it is: `text.slice(start, end)` is its source. */
export interface Token {
  readonly kind: TokenKind;
  /** For `string`, the value with escapes resolved; otherwise the source text. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

/** Operators, longest first so `==` wins over `=`. */
const OPS = ['%in%', '==', '~', '+', '-', ':', '(', ')', '*', '^', '/', '|', ',', '=', '.'] as const;

/** Full-width and typographic characters that Chinese input methods type in place of ASCII. */
const LOOKALIKES: Readonly<Record<string, string>> = {
  '～': '~',
  '〜': '~',
  '＋': '+',
  '－': '-',
  '：': ':',
  '（': '(',
  '）': ')',
  '＝': '=',
  '，': ',',
  '‘': "'",
  '’': "'",
  '“': '"',
  '”': '"',
  '＊': '*',
  '\u3000': ' ',
  '\u00a0': ' ',
};

// R's syntactic names: a letter or dot to start, then letters, digits, dots and underscores.
// Underscore may also start a name here: schema names may, and R users quote them with backticks.
const NAME = /^[\p{L}_.][\p{L}\p{N}_.]*/u;
const NUMBER = /^[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?/;

function readString(text: string, start: number): { value: string; end: number } {
  const q = text.charAt(start);
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === q) return { value, end: i + 1 };
    if (c === '\\' && i + 1 < text.length) {
      // Only the escapes a category value can need: the quote, the other quote and the backslash.
      const next = text.charAt(i + 1);
      if (next !== q && next !== '\\' && next !== "'" && next !== '"') {
        throw formulaError(
          'QUERY_SYNTAX',
          text,
          { start: i, end: i + 2 },
          `unknown escape ${JSON.stringify(`\\${next}`)} in a string`,
          'only \\\\, \\\' and \\" are escapes; write other characters as they are',
        );
      }
      value += next;
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
  throw formulaError('QUERY_SYNTAX', text, { start, end: text.length }, 'unterminated string', `close it with ${q}`);
}

function lookalikeError(text: string, i: number, ch: string, ascii: string): Error {
  const code = `U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  return formulaError(
    'QUERY_SYNTAX',
    text,
    { start: i, end: i + 1 },
    `"${ch}" (${code}) is not ASCII`,
    `type "${ascii}" instead`,
    { near: ch },
  );
}

/** The tokens of `text`, ending with one `end` token. Throws QUERY_SYNTAX on a character no token starts with. */
export function tokenizeFormula(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const rest = text.slice(i);
    const num = NUMBER.exec(rest);
    const name = num === null ? NAME.exec(rest) : null;
    // A lone `.` is R's "every other column", an operator here; `.x` is a name.
    if (num !== null || (name !== null && name[0] !== '.')) {
      const src = (num ?? name)?.[0] ?? '';
      out.push({ kind: num !== null ? 'number' : 'name', value: src, start: i, end: i + src.length });
      i += src.length;
      continue;
    }
    if (c === "'" || c === '"') {
      const s = readString(text, i);
      out.push({ kind: 'string', value: s.value, start: i, end: s.end });
      i = s.end;
      continue;
    }
    const op = OPS.find((o) => rest.startsWith(o));
    if (op !== undefined) {
      out.push({ kind: 'op', value: op, start: i, end: i + op.length });
      i += op.length;
      continue;
    }
    const ascii = Object.hasOwn(LOOKALIKES, c) ? LOOKALIKES[c] : undefined;
    if (ascii !== undefined) throw lookalikeError(text, i, c, ascii);
    const ch = String.fromCodePoint(text.codePointAt(i) ?? 0);
    throw formulaError(
      'QUERY_SYNTAX',
      text,
      { start: i, end: i + ch.length },
      `unexpected character ${JSON.stringify(ch)}`,
      'a formula is written response ~ term + term, with column names, a:b interactions, -1 and offset(col)',
      { near: ch },
    );
  }
  out.push({ kind: 'end', value: '', start: text.length, end: text.length });
  return out;
}
