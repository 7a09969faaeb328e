/**
 * Error construction for the query language: positions in the SQL text and one-line quoting of
 * the user's own snippets (a string literal may hold a newline; a message never does).
 */
import { FedstatError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/** A point in the SQL text: `offset` in UTF-16 code units, `line` and `column` from 1. */
export interface SourcePosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** The line and column of `offset` in `sql` (columns count UTF-16 code units, as editors do). */
export function positionAt(sql: string, offset: number): SourcePosition {
  const at = Math.max(0, Math.min(offset, sql.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    if (sql.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return Object.freeze({ offset: at, line, column: at - lineStart + 1 });
}

/** C0, DEL and C1 controls and the Unicode line/paragraph separators: they break a line. */
function isControl(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

/** `text` with every control character written as `\uXXXX`. */
export function escapeControls(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    out += isControl(code) ? `\\u${code.toString(16).padStart(4, '0')}` : text.charAt(i);
  }
  return out;
}

/** `text` on one line: control characters become `\uXXXX`, and long text is cut with `…`. */
export function oneLine(text: string, max = 60): string {
  const flat = escapeControls(text);
  const cps = [...flat];
  return cps.length <= max ? flat : `${cps.slice(0, max - 1).join('')}…`;
}

/** A user snippet in double quotes, on one line. */
export function quoted(text: string, max = 60): string {
  return `"${oneLine(text, max)}"`;
}

/**
 * A FedstatError whose message reads `<problem> at L:C; <fix>` and whose details carry the
 * position (`line`, `column`, `offset`, when known) beside `extra` (which names a schema column
 * `columnName`, never `column`).
 */
function queryError(
  code: ErrorCode,
  problem: string,
  at: SourcePosition | null,
  fix: string | null,
  extra: Readonly<Record<string, unknown>> = {},
): FedstatError {
  const where = at === null ? '' : ` at ${at.line}:${at.column}`;
  const message = `${problem}${where}${fix === null ? '' : `; ${fix}`}`;
  const details = at === null ? { ...extra } : { ...extra, line: at.line, column: at.column, offset: at.offset };
  return new FedstatError(code, message, { details });
}

/** QUERY_INVALID: valid SQL that is not a valid fedstat query. */
export function queryInvalid(
  problem: string,
  at: SourcePosition | null,
  fix: string | null,
  extra: Readonly<Record<string, unknown>> = {},
): FedstatError {
  return queryError('QUERY_INVALID', problem, at, fix, extra);
}
