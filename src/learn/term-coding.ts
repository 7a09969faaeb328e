/**
 * How R turns a formula's terms into design columns (Chambers and Hastie, Statistical Models in S,
 * p. 38; R's model.c `TermCode`), so that fedstat's coefficients are R's coefficients:
 *
 * - variables are ordered by their first appearance in the terms; a term's label lists its
 *   variables in that order (`b:a + a` gives the label `b:a`);
 * - terms are ordered by degree (main effects, then two-way interactions, …), stably;
 * - a category variable in a term is coded by contrasts against its first schema value (the
 *   reference level) when the term without it is empty or contained in a preceding term, and by
 *   one indicator per value otherwise (`x:a` alone gets a column for every value of `a`);
 * - without an intercept, the first category variable of the first term holding one is coded by
 *   indicators (`y ~ a + b - 1` gives `aA1 aA2 aA3 bB2`);
 * - a term's columns are the products of its variables' columns, the first variable varying fastest.
 */
import type { CategoryColumn, DatasetSchema, IntegerColumn } from '../federation/schema.js';
import type { Formula } from './formula.js';
import { formulaError } from './formula-error.js';

/** A category variable of a term: `contrast` drops the first value (the reference level). */
export interface CategoryFactor {
  readonly column: string;
  readonly kind: 'category';
  readonly coding: 'contrast' | 'indicator';
  /** The schema's values, in order; a row's level is its index here. */
  readonly values: readonly string[];
}

/** An integer variable of a term, entering as `(x - center) / scale` (scaling.ts decides both). */
export interface IntegerFactor {
  readonly column: string;
  readonly kind: 'integer';
  /** The schema's bounds. */
  readonly min: number;
  readonly max: number;
  readonly center: number;
  readonly scale: number;
}

export type CodedFactor = CategoryFactor | IntegerFactor;

/** A term as the design codes it. Its columns are `firstColumn … firstColumn + columnCount - 1`. */
export interface CodedTerm {
  /** R's term label, e.g. `age:sex`. */
  readonly label: string;
  /** The variables in R's variable order. */
  readonly factors: readonly CodedFactor[];
  /** True when its integer variables are centred (scaling.ts). */
  readonly centred: boolean;
  readonly firstColumn: number;
  readonly columnCount: number;
}

/** One design column: which term, and per factor of the term the value index (-1 for integers). */
export interface DesignColumn {
  /** R's coefficient name, e.g. `(Intercept)`, `sector建筑业`, `age:sex女`. */
  readonly name: string;
  /** Index into the coding's terms; -1 for the intercept. */
  readonly term: number;
  readonly levels: readonly number[];
}

/** Where in the formula text a column was written (for errors). */
type Located = { readonly column: string; readonly at: { start: number; end: number } };

function schemaColumn(ds: DatasetSchema, name: string): CategoryColumn | IntegerColumn {
  const c = ds.columns[name];
  if (c === undefined || c.type === 'id') throw new Error(`term-coding: ${name} is not a resolved column`); // parseFormula resolved it
  return c;
}

/** Refuses a predictor that cannot vary: a one-value category, an integer with min = max. */
function checkVaries(f: Formula, ds: DatasetSchema, v: Located): void {
  const c = schemaColumn(ds, v.column);
  if (c.type === 'category' && c.values.length < 2) {
    throw formulaError(
      'QUERY_INVALID',
      f.text,
      v.at,
      `${v.column} has one value in the schema, so it cannot explain anything`,
      `remove ${v.column}`,
      { columnName: v.column },
    );
  }
  if (c.type === 'integer' && c.min === c.max) {
    throw formulaError(
      'QUERY_INVALID',
      f.text,
      v.at,
      `${v.column} is constant (min = max = ${c.min} in the schema), so it cannot explain anything`,
      `remove ${v.column}`,
      { columnName: v.column },
    );
  }
}

