/**
 * R's model formula grammar, the subset a generalized linear model needs:
 *
 * ```
 * formula  := response "~" rhs
 * response := column | column "==" 'value'          (a binomial event of a category column)
 * rhs      := ["+" | "-"] item (("+" | "-") item)*
 * item     := column (":" column)*                   (a main effect or an interaction)
 *           | "1" | "0"                              (+1 keeps the intercept; -1 and +0 drop it)
 *           | "offset(" column ")" | "offset(log(" column "))"
 * ```
 *
 * Names resolve against the dataset's schema (case-insensitively, to the schema's spelling, as SQL
 * names do). Every node keeps its span, so errors point at the name, with did-you-mean. The tree
 * keeps the terms as written; design.ts orders them as R does.
 */
import type { Column, DatasetSchema } from '../federation/schema.js';
import { closest } from '../util/closest-name.js';
import { formulaError, lineColumn, quote } from './formula-error.js';
import type { Span } from './formula-error.js';
import { readFormula } from './formula-parser.js';
import type { RawItem, Unresolved } from './formula-parser.js';

/** One column named in a term, resolved to the schema's spelling. */
export interface FormulaFactor {
  readonly column: string;
  readonly span: Span;
}

/** A main effect (one factor) or an interaction `a:b:…` (several, as written). */
export interface FormulaTerm {
  readonly factors: readonly FormulaFactor[];
  readonly span: Span;
}

/** The left side: a column, and for a binomial event of a category column, the event's value. */
export interface FormulaResponse {
  readonly column: string;
  readonly event: string | null;
  readonly span: Span;
}

/** `offset(col)` (the column's value enters η with coefficient 1) or `offset(log(col))`. */
export interface FormulaOffset {
  readonly column: string;
  readonly log: boolean;
  readonly span: Span;
}

/** A parsed, resolved formula. `text` is what was parsed; spans point into it. */
export interface Formula {
  readonly text: string;
  readonly response: FormulaResponse;
  readonly terms: readonly FormulaTerm[];
  readonly intercept: boolean;
  /** The `1`, `-1` or `0` that set the intercept, or null when it is implicit. */
  readonly interceptSpan: Span | null;
  readonly offset: FormulaOffset | null;
}

/** Resolves a typed name (case-insensitively) or throws QUERY_INVALID with did-you-mean. */
function resolve(
  text: string,
  ds: DatasetSchema,
  datasetName: string,
  u: Unresolved,
): { name: string; column: Column } {
  const names = Object.keys(ds.columns);
  const name = names.find((n) => n === u.name) ?? names.find((n) => n.toLowerCase() === u.name.toLowerCase());
  const column = name === undefined ? undefined : ds.columns[name];
  if (name === undefined || column === undefined) {
    const valid = names.filter((n) => ds.columns[n]?.type !== 'id');
    const [mean] = closest(u.name, valid);
    throw formulaError(
      'QUERY_INVALID',
      text,
      u.span,
      `unknown column ${quote(u.name)} in ${datasetName}`,
      `${mean === undefined ? '' : `did you mean ${mean}? `}valid columns: ${valid.join(', ')}`,
      { columnName: u.name, valid, ...(mean === undefined ? {} : { suggestion: mean }) },
    );
  }
  if (column.type === 'id') {
    throw formulaError(
      'QUERY_INVALID',
      text,
      u.span,
      `column ${name} of ${datasetName} is an identifier (id) column`,
      'identifiers never leave the agency and carry no signal a model could use; remove it',
      { columnName: name },
    );
  }
  return { name, column };
}

