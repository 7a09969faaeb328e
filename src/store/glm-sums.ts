/**
 * One Newton round's sums (learn/sums.ts `GlmSums`) computed by the agency's own SQL engine, in
 * one statement. The design entries, η, μ, the score, the working weight and the deviance are SQL
 * expressions of exactly what learn/design-row.ts, scaling.ts and family.ts compute in JavaScript,
 * in DOUBLE arithmetic; identifiers come only from the schema through the dialect's quoting, and
 * every value (β, category codes, design column indexes, centres and scales, the η clamp) is a
 * bound parameter, so the text depends on the coding's shape and never on a value.
 *
 * A design column is (category condition) × (integer monomial): the term's category variables at
 * the column's levels, times the product of its scaled integer variables. The statement uses that
 * split to stay cheap at d = 120:
 *
 * 1. per row: the category codes the terms use, each distinct integer monomial m once, y, the
 *    offset, η (clamped), then score s, weight w, deviance and the saturated log-likelihood;
 * 2. `GROUP BY` the category codes (the cells: at most the product of the levels, usually a few
 *    hundred): COUNT(*), Σ s·m per monomial, Σ w·m·m' per pair of monomials, Σ deviance;
 * 3. per cell, each term's one active design column (or NULL: a cell activates at most one column
 *    of a term); then, by UNION ALL over the terms and the pairs of terms, one (j, NULL, Σ s·m_j)
 *    row per cell and active term and one (j, k, Σ w·m_j·m_k) row per cell and active pair,
 *    summed by `GROUP BY j, k`; beside them one row (j NULL) of Σ n, Σ deviance, Σ saturated.
 *
 * The per-row work grows with the number of monomials (integer terms), not with d(d+1)/2, and the
 * statement's text with the number of terms squared, not with d(d+1)/2: the result has one row per
 * entry some cell touches. Entries that are zero by construction (two columns whose conditions
 * need one category column at two levels, as two columns of one term do) get no row and stay 0.
 * Sums are regrouped, so they equal the JavaScript sums to rounding (about 1e-15 relative), not
 * bit for bit.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { ModelCoding } from '../learn/design.js';
import type { FamilyName } from '../learn/family.js';
import { emptySums, packedIndex } from '../learn/sums.js';
import type { GlmSums } from '../learn/sums.js';
import type { IntegerFactor } from '../learn/term-coding.js';
import type { Predicate } from '../query/plan.js';
import { compileWhere } from './compile-where.js';
import type { SqlDialect } from './sql-dialect.js';

const DATASET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Both DuckDB and PostgreSQL spell a 64-bit float this way. */
const DOUBLE = 'DOUBLE PRECISION';

/** A compiled round: the statement, its parameters, and where its rows' entries go. */
export interface CompiledGlmSums {
  readonly sql: string;
  /** Bound in order to `$1..$n`: the WHERE clause's literals first, then the round's values. */
  readonly params: readonly number[];
  /** The number of coefficients. */
  readonly d: number;
  /**
   * The packed positions (learn/sums.ts `packedIndex`) of the information entries that may be
   * non-zero, in order (the flat row `toGlmSums` reads holds them so); every other entry is zero
   * by construction.
   */
  readonly information: readonly number[];
  /** True when the flat row ends with Σ saturated log-likelihood (poisson); 0 for the other families. */
  readonly saturated: boolean;
}

function invalid(problem: string, fix: string): FedstatError {
  return new FedstatError('QUERY_INVALID', `model plan: ${problem}; ${fix}`);
}

function internal(problem: string): FedstatError {
  return new FedstatError('INTERNAL', `store returned ${problem}; please report this`);
}

