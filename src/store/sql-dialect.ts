/**
 * The few places where SQL engines differ for the queries fedstat compiles: identifier quoting,
 * parameter placeholders, the types of category codes and exact sums, and how a dataset's table is
 * named. compile-sql.ts builds text only through a dialect, so adding an engine is one object.
 */

/** The SQL types compile-sql casts to. */
export type SqlType = 'code' | 'integer' | 'sum' | 'text';

export interface SqlDialect {
  readonly name: 'duckdb' | 'postgres';
  /** A double-quoted identifier; refuses names a quoted identifier cannot carry. */
  quoteIdent(name: string): string;
  /** The placeholder of the `index`-th bound parameter (1-based). */
  param(index: number): string;
  /** `CAST(expr AS <type>)` in this engine's spelling. */
  cast(expr: string, type: SqlType): string;
  /** The (quoted, possibly qualified) table that holds a dataset. */
  table(dataset: string): string;
  /**
   * The sum of a DOUBLE expression, compensated where the engine can: its float error is then
   * about 2u·Σ|x| whatever the number of rows (a DP GLM round's noise allows for no more).
   */
  floatSum(expr: string): string;
  /** log(y!) of a DOUBLE expression holding a whole number y ≥ 0 (a Poisson row's saturated term). */
  logFactorial(expr: string): string;
}

/** Standard SQL identifier quoting: wrap in double quotes and double any embedded quote. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.length > 255 || name.includes('\u0000')) {
    throw new RangeError(`cannot quote identifier ${JSON.stringify(name.slice(0, 40))}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

function dollarParam(index: number): string {
  if (!Number.isSafeInteger(index) || index < 1)
    throw new RangeError(`parameter index must be a positive integer, got ${index}`);
  return `$${index}`;
}

function makeDialect(
  name: SqlDialect['name'],
  types: Readonly<Record<SqlType, string>>,
  floatSum: (expr: string) => string,
  logFactorial: (expr: string) => string,
): SqlDialect {
  return Object.freeze({
    name,
    quoteIdent,
    param: dollarParam,
    cast: (expr: string, type: SqlType) => `CAST(${expr} AS ${types[type]})`,
    table: (dataset: string) => quoteIdent(dataset),
    floatSum,
    logFactorial,
  });
}

/**
 * log(y!) without a log-gamma function (PostgreSQL has none before 18), as learn/family.ts
 * computes it: for y < 64 the logarithm of the exact NUMERIC factorial, correctly rounded; beyond,
 * Stirling's series with four correction terms (relative error below 1e-17). CASE evaluates only
 * the branch a row takes, so no factorial of a large y is ever computed.
 */
function stirlingLogFactorial(y: string): string {
  const d = (text: string): string => `CAST(${text} AS DOUBLE PRECISION)`;
  const n = `(${y} + 1.0)`;
  const inv2 = `(1.0 / (${n} * ${n}))`;
  const tail = `(1.0 / ${n}) * (${d('1.0 / 12.0')} - ${inv2} * (${d('1.0 / 360.0')} - ${inv2} * (${d('1.0 / 1260.0')} - ${inv2} / 1680.0)))`;
  const stirling = `((${n} - 0.5) * LN(${n}) - ${n} + 0.5 * LN(2.0 * PI()) + ${tail})`;
  return `CASE WHEN ${y} < 64.0 THEN ${d(`LN(CAST(factorial(CAST(${y} AS BIGINT)) AS NUMERIC))`)} ELSE ${stirling} END`;
}

/**
 * DuckDB: category codes are USMALLINT, integers BIGINT, sums HUGEINT (128-bit, so SUM over
 * maxRows × 2^53 values cannot overflow; DuckDB returns both COUNT and HUGEINT as JS bigint).
 */
export const DUCKDB_DIALECT: SqlDialect = makeDialect(
  'duckdb',
  { code: 'USMALLINT', integer: 'BIGINT', sum: 'HUGEINT', text: 'VARCHAR' },
  // Kahan summation (DuckDB's fsum), compensated within each thread's partial sum.
  (expr) => `kahan_sum(${expr})`,
  (expr) => `LGAMMA(${expr} + 1.0)`,
);

/**
 * PostgreSQL: no unsigned types (codes < 4096 fit SMALLINT); NUMERIC sums are exact.
 *
 * PostgreSQL has no compensated float sum, so a DOUBLE sum is made exact instead: each term goes
 * to NUMERIC through its text form, which (with `extra_float_digits` ≥ 1, as the store pins it)
 * is the shortest decimal that reads back as the same double, so within half an ulp of it; the
 * NUMERIC sum of those is exact, and one rounding back to DOUBLE follows. Error ≤ u·Σ|x| + u·|Σx|
 * ≤ 2u·Σ|x|, the bound the DuckDB sum has (plus 2^-1075 per term for subnormal terms, whose rounding is
 * absolute). (A direct float8 → numeric cast keeps only 15 digits.)
 */
export const POSTGRES_DIALECT: SqlDialect = makeDialect(
  'postgres',
  { code: 'SMALLINT', integer: 'BIGINT', sum: 'NUMERIC', text: 'TEXT' },
  (expr) => `CAST(SUM(CAST(CAST(${expr} AS TEXT) AS NUMERIC)) AS DOUBLE PRECISION)`,
  stirlingLogFactorial,
);

/** A copy of `dialect` whose tables live under `qualifier` (catalog and/or schema names). */
export function qualifiedDialect(dialect: SqlDialect, qualifier: readonly string[]): SqlDialect {
  const prefix = qualifier.map((q) => dialect.quoteIdent(q) + '.').join('');
  return Object.freeze({ ...dialect, table: (dataset: string) => prefix + dialect.quoteIdent(dataset) });
}