function checkResponseEvent(text: string, name: string, column: Column, event: string | null, span: Span): void {
  if (event === null) return;
  if (column.type !== 'category') {
    throw formulaError(
      'QUERY_INVALID',
      text,
      span,
      `== names an event of a category column, and ${name} is an integer column`,
      `write ${name} alone: an integer column with bounds 0..1 is a binomial response as it is`,
      { columnName: name },
    );
  }
  if (!column.values.includes(event.normalize('NFC'))) {
    const near3 = closest(event, column.values, 3);
    throw formulaError(
      'QUERY_INVALID',
      text,
      span,
      `${quote(event)} is not a value of ${name}`,
      `valid values: ${column.values.join(', ')}${near3.length > 0 ? ` (closest: ${near3.join(', ')})` : ''}`,
      { columnName: name, closest: near3 },
    );
  }
}

/** The intercept from the `1`, `0` and `-1` items; refuses repeats and contradictions. */
function interceptOf(text: string, items: readonly RawItem[]): { intercept: boolean; span: Span | null } {
  let set: { keep: boolean; span: Span; shown: string } | null = null;
  for (const it of items) {
    if (it.kind !== 'one' && it.kind !== 'zero') continue;
    if (it.kind === 'zero' && it.sign === '-') {
      throw formulaError(
        'QUERY_SYNTAX',
        text,
        it.span,
        '-0 is ambiguous',
        'write +1 (or nothing) to keep the intercept, -1 to drop it',
      );
    }
    const keep = it.kind === 'one' && it.sign === '+';
    if (set !== null) {
      throw formulaError(
        'QUERY_INVALID',
        text,
        it.span,
        set.keep === keep
          ? `the intercept is ${keep ? 'kept' : 'dropped'} twice`
          : `the intercept is ${set.keep ? 'kept' : 'dropped'} by ${quote(set.shown)} and ${keep ? 'kept' : 'dropped'} here`,
        'write one of +1 (keep, the default) or -1 (drop)',
      );
    }
    set = { keep, span: it.span, shown: `${it.sign}${it.kind === 'one' ? '1' : '0'}` };
  }
  return { intercept: set?.keep ?? true, span: set?.span ?? null };
}

/** Resolves one term's factors: no id, no response, no column twice, no term twice. */
function resolveTerm(
  text: string,
  ds: DatasetSchema,
  datasetName: string,
  it: RawItem,
  response: string,
  seen: FormulaTerm[],
): FormulaTerm {
  const factors: FormulaFactor[] = [];
  for (const u of it.names) {
    const { name } = resolve(text, ds, datasetName, u);
    if (name === response) {
      throw formulaError(
        'QUERY_INVALID',
        text,
        u.span,
        `the response ${name} is also on the right side`,
        'a column cannot explain itself: remove it from the terms',
        { columnName: name },
      );
    }
    if (factors.some((f) => f.column === name)) {
      throw formulaError(
        'QUERY_INVALID',
        text,
        u.span,
        `${name} appears twice in the interaction`,
        `write ${name} once`,
        { columnName: name },
      );
    }
    factors.push({ column: name, span: u.span });
  }
  const key = factors
    .map((f) => f.column)
    .sort()
    .join(':');
  const twin = seen.find(
    (t) =>
      t.factors
        .map((f) => f.column)
        .sort()
        .join(':') === key,
  );
  if (twin !== undefined) {
    const first = lineColumn(text, twin.span.start);
    throw formulaError(
      'QUERY_INVALID',
      text,
      it.span,
      `the term ${text.slice(it.span.start, it.span.end)} repeats ${text.slice(twin.span.start, twin.span.end)} (at ${first.line}:${first.column})`,
      'write each term once (a:b and b:a are one term)',
      { term: key },
    );
  }
  if (it.sign === '-') {
    throw formulaError(
      'QUERY_INVALID',
      text,
      { start: it.span.start, end: it.span.end },
      `removing the term ${key} with - is not supported`,
      `leave ${key} out of the formula (only -1 may be subtracted)`,
    );
  }
  return { factors, span: it.span };
}