/** Bound parameters, each distinct value bound once (a placeholder may be used many times). */
class Params {
  readonly values: number[];
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly dialect: SqlDialect,
    prior: readonly number[],
  ) {
    this.values = [...prior];
  }

  private bind(key: string, value: number, cast: (p: string) => string): string {
    let text = this.seen.get(key);
    if (text === undefined) {
      this.values.push(value);
      text = cast(this.dialect.param(this.values.length));
      this.seen.set(key, text);
    }
    return text;
  }

  /** A category code (the value's position in its column's schema list). */
  code(value: number): string {
    return this.bind(`c${value}`, value, (p) => this.dialect.cast(p, 'code'));
  }

  /** A design column's index (0-based), as an INTEGER. */
  index(value: number): string {
    return this.bind(`i${value}`, value, (p) => `CAST(${p} AS INTEGER)`);
  }

  /** A double: β, a centre or scale, a clamp. Keyed by bits, so -0 and 0 stay apart. */
  real(value: number): string {
    if (!Number.isFinite(value)) throw new RangeError('compileGlmSums: a value of the round is not finite');
    return this.bind(`r${Object.is(value, -0) ? '-0' : String(value)}`, value, (p) => `CAST(${p} AS ${DOUBLE})`);
  }
}

/** The coding's columns re-checked against the schema: names, types and category lists. */
function checkColumns(coding: ModelCoding, schema: DatasetSchema): void {
  const need = (name: string, type: 'category' | 'integer', values?: readonly string[]): void => {
    const c = Object.hasOwn(schema.columns, name) ? schema.columns[name] : undefined;
    if (c === undefined || c.type !== type)
      throw invalid(
        `the coding's column ${JSON.stringify(name.slice(0, 64))} is not a ${type} column of the schema`,
        'code the model against this schema',
      );
    if (
      c.type === 'category' &&
      values !== undefined &&
      (c.values.length !== values.length || c.values.some((v, i) => v !== values[i]))
    )
      throw invalid(`the coding's values of ${name} differ from the schema's`, 'code the model against this schema');
  };
  for (const t of coding.terms)
    for (const x of t.factors) need(x.column, x.kind, x.kind === 'category' ? x.values : undefined);
  const r = coding.response;
  need(r.column, r.kind, r.kind === 'category' ? r.values : undefined);
  if (coding.offset !== null) need(coding.offset.column, 'integer');
}

/** A monomial's identity: its integer factors with their centre and scale, in order. */
function monomialKey(ints: readonly IntegerFactor[]): string {
  return JSON.stringify(ints.map((x) => [x.column, x.center, x.scale]));
}

/** What a design column needs of a row: category conditions and an integer monomial. */
interface ColumnShape {
  /** Category column name → the code it must hold. */
  readonly conditions: ReadonlyMap<string, number>;
  /** Index into the monomials (0 is the empty monomial, 1). */
  readonly monomial: number;
  /** The term (-1 for the intercept). */
  readonly term: number;
}

function conflict(a: ColumnShape, b: ColumnShape): boolean {
  for (const [col, code] of a.conditions) {
    const other = b.conditions.get(col);
    if (other !== undefined && other !== code) return true;
  }
  return false;
}

/** The coding split as the file comment describes: cell keys, distinct monomials, column shapes. */
interface Layout {
  /** The category columns the terms use (GROUP BY keys); column i is `g<i>` after step 1. */
  readonly categories: readonly string[];
  /** The distinct integer monomials, 0 being the empty one; monomial i > 0 is `m<i>`. */
  readonly monomials: readonly (readonly IntegerFactor[])[];
  /** Each term's index into the monomials. */
  readonly termMonomial: readonly number[];
  /** Each design column's shape, in design order. */
  readonly shapes: readonly ColumnShape[];
}

function layoutOf(coding: ModelCoding): Layout {
  const categories: string[] = [];
  const monomials: IntegerFactor[][] = [[]];
  const monomialIndex = new Map<string, number>([[monomialKey([]), 0]]);
  const termMonomial = coding.terms.map((t) => {
    for (const x of t.factors) if (x.kind === 'category' && !categories.includes(x.column)) categories.push(x.column);
    const ints = t.factors.filter((x): x is IntegerFactor => x.kind === 'integer');
    const key = monomialKey(ints);
    let i = monomialIndex.get(key);
    if (i === undefined) {
      i = monomials.length;
      monomials.push(ints);
      monomialIndex.set(key, i);
    }
    return i;
  });
  const shapes: ColumnShape[] = coding.columns.map((c) => {
    const conditions = new Map<string, number>();
    const term = coding.terms[c.term];
    term?.factors.forEach((x, k) => {
      if (x.kind === 'category') conditions.set(x.column, c.levels[k] ?? -1);
    });
    return { conditions, monomial: c.term < 0 ? 0 : (termMonomial[c.term] ?? 0), term: c.term };
  });
  return { categories, monomials, termMonomial, shapes };
}