/** The terms in R's order, each as its set of variables, with the variables in R's order. */
function orderTerms(f: Formula): { variables: string[]; terms: string[][] } {
  const variables: string[] = [];
  for (const t of f.terms) for (const x of t.factors) if (!variables.includes(x.column)) variables.push(x.column);
  const rank = (c: string): number => variables.indexOf(c);
  const terms = f.terms.map((t) => t.factors.map((x) => x.column).sort((a, b) => rank(a) - rank(b)));
  // Array.prototype.sort is stable: equal degrees keep the written order, as in R.
  return {
    variables,
    terms: terms
      .map((t, i) => ({ t, i }))
      .sort((a, b) => a.t.length - b.t.length || a.i - b.i)
      .map((x) => x.t),
  };
}

/** R's TermCode: contrasts when the term without `v` is empty or inside a preceding term. */
function codes(terms: readonly string[][], i: number, v: string): 'contrast' | 'indicator' {
  const rest = (terms[i] ?? []).filter((x) => x !== v);
  if (rest.length === 0) return 'contrast';
  return terms.slice(0, i).some((t) => rest.every((x) => t.includes(x))) ? 'contrast' : 'indicator';
}

/** The coded terms (centre 0, scale 1 for now: scaling.ts fills them) and the design columns. */
export function codeTerms(f: Formula, ds: DatasetSchema): { terms: CodedTerm[]; columns: DesignColumn[] } {
  for (const t of f.terms) for (const x of t.factors) checkVaries(f, ds, { column: x.column, at: x.span });
  const { terms: ordered } = orderTerms(f);
  const coding = ordered.map((t, i) =>
    t.map((v) => (schemaColumn(ds, v).type === 'category' ? codes(ordered, i, v) : null)),
  );
  if (!f.intercept) {
    // R: "adjust the code for the first factor found so that it will be coded by dummy variables".
    const i = coding.findIndex((c) => c.some((x) => x !== null));
    const row = coding[i];
    if (row !== undefined) row[row.findIndex((x) => x !== null)] = 'indicator';
  }
  const columns: DesignColumn[] = f.intercept ? [{ name: '(Intercept)', term: -1, levels: [] }] : [];
  const terms: CodedTerm[] = ordered.map((vars, i) => {
    const factors: CodedFactor[] = vars.map((v, k) => {
      const c = schemaColumn(ds, v);
      if (c.type === 'integer') return { column: v, kind: 'integer', min: c.min, max: c.max, center: 0, scale: 1 };
      return { column: v, kind: 'category', coding: coding[i]?.[k] ?? 'contrast', values: c.values };
    });
    const firstColumn = columns.length;
    for (const levels of levelCombinations(factors)) {
      const name = factors
        .map((x, k) => (x.kind === 'integer' ? x.column : `${x.column}${x.values[levels[k] ?? 0] ?? ''}`))
        .join(':');
      columns.push({ name, term: i, levels });
    }
    return { label: vars.join(':'), factors, centred: false, firstColumn, columnCount: columns.length - firstColumn };
  });
  return { terms, columns };
}

/** Every combination of the factors' coded levels, the first factor varying fastest (R's order). */
function levelCombinations(factors: readonly CodedFactor[]): number[][] {
  let combos: number[][] = [[]];
  for (const x of factors) {
    const own = x.kind === 'integer' ? [-1] : x.values.map((_, v) => v).slice(x.coding === 'contrast' ? 1 : 0);
    // Later factors vary slower: for each of this factor's levels, all combinations so far.
    combos = own.flatMap((lv) => combos.map((c) => [...c, lv]));
  }
  return combos;
}

/**
 * The mixed-radix position of a row's levels inside its term (-1 when a contrast-coded variable
 * is at its reference level, so the term is zero on that row). `levels` are value indexes.
 */
export function columnWithinTerm(factors: readonly CodedFactor[], levels: readonly number[]): number {
  let pos = 0;
  let stride = 1;
  for (let k = 0; k < factors.length; k++) {
    const x = factors[k] as CodedFactor;
    if (x.kind === 'integer') continue;
    const lv = levels[k] ?? 0;
    const digit = x.coding === 'contrast' ? lv - 1 : lv;
    if (digit < 0) return -1;
    pos += digit * stride;
    stride *= x.coding === 'contrast' ? x.values.length - 1 : x.values.length;
  }
  return pos;
}