function resolveOffset(
  text: string,
  ds: DatasetSchema,
  datasetName: string,
  it: RawItem,
  response: string,
  prior: FormulaOffset | null,
): FormulaOffset {
  const u = it.names[0] as Unresolved;
  if (prior !== null)
    throw formulaError(
      'QUERY_INVALID',
      text,
      it.span,
      'a second offset()',
      'a model takes one offset; combine the columns before loading',
    );
  if (it.sign === '-')
    throw formulaError('QUERY_INVALID', text, it.span, 'an offset cannot be subtracted', 'write + offset(col)');
  const { name, column } = resolve(text, ds, datasetName, u);
  if (name === response)
    throw formulaError(
      'QUERY_INVALID',
      text,
      u.span,
      `the response ${name} cannot be its own offset`,
      'use an exposure column',
      { columnName: name },
    );
  if (column.type !== 'integer') {
    throw formulaError(
      'QUERY_INVALID',
      text,
      u.span,
      `offset() takes an integer column, and ${name} is a category column`,
      'use an exposure column such as a population',
      { columnName: name },
    );
  }
  if (it.log && column.min < 1) {
    throw formulaError(
      'QUERY_INVALID',
      text,
      u.span,
      `log(${name}) is undefined where ${name} is below 1 (its schema allows ${column.min})`,
      `raise ${name}'s "min" to 1 in the schema if it is an exposure, or use offset(${name})`,
      { columnName: name },
    );
  }
  return { column: name, log: it.log, span: it.span };
}

/**
 * Parses `text` against the dataset's schema. Throws QUERY_SYNTAX (does not parse) or QUERY_INVALID
 * (an unknown or id column, the response on the right, a term twice, nothing to estimate), each
 * with the position and the fix.
 */
export function parseFormula(text: string, dataset: DatasetSchema, datasetName = 'the dataset'): Formula {
  const { response: lhs, items } = readFormula(text);
  const { name: response, column } = resolve(text, dataset, datasetName, lhs.name);
  checkResponseEvent(text, response, column, lhs.event, lhs.span);
  const { intercept, span: interceptSpan } = interceptOf(text, items);
  const terms: FormulaTerm[] = [];
  let offset: FormulaOffset | null = null;
  for (const it of items) {
    if (it.kind === 'term') terms.push(resolveTerm(text, dataset, datasetName, it, response, terms));
    if (it.kind === 'offset') offset = resolveOffset(text, dataset, datasetName, it, response, offset);
  }
  if (terms.length === 0 && !intercept) {
    throw formulaError(
      'QUERY_INVALID',
      text,
      interceptSpan,
      'the right side has no terms once the intercept is dropped, so there is nothing to estimate',
      'add a term, or keep the intercept',
    );
  }
  return Object.freeze({
    text,
    response: Object.freeze({
      column: response,
      event: lhs.event === null ? null : lhs.event.normalize('NFC'),
      span: lhs.span,
    }),
    terms: Object.freeze(terms.map((t) => Object.freeze({ factors: Object.freeze(t.factors), span: t.span }))),
    intercept,
    interceptSpan,
    offset,
  });
}

/** A string literal for a formula: single quotes unless the value holds one, escapes as needed. */
export function formatFormulaString(value: string): string {
  const q = value.includes("'") && !value.includes('"') ? '"' : "'";
  return `${q}${value.replace(/\\/g, '\\\\').replaceAll(q, `\\${q}`)}${q}`;
}

/**
 * The formula's canonical text: the schema's spelling of every name, terms in written order,
 * then the offset, then `- 1` when the intercept is dropped. Parsing it gives the same formula.
 */
export function formatFormula(f: Formula): string {
  const lhs =
    f.response.event === null ? f.response.column : `${f.response.column} == ${formatFormulaString(f.response.event)}`;
  const items = f.terms.map((t) => t.factors.map((x) => x.column).join(':'));
  if (f.offset !== null) items.push(f.offset.log ? `offset(log(${f.offset.column}))` : `offset(${f.offset.column})`);
  if (items.length === 0) items.push('1');
  return `${lhs} ~ ${items.join(' + ')}${f.intercept ? '' : ' - 1'}`;
}