/** `g<i> = code AND …`: the column's category conditions on the cell keys, codes bound. */
function condition(s: ColumnShape, layout: Layout, p: Params): string {
  return [...s.conditions].map(([col, code]) => `g${layout.categories.indexOf(col)} = ${p.code(code)}`).join(' AND ');
}

/** 1. Per row: the category codes g, the monomials m, y and the offset o. */
function rowColumns(coding: ModelCoding, layout: Layout, p: Params, dialect: SqlDialect): string[] {
  const q = (name: string): string => dialect.quoteIdent(name);
  const real = (col: string): string => `CAST(${q(col)} AS ${DOUBLE})`;
  const cols = layout.categories.map((c, i) => `${q(c)} AS g${i}`);
  layout.monomials.forEach((ints, i) => {
    if (i === 0) return;
    cols.push(
      `${ints.map((x) => `((${real(x.column)} - ${p.real(x.center)}) / ${p.real(x.scale)})`).join(' * ')} AS m${i}`,
    );
  });
  const r = coding.response;
  if (r.kind === 'category' && !r.values.includes(r.event))
    throw invalid(`the event of ${r.column} is not one of its values`, 'code the model against this schema');
  cols.push(
    r.kind === 'category'
      ? `CAST(CASE WHEN ${q(r.column)} = ${p.code(r.values.indexOf(r.event))} THEN 1.0 ELSE 0.0 END AS ${DOUBLE}) AS y`
      : `${real(r.column)} AS y`,
  );
  const o = coding.offset;
  cols.push(`${o === null ? `CAST(0.0 AS ${DOUBLE})` : o.log ? `LN(${real(o.column)})` : real(o.column)} AS o`);
  return cols;
}

/** η = offset + Σ x_j β_j, in design order, as design-row.ts + sums.ts add it; clamped if coded so. */
function etaExpression(coding: ModelCoding, layout: Layout, beta: ArrayLike<number>, p: Params): string {
  const etaParts = ['o'];
  if (coding.intercept) etaParts.push(p.real(beta[0] as number));
  coding.terms.forEach((t, ti) => {
    const m = layout.termMonomial[ti] ?? 0;
    let coef: string;
    if ((layout.shapes[t.firstColumn] as ColumnShape).conditions.size === 0) {
      coef = p.real(beta[t.firstColumn] as number); // an integer-only term: one column, no condition
    } else {
      const cases: string[] = [];
      for (let j = t.firstColumn; j < t.firstColumn + t.columnCount; j++)
        cases.push(`WHEN ${condition(layout.shapes[j] as ColumnShape, layout, p)} THEN ${p.real(beta[j] as number)}`);
      coef = `CASE ${cases.join(' ')} ELSE 0.0 END`;
    }
    etaParts.push(m === 0 ? coef : `m${m} * ${coef}`);
  });
  const eta = etaParts.reduce((acc, part) => `(${acc} + ${part})`);
  if (coding.eta === null) return eta;
  return `LEAST(GREATEST(${eta}, ${p.real(coding.eta.min)}), ${p.real(coding.eta.max)})`;
}

/** The family's μ of eta, the extra column z (binomial) after it, and the per-row terms of μ. */
interface FamilySql {
  readonly mu: string;
  /** `, … AS z` or empty. */
  readonly z: string;
  /** Score s, weight w, deviance dv, and for poisson the saturated log-likelihood st. */
  readonly terms: readonly string[];
}

