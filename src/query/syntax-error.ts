/**
 * Turns node-sql-parser's (PEG.js) syntax errors into one-line QUERY_SYNTAX errors:
 * `syntax error at 1:24 near "residents": expected FROM, WHERE, GROUP BY, "," or end of input;
 * did you mean FROM instead of "FORM"?`. The grammar's full expectation list runs to dozens of
 * entries from dialects we refuse anyway, so only the tokens of fedstat's subset are listed.
 */
import { FedstatError } from '../errors.js';
import { oneLine, positionAt } from './query-error.js';
import { tokenize } from './sql-lexer.js';
import { editDistance } from './suggest.js';

/** The parts of a PEG.js SyntaxError we read (checked at runtime, never trusted). */
interface PegExpectation {
  readonly type: string;
  readonly text?: unknown;
  readonly description?: unknown;
  readonly parts?: unknown;
}

/** Tokens of the accepted subset, in the order they are listed. */
const SUBSET = [
  'SELECT',
  'FROM',
  'WHERE',
  'GROUP',
  'BY',
  'AS',
  'AND',
  'OR',
  'NOT',
  'IN',
  'BETWEEN',
  '(',
  ')',
  ',',
  '=',
  '<>',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
] as const;

/** Keywords for "did you mean" (aggregates included: they are typed, if never listed). */
const KEYWORDS: readonly string[] = [...SUBSET.filter((t) => /^[A-Z]+$/.test(t)), 'COUNT', 'SUM', 'AVG'];

/** Full-width and typographic characters that Chinese input methods produce in place of ASCII. */
const LOOKALIKES: Readonly<Record<string, string>> = {
  '，': ',',
  '（': '(',
  '）': ')',
  '；': ';',
  '＝': '=',
  '＜': '<',
  '＞': '>',
  '＊': '*',
  '‘': "'",
  '’': "'",
  '“': '"',
  '”': '"',
  '\u3000': ' ',
  '\u00a0': ' ',
  '！': '!',
};

function expectedTokens(expected: unknown): { listed: string[]; words: string[] } {
  const literals = new Set<string>();
  let end = false;
  let value = false;
  if (Array.isArray(expected)) {
    for (const e of expected as unknown[]) {
      if (typeof e !== 'object' || e === null) continue;
      const x = e as PegExpectation;
      if (x.type === 'end') end = true;
      if (x.type === 'literal' && typeof x.text === 'string') literals.add(x.text.toUpperCase());
      // The grammar expects a value as a quote or a digit class.
      if ((x.type === 'literal' && x.text === "'") || (x.type === 'class' && JSON.stringify(x.parts) === '[["0","9"]]'))
        value = true;
    }
  }
  const listed: string[] = [];
  for (const t of SUBSET) {
    if (!literals.has(t)) continue;
    if (t === 'BY' && literals.has('GROUP')) continue;
    listed.push(t === 'GROUP' ? 'GROUP BY' : /^[A-Z]/.test(t) ? t : `"${t}"`);
  }
  if (value) listed.unshift('a value');
  if (end) listed.push('end of input');
  return { listed, words: KEYWORDS.filter((k) => literals.has(k)) };
}

