/**
 * The coding of a parsed formula against a dataset's schema and a family: the `ModelCoding`, a
 * plain JSON document holding everything needed to compute a row's design vector, response and
 * offset (design-row.ts) and to map coefficients back to the original scale (scaling.ts). It is
 * what a coordinator signs into each Newton round's plan and what a model file keeps for scoring.
 *
 * Response rules:
 * - binomial: a category column with two values (the second is the event), a category column
 *   with its event named (`insured == '是'`), or an integer column with bounds 0..1;
 * - poisson: an integer column with min ≥ 0; an optional `offset(col)` or `offset(log(col))`;
 * - gaussian: an integer column.
 */
import { FedstatError } from '../errors.js';
import type { CategoryColumn, DatasetSchema, IntegerColumn } from '../federation/schema.js';
import { canonicalJson } from '../util/canonical-json.js';
import { isRecord } from '../util/is-record.js';
import { LOGIT_ETA_LIMIT, POISSON_ETA_MIN, linkOf } from './family.js';
import type { FamilyName, LinkName } from './family.js';
import { formulaError } from './formula-error.js';
import { formatFormula, parseFormula } from './formula.js';
import type { Formula } from './formula.js';
import { scaleTerms, scalingMatrix } from './scaling.js';
import { codeTerms } from './term-coding.js';
import type { CodedTerm, DesignColumn } from './term-coding.js';

/** At most this many coefficients: d(d+1)/2 + d sums must fit one BFV ciphertext (issue 13). */
export const MAX_COEFFICIENTS = 120;

/** The response: a category column with its event value, or an integer column. */
export type ResponseCoding =
  | { readonly column: string; readonly kind: 'category'; readonly values: readonly string[]; readonly event: string }
  | { readonly column: string; readonly kind: 'integer'; readonly min: number; readonly max: number };

/** The offset's column and schema bounds; `log` when written `offset(log(col))`. */
export interface OffsetCoding {
  readonly column: string;
  readonly log: boolean;
  readonly min: number;
  readonly max: number;
}

/** Everything needed to code a row and read the coefficients (see the file comment). JSON. */
export interface ModelCoding {
  readonly version: 1;
  readonly dataset: string;
  /** The canonical formula text (formula.ts `formatFormula`). */
  readonly formula: string;
  readonly family: FamilyName;
  readonly link: LinkName;
  readonly response: ResponseCoding;
  readonly intercept: boolean;
  readonly offset: OffsetCoding | null;
  /** Terms in R's order (term-coding.ts), integer variables with their centre and scale. */
  readonly terms: readonly CodedTerm[];
  /** One per coefficient, in design order: `(Intercept)` first when there is one. */
  readonly columns: readonly DesignColumn[];
  /** R's coefficient names, `columns[j].name`. */
  readonly coefficients: readonly string[];
  /** For each category column coded by contrasts: its reference level (its first schema value). */
  readonly referenceLevels: Readonly<Record<string, string>>;
  /** The clamp on the linear predictor η (offset included); null for none (gaussian). */
  readonly eta: { readonly min: number; readonly max: number } | null;
}

/** Options of `codeModel`. */
export interface CodeModelOptions {
  /**
   * The upper clamp of a Poisson η. Default log(max(y_max, 1)) + 3: a fitted mean above e³ ≈ 20
   * times the schema's largest count is not a fit. The DP sensitivities grow with e^η_max.
   */
  readonly poissonEtaMax?: number;
}

function integerColumn(ds: DatasetSchema, name: string): IntegerColumn | CategoryColumn {
  const c = ds.columns[name];
  if (c === undefined || c.type === 'id') throw new Error(`design: ${name} is not a resolved column`); // parseFormula resolved it
  return c;
}

/** The response coding, or QUERY_INVALID at the response naming what the family needs. */
function codeResponse(f: Formula, ds: DatasetSchema, family: FamilyName): ResponseCoding {
  const name = f.response.column;
  const c = integerColumn(ds, name);
  const refuse = (problem: string, fix: string): FedstatError =>
    formulaError('QUERY_INVALID', f.text, f.response.span, problem, fix, { columnName: name, family });
  if (family === 'binomial') {
    if (c.type === 'category') {
      if (f.response.event !== null)
        return { column: name, kind: 'category', values: c.values, event: f.response.event };
      if (c.values.length === 2)
        return { column: name, kind: 'category', values: c.values, event: c.values[1] as string };
      throw refuse(
        `a binomial response needs two values, and ${name} has ${c.values.length}`,
        `name the event: ${name} == '${c.values[0] ?? ''}'`,
      );
    }
    if (c.min === 0 && c.max === 1) return { column: name, kind: 'integer', min: 0, max: 1 };
    throw refuse(
      `a binomial response is a 0/1 integer column or a category column, and ${name} ranges ${c.min}..${c.max}`,
      'use a two-valued category column, or the gaussian or poisson family',
    );
  }
  if (f.response.event !== null)
    throw refuse(
      `== names a binomial event, and the family is ${family}`,
      'use --family binomial, or the column alone',
    );
  if (c.type === 'category')
    throw refuse(
      `a ${family} response is an integer column, and ${name} is a category column`,
      `use --family binomial with ${name} == 'value'`,
    );
  if (c.min === c.max)
    throw refuse(`the response ${name} is constant (min = max = ${c.min} in the schema)`, 'model a column that varies');
  if (family === 'poisson' && c.min < 0)
    throw refuse(
      `a poisson response is a count, and ${name} may be negative (min ${c.min})`,
      'use the gaussian family, or set "min" to 0 in the schema',
    );
  return { column: name, kind: 'integer', min: c.min, max: c.max };
}