/** μ, then score s, weight w, deviance dv, saturated st, as family.ts computes them. */
function familyTerms(family: FamilyName, dialect: SqlDialect): FamilySql {
  const log1p = (x: string): string =>
    `CASE WHEN 1.0 + ${x} = 1.0 THEN ${x} ELSE LN(1.0 + ${x}) * ${x} / ((1.0 + ${x}) - 1.0) END`;
  if (family === 'binomial') {
    // dv = 2·softplus(z), z = -η for y = 1 and η for y = 0; softplus(z) = max(z, 0) + log1p(e^-|z|).
    return {
      mu: '1.0 / (1.0 + EXP(-eta))',
      z: ', CASE WHEN y = 1.0 THEN -eta ELSE eta END AS z',
      terms: ['y - mu AS s', 'mu * (1.0 - mu) AS w', `2.0 * (GREATEST(z, 0.0) + ${log1p('EXP(-ABS(z))')}) AS dv`],
    };
  }
  if (family === 'poisson') {
    return {
      mu: 'EXP(eta)',
      z: '',
      terms: [
        'y - mu AS s',
        'mu AS w',
        '2.0 * (CASE WHEN y = 0.0 THEN 0.0 ELSE y * (LN(GREATEST(y, 1.0)) - eta) END - (y - mu)) AS dv',
        `CASE WHEN y = 0.0 THEN 0.0 ELSE y * LN(GREATEST(y, 1.0)) - y - ${dialect.logFactorial('y')} END AS st`,
      ],
    };
  }
  return { mu: 'eta', z: '', terms: ['y - mu AS s', `CAST(1.0 AS ${DOUBLE}) AS w`, '(y - mu) * (y - mu) AS dv'] };
}

/** 2. Per cell: n, Σ s·m, Σ w·m·m', Σ dv, Σ st. */
function cellColumns(layout: Layout, saturated: boolean, sum: (expr: string) => string): string[] {
  const count = layout.monomials.length;
  const mon = (i: number): string => (i === 0 ? '' : ` * m${i}`);
  const cols: string[] = [...layout.categories.map((_, i) => `g${i}`), 'COUNT(*) AS n'];
  for (let a = 0; a < count; a++) cols.push(`${sum(`s${mon(a)}`)} AS s${a}`);
  for (let a = 0; a < count; a++)
    for (let b = a; b < count; b++) cols.push(`${sum(`w${mon(a)}${mon(b)}`)} AS h${a}_${b}`);
  cols.push(`${sum('dv')} AS dv`);
  if (saturated) cols.push(`${sum('st')} AS st`);
  return cols;
}

/** The packed positions of the information entries not zero by construction, in packed order. */
function informationPositions(shapes: readonly ColumnShape[]): number[] {
  const d = shapes.length;
  const information: number[] = [];
  for (let j = 0; j < d; j++)
    for (let k = j; k < d; k++) {
      const a = shapes[j] as ColumnShape;
      const b = shapes[k] as ColumnShape;
      if (j === k || (a.term !== b.term && !conflict(a, b))) information.push(packedIndex(d, j, k));
    }
  return information;
}

/**
 * 3a. Per cell: each term's active design column `t<i>` (bound, NULL when the cell is at a level
 * the term has no column for), the intercept being term 0 when there is one; and the terms' monomials.
 */
function activeColumns(coding: ModelCoding, layout: Layout, p: Params): { cols: string[]; monomials: number[] } {
  const cols: string[] = [];
  const monomials: number[] = [];
  if (coding.intercept) {
    cols.push(`${p.index(0)} AS t0`);
    monomials.push(0);
  }
  coding.terms.forEach((t, ti) => {
    const at = `t${cols.length}`;
    if ((layout.shapes[t.firstColumn] as ColumnShape).conditions.size === 0) {
      cols.push(`${p.index(t.firstColumn)} AS ${at}`);
    } else {
      const cases: string[] = [];
      for (let j = t.firstColumn; j < t.firstColumn + t.columnCount; j++)
        cases.push(`WHEN ${condition(layout.shapes[j] as ColumnShape, layout, p)} THEN ${p.index(j)}`);
      cols.push(`CASE ${cases.join(' ')} END AS ${at}`);
    }
    monomials.push(layout.termMonomial[ti] ?? 0);
  });
  return { cols, monomials };
}

/**
 * 3b. One (j, k, v) row per cell and active term (gradient: k NULL, v = Σ s·m) and per cell and
 * active pair of terms (information: v = Σ w·m·m'), as UNION ALL branches over glm_act.
 */