/** The token starting at `offset`: a word, a quoted run, or a run of other non-space characters. */
function tokenAt(sql: string, offset: number): string {
  const rest = sql.slice(offset);
  const word = /^[\p{L}\p{N}_$]+/u.exec(rest);
  if (word !== null) return word[0];
  const q = /^(['"`])[^]*?(\1|$)/u.exec(rest);
  if (q !== null && q[0].length <= 24) return q[0];
  return /^[^\s\p{L}\p{N}_]+/u.exec(rest)?.[0] ?? rest.slice(0, 1);
}

/**
 * A hint for the last full-width or typographic character at or before the error. The grammar
 * takes any character from U+0080 on as part of a name, so `age\u3000=` (an ideographic space) fails
 * only after the character: look back, not just at the error.
 */
function lookalikeHint(sql: string, offset: number): string | null {
  // Inside a string literal a full-width character is data, not a typo.
  const strings = tokenize(sql).filter((t) => t.kind === 'string');
  for (let i = Math.min(offset, sql.length - 1); i >= 0; i--) {
    if (strings.some((t) => i > t.start && i < t.end - 1)) continue;
    const ch = sql.charAt(i);
    const ascii = Object.hasOwn(LOOKALIKES, ch) ? LOOKALIKES[ch] : undefined;
    if (ascii !== undefined) {
      const at = positionAt(sql, i);
      return `"${ch}" (U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}) at ${at.line}:${at.column} is not ASCII: type "${ascii}" instead`;
    }
  }
  return null;
}

/** The word that ends just before `offset` (skipping spaces), as in `FORM` of `COUNT(*) FORM r`. */
function wordBefore(sql: string, offset: number): { word: string; at: number } | null {
  const m = /([\p{L}_][\p{L}\p{N}_]*)\s*$/u.exec(sql.slice(0, offset));
  return m?.[1] === undefined ? null : { word: m[1], at: m.index };
}

/**
 * `WHERE age > GROUP BY district` fails at BY: the grammar took GROUP for a column name. When the
 * word before the error is GROUP or ORDER and BY is not what the grammar expects next, the real
 * mistake is just before that word.
 */
function missingBeforeHint(
  sql: string,
  before: { word: string; at: number } | null,
  expectedWords: readonly string[],
): string | null {
  const w = before?.word.toUpperCase();
  if (before === null || (w !== 'GROUP' && w !== 'ORDER') || expectedWords.includes('BY')) return null;
  const at = positionAt(sql, before.at);
  return `something is missing before ${before.word.toUpperCase()} at ${at.line}:${at.column}`;
}

function keywordHint(typed: string | null, expectedWords: readonly string[]): string | null {
  if (typed === null || typed.length < 2) return null;
  const upper = typed.toUpperCase();
  if (KEYWORDS.includes(upper)) return null;
  // Prefer what the grammar expects here; fall back to any clause keyword of the subset.
  for (const pool of [expectedWords, KEYWORDS]) {
    const hit = pool.find((k) => k.length >= 3 && editDistance(upper, k) <= (k.length > 4 ? 2 : 1));
    if (hit !== undefined) return `did you mean ${hit} instead of "${oneLine(typed, 30)}"?`;
  }
  return null;
}

/**
 * The QUERY_SYNTAX error for a PEG.js SyntaxError thrown while parsing `sql`.
 * Details: `{line, column, offset, near, expected}`.
 */
export function syntaxError(
  sql: string,
  err: { readonly location?: unknown; readonly expected?: unknown },
  cause: unknown,
): FedstatError {
  const loc = err.location as { start?: { offset?: unknown } } | undefined;
  const rawOffset = loc?.start?.offset;
  const offset = typeof rawOffset === 'number' && Number.isInteger(rawOffset) ? rawOffset : sql.length;
  const at = positionAt(sql, offset);
  const atEnd = sql.slice(offset).trim() === '';
  const near = atEnd ? null : tokenAt(sql, offset);
  const { listed, words } = expectedTokens(err.expected);

  const parts = [
    `syntax error at ${at.line}:${at.column} ${near === null ? '(unexpected end of input)' : `near "${oneLine(near, 30)}"`}`,
  ];
  if (listed.length > 0)
    parts[0] += `: expected ${listed.length === 1 ? listed[0] : `${listed.slice(0, -1).join(', ')} or ${listed.at(-1)}`}`;

  const before = wordBefore(sql, offset);
  const hint =
    lookalikeHint(sql, offset) ??
    missingBeforeHint(sql, before, words) ??
    keywordHint(before?.word ?? null, words) ??
    (near === null ? null : keywordHint(near, words));
  if (hint !== null) parts.push(hint);

  return new FedstatError('QUERY_SYNTAX', parts.join('; '), {
    cause,
    details: { line: at.line, column: at.column, offset: at.offset, near, expected: listed },
  });
}
