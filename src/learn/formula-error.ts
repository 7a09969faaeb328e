/**
 * Errors about a model formula, in the form the SQL errors take (src/query/query-error.ts):
 * `<problem> at L:C; <fix>`, one line, with `line`, `column` (from 1) and `offset` in the details.
 * A formula is short, but it may come from a file with newlines, so lines are counted too.
 */
import { FedstatError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/** A stretch of the formula text: UTF-16 offsets, `end` exclusive (`text.slice(start, end)`). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** The line and column (both from 1, columns in UTF-16 code units as editors count) of `offset`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const at = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: at - lineStart + 1 };
}

/** C0, DEL and C1 controls and the Unicode line/paragraph separators: they break a message's line. */
function isControl(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

/** `s` in double quotes on one line: control characters escaped, long text cut with `…`. */
export function quote(s: string, max = 40): string {
  let flat = '';
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    flat += isControl(code) ? `\\u${code.toString(16).padStart(4, '0')}` : s.charAt(i);
  }
  const cps = [...flat];
  return `"${cps.length <= max ? flat : `${cps.slice(0, max - 1).join('')}…`}"`;
}

/**
 * A formula error pointing at `span` (or at nothing when null). `code` is QUERY_SYNTAX for text
 * that does not parse and QUERY_INVALID for a formula that parses but cannot be fitted, as for SQL.
 * `extra` never holds a key `column` (that is the position); a schema column goes in `columnName`.
 */
export function formulaError(
  code: ErrorCode,
  text: string,
  span: Span | null,
  problem: string,
  fix: string | null,
  extra: Readonly<Record<string, unknown>> = {},
): FedstatError {
  const at = span === null ? null : lineColumn(text, span.start);
  const where = at === null ? '' : ` at ${at.line}:${at.column}`;
  const message = `${problem}${where}${fix === null ? '' : `; ${fix}`}`;
  const position = at === null || span === null ? {} : { line: at.line, column: at.column, offset: span.start };
  return new FedstatError(code, message, { details: { ...extra, ...position } });
}