function pairBranches(monomials: readonly number[]): string[] {
  const none = 'CAST(NULL AS INTEGER)';
  const branches: string[] = [];
  monomials.forEach((m, a) => {
    branches.push(`SELECT t${a} AS j, ${none} AS k, s${m} AS v FROM glm_act WHERE t${a} IS NOT NULL`);
  });
  for (let a = 0; a < monomials.length; a++)
    for (let b = a; b < monomials.length; b++) {
      const ma = monomials[a] as number;
      const mb = monomials[b] as number;
      const h = `h${Math.min(ma, mb)}_${Math.max(ma, mb)}`;
      const both = a === b ? `t${a} IS NOT NULL` : `t${a} IS NOT NULL AND t${b} IS NOT NULL`;
      branches.push(`SELECT t${a}, t${b}, ${h} FROM glm_act WHERE ${both}`);
    }
  return branches;
}

/**
 * The round's statement over `coding.dataset` (see the file comment). Throws QUERY_INVALID when
 * the coding names a column the schema lacks or types differently, or the dataset name is not a
 * table name; RangeError when β does not have one finite value per coefficient.
 */
export function compileGlmSums(
  coding: ModelCoding,
  schema: DatasetSchema,
  beta: ArrayLike<number>,
  dialect: SqlDialect,
  where: Predicate | null = null,
): CompiledGlmSums {
  const d = coding.columns.length;
  if (beta.length !== d) throw new RangeError(`compileGlmSums: β has ${beta.length} values for ${d} coefficients`);
  if (!DATASET_NAME.test(coding.dataset))
    throw invalid(`bad dataset name ${JSON.stringify(coding.dataset.slice(0, 64))}`, 'name a dataset of the schema');
  checkColumns(coding, schema);
  const w = compileWhere(coding.dataset, schema, dialect, where);
  // Parameters are numbered in first-use order, so the steps run in the order the text reads.
  const p = new Params(dialect, w.params);
  const layout = layoutOf(coding);
  const rowCols = rowColumns(coding, layout, p, dialect);
  const eta = etaExpression(coding, layout, beta, p);
  const family = familyTerms(coding.family, dialect);
  const saturated = coding.family === 'poisson';
  const sum = (expr: string): string => dialect.floatSum(expr);
  const cellCols = cellColumns(layout, saturated, sum);
  const active = activeColumns(coding, layout, p);
  const information = informationPositions(layout.shapes);
  const branches = pairBranches(active.monomials);

  const keys = layout.categories.map((_, i) => `g${i}`);
  const passOn = [...keys, ...layout.monomials.map((_, i) => `m${i}`).slice(1)];
  const groupBy = keys.length === 0 ? '' : ` GROUP BY ${keys.join(', ')}`;
  const sql =
    `WITH glm_row AS (SELECT ${rowCols.join(', ')} FROM ${dialect.table(coding.dataset)}${w.text}), ` +
    `glm_eta AS (SELECT ${[...passOn, 'y', `${eta} AS eta`].join(', ')} FROM glm_row), ` +
    `glm_mu AS (SELECT *, ${family.mu} AS mu${family.z} FROM glm_eta), ` +
    `glm_terms AS (SELECT ${[...passOn, ...family.terms].join(', ')} FROM glm_mu), ` +
    `glm_cell AS (SELECT ${cellCols.join(', ')} FROM glm_terms${groupBy}), ` +
    `glm_act AS MATERIALIZED (SELECT *${active.cols.map((c) => `, ${c}`).join('')} FROM glm_cell), ` +
    `glm_pair AS (${branches.length === 0 ? `SELECT CAST(NULL AS INTEGER) AS j, CAST(NULL AS INTEGER) AS k, CAST(NULL AS ${DOUBLE}) AS v WHERE FALSE` : branches.join(' UNION ALL ')}) ` +
    `SELECT CAST(NULL AS INTEGER) AS j, CAST(NULL AS INTEGER) AS k, CAST(NULL AS ${DOUBLE}) AS v, ` +
    `SUM(n) AS n, ${sum('dv')} AS dv, ${saturated ? sum('st') : `CAST(0.0 AS ${DOUBLE})`} AS st FROM glm_act ` +
    `UNION ALL SELECT j, k, ${sum('v')}, NULL, NULL, NULL FROM glm_pair GROUP BY j, k`;
  return Object.freeze({
    sql,
    params: Object.freeze(p.values),
    d,
    information: Object.freeze(information),
    saturated,
  });
}

