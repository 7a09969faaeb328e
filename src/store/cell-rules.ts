/**
 * The two validators of a CSV cell, both derived from the one definition in cell-spec.ts: a
 * DuckDB expression that converts a raw cell to its stored value or NULL when invalid (run over
 * millions of rows at once), and a JS function that says why a raw cell is invalid (run only on
 * the few rows that are reported), whose reason is the first check of the list that fails. SQL
 * leaves out only checks that another check implies (`impliedInSql`).
 *
 * Stored values: a category as its position in the declared list (USMALLINT), an integer as
 * BIGINT, an id as VARCHAR. DuckDB reads an empty field (quoted or not) as NULL, and every
 * expression yields NULL for NULL.
 */
import type { Column } from '../federation/schema.js';
import { isValidGb11643 } from '../util/gb11643.js';
import { describeNonTextChar, firstNonTextChar, nonTextClass } from '../util/text-chars.js';
import { cellChecks, impliedInSql } from './cell-spec.js';
import { gb11643Sql } from './gb11643-sql.js';
import type { CellCheck } from './cell-spec.js';

/** SQL for one column: helper expressions for an inner SELECT, and the converting expression. */
export interface CellSql {
  /** `expr AS "name"` items evaluated once per row below `convert` (DuckDB does not share subexpressions). */
  readonly helpers: readonly string[];
  /** The stored value, or NULL when the cell is invalid. */
  readonly convert: string;
}

/** SQL of one check: helper items, a condition that must hold, or the stored value it yields. */
interface CheckSql {
  readonly helpers?: readonly string[];
  readonly cond?: string;
  readonly stored?: string;
}

/** Context for `checkSql`: the raw cell, the helper-name tag, the ENUM of a category, parameter binding. */
interface SqlContext {
  readonly raw: string;
  readonly tag: string;
  readonly enumType: string | null;
  readonly bind: (v: number) => string;
}

const NON_TEXT_RE2 = nonTextClass('re2');

function checkSql(check: CellCheck, ctx: SqlContext): CheckSql {
  const { raw, tag } = ctx;
  const n = `"n${tag}"`; // the cell as BIGINT, for integer checks
  const asBigint = `TRY_CAST(${raw} AS BIGINT) AS ${n}`;
  switch (check.kind) {
    case 'present':
      return { cond: `length(${raw}) > 0` };
    case 'text':
      return { cond: `NOT regexp_matches(${raw}, '${NON_TEXT_RE2}')` };
    case 'pattern': {
      const match = `regexp_full_match(${raw}, '${check.source}')`;
      // The decimal text of a BIGINT matches: a canonical round trip settles almost every cell.
      return check.canonicalIntegers
        ? { helpers: [asBigint], cond: `(CAST(${n} AS VARCHAR) = ${raw} OR ${match})` }
        : { cond: match };
    }
    case 'range':
      return { helpers: [asBigint], cond: `${n} BETWEEN ${ctx.bind(check.min)} AND ${ctx.bind(check.max)}`, stored: n };
    case 'member': {
      if (ctx.enumType === null) throw new RangeError('a category column needs its ENUM type');
      // Exact match first (a declared value is text); normalise only the text cells that miss.
      const normalised = `CASE WHEN NOT regexp_matches(${raw}, '${NON_TEXT_RE2}') THEN TRY_CAST(nfc_normalize(${raw}) AS ${ctx.enumType}) END`;
      return { stored: `CAST(enum_code(COALESCE(TRY_CAST(${raw} AS ${ctx.enumType}), ${normalised})) AS USMALLINT)` };
    }
    case 'gb11643':
      return gb11643Sql(raw, tag);
  }
}

/**
 * DuckDB SQL converting the raw VARCHAR cell `raw` (a quoted column name) of `col`; `tag` makes
 * helper names unique, `enumType` is the ENUM holding a category's values in order, and `bind`
 * returns the placeholder of a bound parameter.
 */
export function cellSql(
  col: Column,
  raw: string,
  tag: string,
  enumType: string | null,
  bind: (v: number) => string,
): CellSql {
  const checks = cellChecks(col);
  const ctx: SqlContext = { raw, tag, enumType, bind };
  const helpers = new Set<string>();
  const conds: string[] = [];
  let stored = raw;
  for (const check of checks) {
    if (impliedInSql(check, checks)) continue;
    const sql = checkSql(check, ctx);
    for (const h of sql.helpers ?? []) helpers.add(h);
    if (sql.cond !== undefined) conds.push(sql.cond);
    if (sql.stored !== undefined) stored = sql.stored;
  }
  return {
    helpers: [...helpers],
    convert: conds.length === 0 ? stored : `(CASE WHEN ${conds.join(' AND ')} THEN ${stored} END)`,
  };
}

const SHOWN_LENGTH = 40;
// Characters that print as nothing or move the cursor: escaped so a message shows what is there.
const INVISIBLE = /[\p{C}\p{Z}]/gu;

function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`;
}

/** A raw value as shown in messages: JSON-quoted, invisible characters escaped (`\ufeff`), cut at 40. */
export function showValue(raw: string): string {
  const chars = [...raw];
  const json = JSON.stringify(chars.length > SHOWN_LENGTH ? chars.slice(0, SHOWN_LENGTH).join('') + '…' : raw);
  return json.replace(INVISIBLE, (ch) => (ch === ' ' ? ch : escapeChar(ch)));
}

function listValues(values: readonly string[]): string {
  const shown = values
    .slice(0, 8)
    .map((v) => [...v].slice(0, 20).join(''))
    .join(', ');
  return values.length > 8 ? `${shown}, … (${values.length} in all)` : shown;
}

const compiled = new Map<string, RegExp>();
function fullMatch(source: string, raw: string): boolean {
  let re = compiled.get(source);
  if (re === undefined) compiled.set(source, (re = new RegExp(`^(?:${source})$`)));
  return re.test(raw);
}

/** Why `raw` fails `check` (a phrase naming the value), or null when it passes. */
function checkFailure(check: CellCheck, raw: string): string | null {
  switch (check.kind) {
    case 'present':
      return raw === '' ? 'empty value' : null;
    case 'text': {
      const bad = firstNonTextChar(raw);
      return bad === null
        ? null
        : `value has ${describeNonTextChar(bad.codePoint)} at character ${bad.position}, which no column accepts`;
    }
    case 'pattern':
      return fullMatch(check.source, raw) ? null : `value ${showValue(raw)} is not ${check.what}`;
    case 'range': {
      const v = BigInt(raw);
      return v < BigInt(check.min) || v > BigInt(check.max)
        ? `value ${showValue(raw)} is outside ${check.min}..${check.max}`
        : null;
    }
    case 'member':
      return check.values.includes(raw.normalize('NFC'))
        ? null
        : `value ${showValue(raw)} is not one of the declared values (${listValues(check.values)})`;
    case 'gb11643':
      return isValidGb11643(raw) ? null : `value ${showValue(raw)} is not ${check.what}`;
  }
}

/** Why `raw` is not a valid cell of `col` (the first check it fails), or null when it is valid. */
export function diagnoseCell(col: Column, raw: string | null): string | null {
  if (raw === null) return 'empty value';
  for (const check of cellChecks(col)) {
    const failure = checkFailure(check, raw);
    if (failure !== null) return failure;
  }
  return null;
}
