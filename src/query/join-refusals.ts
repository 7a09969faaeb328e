/**
 * Join forms refused on tokens, before the SQL parser sees them. Some do not parse at all in
 * node-sql-parser's Trino grammar (`LEFT ANTI JOIN`, `EXCEPT`, `EXISTS` without NOT); worse, some
 * parse as something else: `FROM a ANTI JOIN b`, `a CROSS JOIN b` and `a NATURAL JOIN b` read the
 * keyword as the alias of `a` and become inner joins. So they are named here, at their keyword.
 */
import { positionAt, queryInvalid } from './query-error.js';
import { isKeyword } from './sql-lexer.js';
import type { Token } from './sql-lexer.js';

/** The fix for every way of writing an anti-join other than NOT EXISTS. */
export const ANTI_FIX = 'write the anti-join as WHERE NOT EXISTS (SELECT 1 FROM … WHERE ….id = ….id)';
/** The fix for joins other than the inner join on ids. */
export const INNER_FIX =
  'fedstat links records with [INNER] JOIN … ON x.id = y.id, and counts records without a match with WHERE NOT EXISTS (SELECT 1 FROM … WHERE ….id = ….id)';

const CLAUSE_END = new Set(['WHERE', 'GROUP', 'HAVING', 'ORDER', 'LIMIT', 'WINDOW', 'UNION', 'EXCEPT', 'INTERSECT']);

/** True when tokens i, i+1, ... read `NOT IN ( SELECT` or `IN ( SELECT` from `i`. */
function inSubquery(tokens: readonly Token[], i: number): boolean {
  return isKeyword(tokens[i], 'IN') && tokens[i + 1]?.text === '(' && isKeyword(tokens[i + 2], 'SELECT');
}

/** True when `tokens[i]` is one of `words` starting a set operation (`EXCEPT SELECT …`, `MINUS ALL (…)`). */
function setOperation(tokens: readonly Token[], i: number, words: readonly string[]): boolean {
  const next = tokens[i + 1];
  return (
    words.some((w) => isKeyword(tokens[i], w)) &&
    (next?.text === '(' || ['SELECT', 'ALL', 'DISTINCT'].some((w) => isKeyword(next, w)))
  );
}

/** The index of the JOIN that `tokens[i]` starts (`LEFT [OUTER] JOIN`, `ANTI JOIN`), or -1. */
function joinAfter(tokens: readonly Token[], i: number): number {
  for (let j = i + 1; j <= i + 2; j++) {
    if (isKeyword(tokens[j], 'JOIN')) return j;
    const t = tokens[j];
    if (t === undefined || !['OUTER', 'ANTI', 'SEMI', 'INNER'].includes(t.text.toUpperCase())) return -1;
  }
  return -1;
}

/** True when the FROM clause lists two tables with a comma (`FROM a, b`). */
function commaInFrom(tokens: readonly Token[]): boolean {
  const from = tokens.findIndex((t) => isKeyword(t, 'FROM'));
  let depth = 0;
  for (const t of tokens.slice(from < 0 ? tokens.length : from + 1)) {
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    else if (depth === 0 && (t.text === ';' || (t.kind === 'word' && CLAUSE_END.has(t.text.toUpperCase())))) break;
    else if (depth === 0 && t.text === ',') return true;
  }
  return false;
}

/**
 * True when `sql` asks for linked records: a JOIN, a second table after a comma, EXISTS, an anti
 * or semi join, EXCEPT/MINUS, or `NOT IN (SELECT …)`. Token-level, never throws: the caller routes
 * such text to parseJoinQuery (which accepts or refuses it with the fix) and the rest to parseQuery.
 */
export function joinTokens(tokens: readonly Token[]): boolean {
  return (
    commaInFrom(tokens) ||
    tokens.some(
      (t, i) =>
        isKeyword(t, 'JOIN') ||
        isKeyword(t, 'EXISTS') ||
        ((isKeyword(t, 'ANTI') || isKeyword(t, 'SEMI')) && isKeyword(tokens[i + 1], 'JOIN')) ||
        setOperation(tokens, i, ['EXCEPT', 'MINUS']) ||
        (isKeyword(t, 'NOT') && inSubquery(tokens, i + 1)),
    )
  );
}

/** Throws QUERY_INVALID for the join forms fedstat does not compute, at their keyword. */
export function refuseJoinTokens(sql: string, tokens: readonly Token[]): void {
  const at = (t: Token) => positionAt(sql, t.start);
  const isNull = tokens.some((t, i) => isKeyword(t, 'IS') && isKeyword(tokens[i + 1], 'NULL'));
  tokens.forEach((t, i) => {
    if (t.kind !== 'word') return;
    const w = t.text.toUpperCase();
    const prev = tokens[i - 1];
    if ((w === 'ANTI' || w === 'SEMI') && isKeyword(tokens[i + 1], 'JOIN')) {
      throw queryInvalid(`${w} JOIN is not supported`, at(t), w === 'ANTI' ? ANTI_FIX : INNER_FIX);
    }
    if (setOperation(tokens, i, ['EXCEPT', 'MINUS'])) throw queryInvalid(`${w} is not supported`, at(t), ANTI_FIX);
    if (w === 'NOT' && inSubquery(tokens, i + 1))
      throw queryInvalid('NOT IN (SELECT …) is not supported', at(t), ANTI_FIX);
    if (w === 'IN' && !isKeyword(prev, 'NOT') && inSubquery(tokens, i)) {
      throw queryInvalid('IN (SELECT …) is not supported', at(t), INNER_FIX);
    }
    if (w === 'EXISTS' && !isKeyword(prev, 'NOT')) {
      throw queryInvalid(
        'EXISTS without NOT is not supported',
        at(t),
        `to count linked records write JOIN … ON x.id = y.id; for records without a match write WHERE NOT EXISTS (…)`,
      );
    }
    if ((w === 'LEFT' || w === 'RIGHT' || w === 'FULL') && joinAfter(tokens, i) >= 0) {
      const anti = tokens.slice(i + 1, joinAfter(tokens, i)).find((x) => isKeyword(x, 'ANTI') || isKeyword(x, 'SEMI'));
      if (anti !== undefined)
        throw queryInvalid(
          `${w} ${anti.text.toUpperCase()} JOIN is not supported`,
          at(t),
          isKeyword(anti, 'ANTI') ? ANTI_FIX : INNER_FIX,
        );
      if (w === 'LEFT' && isNull) throw queryInvalid('LEFT JOIN … WHERE … IS NULL is not supported', at(t), ANTI_FIX);
      throw queryInvalid(`${w} JOIN is not supported`, at(t), INNER_FIX);
    }
    if ((w === 'CROSS' || w === 'NATURAL') && joinAfter(tokens, i) >= 0) {
      throw queryInvalid(`${w} JOIN is not supported`, at(t), INNER_FIX);
    }
    if (w === 'USING' && tokens.slice(0, i).some((x) => isKeyword(x, 'JOIN'))) {
      throw queryInvalid(
        'JOIN … USING (…) is not supported',
        at(t),
        'write ON x.id = y.id naming the id column of each dataset',
      );
    }
    if (setOperation(tokens, i, ['INTERSECT'])) throw queryInvalid('INTERSECT is not supported', at(t), INNER_FIX);
  });
}
