/**
 * The reference meaning of a WHERE predicate on one plaintext row: what every engine (DuckDB,
 * PostgreSQL, the demo's plaintext check, tests) must agree with. Deliberately plain: no
 * compilation, no short cuts beyond JavaScript's own && and ||.
 */
import type { Literal, Predicate } from './plan.js';

function cell(row: Readonly<Record<string, string | number>>, column: string, like: Literal): string | number {
  const v = Object.hasOwn(row, column) ? row[column] : undefined;
  if (v === undefined) throw new RangeError(`evaluatePredicate: the row has no column ${column}`);
  if (typeof v !== typeof like)
    throw new TypeError(
      `evaluatePredicate: column ${column} holds a ${typeof v} but is compared with a ${typeof like}`,
    );
  return v;
}

function compare(a: string | number, b: Literal): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * True when `row` satisfies `pred` (null: every row does). Rows map column names to values: strings
 * for category columns, numbers for integer columns. Throws RangeError/TypeError when the row lacks
 * a column or holds a value of the other type (a caller bug, not a data condition).
 */
export function evaluatePredicate(pred: Predicate | null, row: Readonly<Record<string, string | number>>): boolean {
  if (pred === null) return true;
  switch (pred.kind) {
    case 'and':
      return pred.args.every((a) => evaluatePredicate(a, row));
    case 'or':
      return pred.args.some((a) => evaluatePredicate(a, row));
    case 'not':
      return !evaluatePredicate(pred.arg, row);
    case 'compare': {
      const c = compare(cell(row, pred.column, pred.value), pred.value);
      switch (pred.op) {
        case '=':
          return c === 0;
        case '<>':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
      }
      break;
    }
    case 'in': {
      const first = pred.values[0];
      if (first === undefined) return false;
      const v = cell(row, pred.column, first);
      return pred.values.some((x) => x === v);
    }
    case 'between': {
      const v = cell(row, pred.column, pred.low);
      return compare(v, pred.low) >= 0 && compare(v, pred.high) <= 0;
    }
  }
  throw new TypeError('evaluatePredicate: not a predicate');
}