function toNumber(v: unknown, what: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?[0-9.eE+-]+$/.test(v)) return Number(v);
  throw internal(`a non-numeric ${what} (${typeof v})`);
}

/**
 * The flat row [n, gradient…, information… (in `information`'s order), Σ dv, (Σ st)] that
 * `duckDbGlmSums` assembles from the statement's rows → GlmSums. Any driver's numbers, bigints
 * or decimal strings are taken; an empty input (n NULL or 0, sums NULL) gives zero sums.
 */
export function toGlmSums(row: readonly unknown[], compiled: CompiledGlmSums): GlmSums {
  const { d, information } = compiled;
  const width = 1 + d + information.length + 1 + (compiled.saturated ? 1 : 0);
  if (row.length !== width) throw internal(`a row of ${row.length} columns where ${width} were expected`);
  const sums = emptySums(d);
  const n = toNumber(row[0], 'count') ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw internal('a row count that is not a whole number');
  sums.n = n;
  if (n === 0) return sums;
  const value = (i: number): number => {
    const v = toNumber(row[i], 'sum');
    if (v === null) throw internal('a NULL sum over rows');
    return v;
  };
  for (let j = 0; j < d; j++) sums.gradient[j] = value(1 + j);
  information.forEach((at, i) => {
    sums.information[at] = value(1 + d + i);
  });
  sums.deviance = value(1 + d + information.length);
  if (compiled.saturated) sums.saturated = value(2 + d + information.length);
  return sums;
}

/**
 * The statement's rows → the one row `toGlmSums` reads: the totals row (j NULL) gives n, Σ dv and
 * Σ st; each (j, k NULL) row a gradient entry, each (j, k) row an information entry; an entry with
 * no row (no cell has its column active) is 0.
 */
function flatRow(rows: readonly (readonly unknown[])[], compiled: CompiledGlmSums): unknown[] {
  const { d, information } = compiled;
  const at = new Map<number, number>(information.map((packed, i) => [packed, 1 + d + i]));
  const row: unknown[] = [null, ...new Array<number>(d + information.length).fill(0), null];
  if (compiled.saturated) row.push(null);
  let totals = 0;
  for (const r of rows) {
    if (r.length !== 6) throw internal(`a row of ${r.length} columns where 6 were expected`);
    const j = toNumber(r[0], 'column index');
    const k = toNumber(r[1], 'column index');
    if (j === null) {
      totals++;
      row[0] = r[3];
      row[1 + d + information.length] = r[4];
      if (compiled.saturated) row[2 + d + information.length] = r[5];
      continue;
    }
    if (!Number.isSafeInteger(j) || j < 0 || j >= d) throw internal('a column index out of range');
    if (k === null) {
      row[1 + j] = r[2];
      continue;
    }
    if (!Number.isSafeInteger(k) || k < 0 || k >= d) throw internal('a column index out of range');
    const i = at.get(packedIndex(d, Math.min(j, k), Math.max(j, k)));
    if (i === undefined) throw internal('an information entry that is zero by construction');
    row[i] = r[2];
  }
  if (totals !== 1) throw internal(`${totals} total rows where one was expected`);
  return row;
}

/** Runs a compiled round on a DuckDB connection (the store's query connection) and reads its rows. */
export async function duckDbGlmSums(conn: DuckDBConnection, compiled: CompiledGlmSums): Promise<GlmSums> {
  const result = await conn.runAndReadAll(compiled.sql, [...compiled.params] as DuckDBValue[]);
  return glmSumsOfRows(result.getRows(), compiled);
}

/** The sums from the result rows of `compiled`, as any engine's driver returns them. */
export function glmSumsOfRows(rows: readonly (readonly unknown[])[], compiled: CompiledGlmSums): GlmSums {
  return toGlmSums(flatRow(rows, compiled), compiled);
}
