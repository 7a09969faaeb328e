/**
 * The validation rule of each column type, twice: as a DuckDB expression that converts a raw CSV
 * cell to its stored value or NULL when invalid (run over millions of rows at once), and as a JS
 * function that says why a raw cell is invalid (run only on the few rows that are reported). They
 * sit side by side so they stay the same rule; a test checks them against each other.
 *
 * - category: the value, NFC-normalised, must be one of the declared values; stored as its
 *   position in that list (USMALLINT).
 * - integer: optional minus and ASCII digits only (leading zeros allowed; no plus, spaces,
 *   decimals, exponents, underscores or hex, all of which DuckDB's own cast would accept), inside
 *   [min, max]; stored as BIGINT.
 * - id: non-empty; `gb11643` also needs 17 digits, a check character, a real birth date from 1900.
 *   Stored as VARCHAR.
 * DuckDB reads an empty field (quoted or not) as NULL, so every rule rejects NULL.
 */
import type { Column } from '../federation/schema.js';
import { isValidGb11643 } from '../util/gb11643.js';

/** SQL for one column: helper expressions for an inner SELECT, and the converting expression. */
export interface CellSql {
  /** `expr AS "name"` items evaluated once per row below `convert` (DuckDB does not share subexpressions). */
  readonly helpers: readonly string[];
  /** The stored value, or NULL when the cell is invalid. */
  readonly convert: string;
}

const GB_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;

/**
 * Σ digit·weight over the digits `from..to` (1-based) of an ID, mod-11 terms from the integer `x`
 * those digits form. GB 11643 weights are 2^k mod 11, so within a run of K digits ending in weight
 * w the sum is w·(x − 4·Σ_{k=1}^{K−1} 2^k·⌊x/10^k⌋): one division per digit instead of a division
 * and a modulo, which halves the cost of the check at 10M rows.
 */
function checksumTerms(x: string, from: number, to: number): string[] {
  const w = GB_WEIGHTS[to - 1] ?? 0;
  const terms = [`${w} * ${x}`];
  for (let k = 1; k <= to - from; k++) {
    const coef = (((-4 * 2 ** k * w) % 11) + 11) % 11;
    if (coef !== 0) terms.push(`${coef} * (${x} // ${10 ** k})`);
  }
  return terms;
}

/**
 * DuckDB SQL converting the raw VARCHAR cell `raw` (a quoted column name) of `col`; `tag` makes
 * helper names unique, `enumType` is the ENUM holding a category's values in order, and `bind`
 * returns the placeholder of a bound parameter.
 */
export function cellSql(col: Column, raw: string, tag: string, enumType: string | null, bind: (v: number) => string): CellSql {
  switch (col.type) {
    case 'category': {
      if (enumType === null) throw new RangeError('a category column needs its ENUM type');
      // Exact match first; normalise only the cells that miss (COALESCE evaluates lazily).
      return {
        helpers: [],
        convert: `CAST(enum_code(COALESCE(TRY_CAST(${raw} AS ${enumType}), TRY_CAST(nfc_normalize(${raw}) AS ${enumType}))) AS USMALLINT)`,
      };
    }
    case 'integer': {
      const n = `"n${tag}"`;
      // A canonical round trip settles almost every cell; the regex only sees the rest (leading zeros, -0).
      return {
        helpers: [`TRY_CAST(${raw} AS BIGINT) AS ${n}`],
        convert: `(CASE WHEN ${n} BETWEEN ${bind(col.min)} AND ${bind(col.max)} AND (CAST(${n} AS VARCHAR) = ${raw} OR regexp_full_match(${raw}, '-?[0-9]+')) THEN ${n} END)`,
      };
    }
    case 'id': {
      if (col.format === 'text') return { helpers: [], convert: `(CASE WHEN length(${raw}) > 0 THEN ${raw} END)` };
      // Region (digits 1-6), birth date YYYYMMDD (7-14), sequence (15-17), check character (18).
      // Each helper parses at most 8 characters (|x| < 10^8), so the weighted sum stays below
      // 1.2·10^9 and fits INTEGER whatever order DuckDB evaluates the conditions in.
      const [a, b, q] = [`"a${tag}"`, `"b${tag}"`, `"q${tag}"`];
      const y = `(${b} // 10000)`;
      const m = `((${b} // 100) % 100)`;
      const d = `(${b} % 100)`;
      const leap = `(${y} % 4 = 0 AND (${y} % 100 <> 0 OR ${y} % 400 = 0))`;
      const daysIn = `(CASE WHEN ${m} = 2 THEN (CASE WHEN ${leap} THEN 29 ELSE 28 END) WHEN ${m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END)`;
      const sum = [...checksumTerms(a, 1, 6), ...checksumTerms(b, 7, 14), ...checksumTerms(q, 15, 17)].join(' + ');
      return {
        helpers: [
          `TRY_CAST(substr(${raw}, 1, 6) AS INTEGER) AS ${a}`,
          `TRY_CAST(substr(${raw}, 7, 8) AS INTEGER) AS ${b}`,
          `TRY_CAST(substr(${raw}, 15, 3) AS INTEGER) AS ${q}`,
        ],
        convert: `(CASE WHEN regexp_full_match(${raw}, '[0-9]{17}[0-9X]') AND ${y} >= 1900 AND ${m} BETWEEN 1 AND 12 AND ${d} BETWEEN 1 AND ${daysIn} AND substr('10X98765432', CAST((${sum}) % 11 AS INTEGER) + 1, 1) = substr(${raw}, 18, 1) THEN ${raw} END)`,
      };
    }
  }
}

const SHOWN_LENGTH = 40;

/** A raw value as shown in messages: JSON-quoted (so control characters are visible), cut at 40. */
export function showValue(raw: string): string {
  const chars = [...raw];
  return JSON.stringify(chars.length > SHOWN_LENGTH ? chars.slice(0, SHOWN_LENGTH).join('') + '…' : raw);
}

function listValues(values: readonly string[]): string {
  const shown = values.slice(0, 8).map((v) => [...v].slice(0, 20).join('')).join(', ');
  return values.length > 8 ? `${shown}, … (${values.length} in all)` : shown;
}

/** Why `raw` is not a valid cell of `col` (a phrase naming the value), or null when it is valid. */
export function diagnoseCell(col: Column, raw: string | null): string | null {
  if (raw === null || raw === '') return 'empty value';
  switch (col.type) {
    case 'category':
      return col.values.includes(raw.normalize('NFC')) ? null : `value ${showValue(raw)} is not one of the declared values (${listValues(col.values)})`;
    case 'integer': {
      if (!/^-?[0-9]+$/.test(raw)) return `value ${showValue(raw)} is not a plain decimal integer`;
      const v = BigInt(raw);
      return v < BigInt(col.min) || v > BigInt(col.max) ? `value ${showValue(raw)} is outside ${col.min}..${col.max}` : null;
    }
    case 'id':
      if (col.format === 'text' || isValidGb11643(raw)) return null;
      return `value ${showValue(raw)} is not a valid GB 11643 citizen ID (17 digits with a real birth date, then the check character)`;
  }
}