function codeOffset(f: Formula, ds: DatasetSchema, family: FamilyName): OffsetCoding | null {
  if (f.offset === null) return null;
  if (family !== 'poisson') {
    throw formulaError(
      'QUERY_INVALID',
      f.text,
      f.offset.span,
      `offset() is for poisson models, and the family is ${family}`,
      'remove the offset, or use --family poisson',
    );
  }
  const c = integerColumn(ds, f.offset.column);
  if (c.type !== 'integer') throw new Error('design: the offset is not an integer column'); // parseFormula refused it
  return { column: f.offset.column, log: f.offset.log, min: c.min, max: c.max };
}

function etaRange(family: FamilyName, response: ResponseCoding, options: CodeModelOptions): ModelCoding['eta'] {
  if (family === 'binomial') return { min: -LOGIT_ETA_LIMIT, max: LOGIT_ETA_LIMIT };
  if (family === 'gaussian') return null;
  const yMax = response.kind === 'integer' ? response.max : 1;
  const max = options.poissonEtaMax ?? Math.log(Math.max(yMax, 1)) + 3;
  if (!Number.isFinite(max) || max <= POISSON_ETA_MIN || max > 700)
    throw new RangeError('poissonEtaMax must be a number in (log ε, 700]');
  return { min: POISSON_ETA_MIN, max };
}

/**
 * The coding of `formula` for `family`. Throws QUERY_INVALID at the offending part of the formula
 * for a response the family cannot take, an offset outside poisson, a predictor that cannot vary,
 * or more than MAX_COEFFICIENTS coefficients.
 */
export function codeModel(
  formula: Formula,
  dataset: DatasetSchema,
  family: FamilyName,
  datasetName = 'the dataset',
  options: CodeModelOptions = {},
): ModelCoding {
  const response = codeResponse(formula, dataset, family);
  const offset = codeOffset(formula, dataset, family);
  const coded = codeTerms(formula, dataset);
  if (coded.columns.length > MAX_COEFFICIENTS) {
    throw formulaError(
      'QUERY_INVALID',
      formula.text,
      null,
      `the formula has ${coded.columns.length} coefficients, more than the ${MAX_COEFFICIENTS} a round can carry`,
      'drop terms or interactions with many levels',
      { coefficients: coded.columns.length },
    );
  }
  const terms = scaleTerms(coded.terms, coded.columns);
  const referenceLevels: Record<string, string> = {};
  for (const t of terms) {
    for (const x of t.factors)
      if (x.kind === 'category' && x.coding === 'contrast') referenceLevels[x.column] = x.values[0] as string;
  }
  return Object.freeze({
    version: 1,
    dataset: datasetName,
    formula: formatFormula(formula),
    family,
    link: linkOf(family),
    response,
    intercept: formula.intercept,
    offset,
    terms,
    columns: coded.columns,
    coefficients: coded.columns.map((c) => c.name),
    referenceLevels,
    eta: etaRange(family, response, options),
  });
}

/** M with x' = M·x (scaled from original-scale design columns); β = Mᵀβ' (scaling.ts). */
export function scalingOf(coding: ModelCoding): Float64Array {
  return scalingMatrix(coding.terms, coding.columns);
}

/**
 * Checks a coding that arrived as JSON (a plan from the network, a model file) by deriving it
 * again from its formula, family and the schema: anything else in it must match exactly.
 * Throws QUERY_INVALID naming the first difference's field.
 */
export function checkModelCoding(raw: unknown, dataset: DatasetSchema, datasetName: string): ModelCoding {
  if (!isRecord(raw)) throw new FedstatError('QUERY_INVALID', 'a model coding must be a JSON object');
  const { formula, family, version, eta } = raw;
  if (version !== 1)
    throw new FedstatError(
      'QUERY_INVALID',
      `unknown model coding version ${JSON.stringify(version)}; this fedstat reads version 1`,
    );
  if (typeof formula !== 'string')
    throw new FedstatError('QUERY_INVALID', 'a model coding needs its "formula" as a string');
  if (family !== 'binomial' && family !== 'gaussian' && family !== 'poisson') {
    throw new FedstatError(
      'QUERY_INVALID',
      `unknown family ${JSON.stringify(family)}; use binomial, gaussian or poisson`,
    );
  }
  const etaMax = family === 'poisson' && isRecord(eta) && typeof eta['max'] === 'number' ? eta['max'] : undefined;
  if (etaMax !== undefined && !(etaMax > POISSON_ETA_MIN && etaMax <= 700)) {
    throw new FedstatError('QUERY_INVALID', 'the model coding\'s "eta" clamp is outside (log ε, 700]', {
      details: { field: 'eta' },
    });
  }
  const options = etaMax === undefined ? {} : { poissonEtaMax: etaMax };
  const derived = codeModel(parseFormula(formula, dataset, datasetName), dataset, family, datasetName, options);
  for (const key of new Set([...Object.keys(derived), ...Object.keys(raw)])) {
    const a = (derived as unknown as Record<string, unknown>)[key];
    const b = raw[key];
    if (a === undefined || b === undefined || canonicalJson(a) !== canonicalJson(b)) {
      throw new FedstatError(
        'QUERY_INVALID',
        `the model coding's "${key}" does not match its formula and the schema of ${datasetName}`,
        { details: { field: key } },
      );
    }
  }
  return derived;
}
