/**
 * Literal checks shared by the SQL parser and the plan validator: a literal must have its
 * column's type and lie inside the column's declared domain (category values, integer bounds).
 * A value outside the domain can only be a mistake, and refusing it keeps every plan inside the
 * bounds the encryption was sized for.
 */
import type { CategoryColumn, IntegerColumn } from '../federation/schema.js';
import type { Literal } from './plan.js';
import { oneLine, queryInvalid } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import { closest, listNames } from './suggest.js';

// Domains hold up to 4096 values and a plan up to 256 IN lists of 1024: look values up in O(1).
const domains = new WeakMap<CategoryColumn, ReadonlySet<string>>();
function valueSet(column: CategoryColumn): ReadonlySet<string> {
  let set = domains.get(column);
  if (set === undefined) {
    set = new Set(column.values);
    domains.set(column, set);
  }
  return set;
}

/** How a literal is shown in messages: strings in single quotes, one line. */
function showLiteral(v: unknown): string {
  if (typeof v === 'string') return `'${oneLine(v, 40)}'`;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return typeof v;
}

/**
 * Returns `value` when it is a valid literal for the column; otherwise throws QUERY_INVALID naming
 * the column, its domain and, for categories, the closest valid values.
 */
export function checkLiteral(
  dataset: string,
  name: string,
  column: CategoryColumn | IntegerColumn,
  value: unknown,
  at: SourcePosition | null,
): Literal {
  const col = `${dataset}.${name}`;
  if (column.type === 'category') {
    if (typeof value !== 'string') {
      throw queryInvalid(
        `${col} is a category column, so ${showLiteral(value)} cannot match it`,
        at,
        `compare it with a quoted value: ${listNames(
          column.values.map((v) => `'${oneLine(v, 40)}'`),
          8,
        )}`,
        { columnName: name, domain: column.values.slice(0, 50) },
      );
    }
    if (!valueSet(column).has(value)) {
      const near = closest(value, column.values, 3);
      throw queryInvalid(
        `${showLiteral(value)} is not a value of ${col}`,
        at,
        `valid values: ${listNames(
          column.values.map((v) => oneLine(v, 40)),
          20,
        )}${near.length > 0 ? ` (closest: ${near.join(', ')})` : ''}`,
        { columnName: name, value, domain: column.values.slice(0, 50), closest: near },
      );
    }
    return value;
  }
  if (typeof value !== 'number') {
    const hint =
      typeof value === 'string' && /^-?\d+$/.test(value.trim())
        ? `write ${value.trim()} without quotes`
        : `compare it with a whole number between ${column.min} and ${column.max}`;
    throw queryInvalid(`${col} is an integer column, so ${showLiteral(value)} cannot match it`, at, hint, {
      columnName: name,
      min: column.min,
      max: column.max,
    });
  }
  if (!Number.isSafeInteger(value)) {
    throw queryInvalid(
      `${showLiteral(value)} is not a whole number`,
      at,
      `compare ${col} with a whole number between ${column.min} and ${column.max}`,
      { columnName: name, min: column.min, max: column.max },
    );
  }
  if (value < column.min || value > column.max) {
    throw queryInvalid(
      `${value} is outside the range of ${col} (${column.min}..${column.max})`,
      at,
      `use a value between ${column.min} and ${column.max}`,
      { columnName: name, value, min: column.min, max: column.max },
    );
  }
  // -0 and 0 are one value; keep plans free of -0 so they compare and serialise equal.
  return value === 0 ? 0 : value;
}
