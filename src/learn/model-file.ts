/**
 * MODEL.json: the document `fedstat train` writes and `fedstat predict` reads. It holds everything
 * needed to score a record and to read the fit without the federation's agencies:
 *
 * - the fit's table on the original scale, with every field of `GlmTable` at the top level (so the
 *   document is the `model` object of `train --json`, and `formatSummary` prints it as it is);
 * - the coding (design.ts `ModelCoding`) and the coefficients on the internal scale, which are what
 *   scoring uses (score.ts), so a score equals the fit's own η and μ for the same record;
 * - the dataset's schema as a one-dataset fedstat schema, with its SHA-256 (`schemaSha256`), so a
 *   CSV can be validated and scored without the federation file; with it, the federation id and
 *   the schema must match;
 * - where the fit came from: the federation id, the dataset, the privacy of its rounds (null when
 *   exact), each round's transparency-log entry indexes, and the time.
 *
 * `parseModelDocument` reads it strictly: a key defined twice, an unknown or missing key, a number
 * that is not finite, a coding that its formula and schema do not give (checkModelCoding), or a
 * table that its coefficients do not give is refused with the file and the JSON path. No I/O here:
 * the CLI reads and writes the file.
 */
import { sha256, toHex } from '../crypto/digest.js';
import { parseCanonicalRho } from '../dp/rho.js';
import { FedstatError } from '../errors.js';
import { configError, datasetSchema, parseConfigJson, parseSchema } from '../federation/schema.js';
import type { DatasetSchema, JsonLocation, Schema } from '../federation/schema.js';
import { canonicalJson } from '../util/canonical-json.js';
import { closest } from '../util/closest-name.js';
import { isRecord } from '../util/is-record.js';
import { jsonPathChild } from '../util/json-path.js';
import { checkModelCoding, scalingOf } from './design.js';
import type { ModelCoding } from './design.js';
import { Z_975, normalTwoSidedP, studentTwoSidedP } from './distributions.js';
import type { CoefficientRow, GlmTable } from './inference.js';
import type { GlmFit } from './pooled-fit.js';

/** The version of the MODEL.json layout this fedstat writes and reads (a network's too). */
const MODEL_FORMAT = 1;
const HEX64 = /^[0-9a-f]{64}$/;
const DATASET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
/** The fix every refusal of an edited model file names. */
export const RETRAIN = 'train the model again (fedstat train) instead of editing MODEL.json';

/** The differential privacy of a fit's rounds (a fixed number of rounds, announced before the first). */
export interface ModelPrivacy {
  /** zCDP ρ each contributing agency charged for the whole fit, canonical `n/d` (dp/rho.ts). */
  readonly rho: string;
  /** ρ of one round, canonical; `rho` = `rounds` × `rhoPerRound`. */
  readonly rhoPerRound: string;
  /** Rounds announced and run. */
  readonly rounds: number;
  /** (ε, δ)-DP implied by ρ, for display. */
  readonly epsilon: number;
  /** The δ of that (ε, δ). */
  readonly delta: number;
  /** The secure-aggregation threshold the noise was sized for. */
  readonly threshold: number;
  /** How the intervals include the noise, in words (docs/privacy.md names the method). */
  readonly intervals: string;
}

/** One round of the fit: its query, the agencies whose data its sums cover, its entries in the transparency log. */
export interface ModelRound {
  /** The round's number in the fit (1 for the first). */
  readonly round: number;
  /** The round's query id (32 hex digits). */
  readonly queryId: string;
  /** The agencies whose data the round covers, sorted. */
  readonly agencies: readonly string[];
  /** Indexes of the round's entries in the federation's transparency log (its query entry first); empty without a log. */
  readonly logIndexes: readonly number[];
}

/** MODEL.json (see the file comment). */
export interface ModelDocument extends GlmTable {
  /** The layout version: 1. */
  readonly format: number;
  /** The id of the federation that trained it (hex SHA-256 of its federation file). */
  readonly federation: string;
  /** The dataset the model was fitted on. */
  readonly dataset: string;
  /** When the fit ended, ISO 8601 UTC. */
  readonly createdAt: string;
  /** How every term is coded into design columns (levels, scaling): what scoring needs. */
  readonly coding: ModelCoding;
  /** β' on the internal scale (scaling.ts), in `coding.coefficients` order: what scoring uses. */
  readonly coefficients: readonly number[];
  /** A fedstat schema holding the one dataset, as the federation declared it. */
  readonly schema: Schema;
  /** hex SHA-256 of the dataset schema's canonical JSON (`{columns, maxRows}`). */
  readonly schemaSha256: string;
  /** null when the rounds released exact sums. */
  readonly privacy: ModelPrivacy | null;
  /** The rounds with their log entries (empty for a fit that logged nothing, e.g. pooled). */
  readonly rounds: readonly ModelRound[];
}

/** Where a fit came from: what `modelDocument` adds to it. */
export interface ModelContext {
  /** The coding the fit was run with. */
  readonly coding: ModelCoding;
  /** The federation id (`Federation.id`). */
  readonly federation: string;
  /** The dataset's schema as the federation declares it (the coding is checked against it). */
  readonly schema: DatasetSchema;
  readonly createdAt: Date;
  readonly privacy?: ModelPrivacy | null;
  readonly rounds?: readonly ModelRound[];
}

/** What a model file must match when the caller knows its federation. */
export interface ModelExpectations {
  /** The federation the model must come from; its schema replaces the embedded one. */
  readonly federation?: { readonly id: string; readonly schema: Schema };
}

/** hex SHA-256 of a dataset schema's canonical JSON. */
export function schemaSha256(schema: DatasetSchema): string {
  return toHex(sha256(new TextEncoder().encode(canonicalJson(schema))));
}

/** The document of a finished fit (pooled or federated). Throws as `parseModelDocument` would. */
export function modelDocument(
  fit: { readonly table: GlmFit['table']; readonly state: { readonly beta: readonly number[] } },
  context: ModelContext,
): ModelDocument {
  const { table, state } = fit;
  const { coding } = context;
  if (!DATASET_NAME.test(coding.dataset))
    throw new RangeError(`modelDocument: the coding's dataset ${JSON.stringify(coding.dataset)} is not a dataset name`);
  const schema = { datasets: { [coding.dataset]: context.schema } };
  const doc = {
    format: MODEL_FORMAT,
    federation: context.federation,
    dataset: coding.dataset,
    createdAt: context.createdAt.toISOString(),
    family: table.family,
    link: table.link,
    formula: table.formula,
    statistic: table.statistic,
    terms: table.terms,
    referenceLevels: table.referenceLevels,
    dispersion: table.dispersion,
    deviance: table.deviance,
    nullDeviance: table.nullDeviance,
    aic: table.aic,
    n: table.n,
    dfResidual: table.dfResidual,
    dfNull: table.dfNull,
    ridge: table.ridge,
    iterations: table.iterations,
    converged: table.converged,
    warnings: table.warnings,
    privacy: context.privacy ?? null,
    rounds: context.rounds ?? [],
    coding,
    coefficients: state.beta,
    covariance: table.covariance,
    schema,
    schemaSha256: schemaSha256(context.schema),
  };
  // Through JSON and the reader: what train writes is exactly what predict accepts.
  return readModelValue(JSON.parse(JSON.stringify(doc)) as unknown, '(new model)', {});
}

/** MODEL.json's text: the document as indented JSON with a final newline. */
export function modelText(doc: ModelDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Reads MODEL.json's text strictly (see the file comment). CONFIG_INVALID names `file`, the JSON
 * path and the fix; with `expect.federation`, a model of another federation, or trained on another
 * schema of its dataset, is refused, and the coding is checked against the federation's schema.
 */
export function parseModelDocument(text: string, file: string, expect: ModelExpectations = {}): ModelDocument {
  return readModelValue(parseConfigJson(text, file), file, expect);
}

// ── the reader (its pieces are shared with learn/fl/network-file.ts) ──────────────────────────────

/** The location of `key` inside `at`. */
export function child(at: JsonLocation, key: string | number): JsonLocation {
  return { file: at.file, path: jsonPathChild(at.path, key) };
}

/** The object at `at` with exactly `keys`: an unknown key (did-you-mean) or a missing one is refused. */
export function object(raw: unknown, at: JsonLocation, keys: readonly string[]): Record<string, unknown> {
  if (!isRecord(raw)) throw configError(at, 'must be a JSON object', RETRAIN);
  for (const key of Object.keys(raw)) {
    if (keys.includes(key)) continue;
    const [near] = closest(key, keys);
    const here = `keys here: ${keys.join(', ')}`;
    throw configError(
      child(at, key),
      `unknown key ${JSON.stringify(key)}`,
      near === undefined ? `remove it (${here})` : `did you mean ${near}? (${here})`,
    );
  }
  for (const key of keys) {
    if (!Object.hasOwn(raw, key)) throw configError(child(at, key), `missing key "${key}"`, RETRAIN);
  }
  return raw;
}

/** The array at `at`, of `length` items when given. */
export function array(raw: unknown, at: JsonLocation, length?: number): unknown[] {
  if (!Array.isArray(raw)) throw configError(at, 'must be an array', RETRAIN);
  if (length !== undefined && raw.length !== length)
    throw configError(at, `must hold ${length} items, and holds ${raw.length}`, RETRAIN);
  return raw;
}

/** The finite number at `at`. */
export function finite(raw: unknown, at: JsonLocation): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw configError(at, 'must be a finite number', RETRAIN);
  return raw;
}

/** The safe integer ≥ `min` at `at`. */
export function integer(raw: unknown, at: JsonLocation, min: number): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < min)
    throw configError(at, `must be an integer ≥ ${min}`, RETRAIN);
  return raw;
}

/** The non-empty string at `at`, matching `pattern` when given (`what` says what it must be). */
export function text(raw: unknown, at: JsonLocation, pattern?: RegExp, what = 'a non-empty string'): string {
  if (typeof raw !== 'string' || raw.length === 0 || (pattern !== undefined && !pattern.test(raw)))
    throw configError(at, `must be ${what}`, RETRAIN);
  return raw;
}

function boolean(raw: unknown, at: JsonLocation): boolean {
  if (typeof raw !== 'boolean') throw configError(at, 'must be true or false', RETRAIN);
  return raw;
}

/** Refuses `raw` unless its canonical JSON is `expected`'s (a copy of what the coding holds). */
export function same(raw: unknown, expected: unknown, at: JsonLocation, what: string): void {
  if (canonicalJson(raw) !== canonicalJson(expected))
    throw configError(at, `does not match ${what}`, 'the file was edited; ' + RETRAIN);
}

/** a ≈ b to `rel` of `scale` (the size of what was summed), exactly when `scale` is 0. */
function close(a: number, b: number, scale: number, rel = 1e-9): boolean {
  return Math.abs(a - b) <= rel * scale;
}

const KEYS = [
  'format',
  'federation',
  'dataset',
  'createdAt',
  'family',
  'link',
  'formula',
  'statistic',
  'terms',
  'referenceLevels',
  'dispersion',
  'deviance',
  'nullDeviance',
  'aic',
  'n',
  'dfResidual',
  'dfNull',
  'ridge',
  'iterations',
  'converged',
  'warnings',
  'privacy',
  'rounds',
  'coding',
  'coefficients',
  'covariance',
  'schema',
  'schemaSha256',
] as const;

/** What every model file starts with: where it comes from, and the schema it is read against. */
export interface ModelHeader {
  readonly federation: string;
  readonly dataset: string;
  readonly createdAt: string;
  /** The dataset's schema: the federation's when expected, else the embedded one. */
  readonly schemaOf: DatasetSchema;
}

/** Refuses a `format` this fedstat does not read, before the keys are checked. */
export function checkFormat(raw: unknown, root: JsonLocation): void {
  if (isRecord(raw) && raw['format'] !== MODEL_FORMAT && Object.hasOwn(raw, 'format')) {
    throw configError(
      child(root, 'format'),
      `unknown model format ${JSON.stringify(raw['format'])}`,
      `this fedstat reads format ${MODEL_FORMAT}; train the model again with it`,
    );
  }
}

/** The header keys of `o` (format, federation, dataset, createdAt, schema, schemaSha256), checked against `expect`. */
export function readHeader(o: Record<string, unknown>, root: JsonLocation, expect: ModelExpectations): ModelHeader {
  integer(o['format'], child(root, 'format'), MODEL_FORMAT);
  const federation = text(o['federation'], child(root, 'federation'), HEX64, 'a federation id (64 hex digits)');
  const expected = expect.federation;
  if (expected !== undefined && expected.id !== federation) {
    throw configError(
      child(root, 'federation'),
      `the model was trained in federation ${federation.slice(0, 12)}…, and the federation file is ${expected.id.slice(0, 12)}…`,
      'pass the federation file the model was trained in, or leave out --federation to use the schema in the model',
    );
  }
  const dataset = text(o['dataset'], child(root, 'dataset'), DATASET_NAME, 'a dataset name');
  const createdAt = text(o['createdAt'], child(root, 'createdAt'), ISO_TIME, 'an ISO 8601 UTC time');
  if (Number.isNaN(Date.parse(createdAt)) || new Date(createdAt).toISOString().slice(0, 19) !== createdAt.slice(0, 19))
    throw configError(child(root, 'createdAt'), 'is not a real time', RETRAIN);
  const ds = readSchema(o, root, dataset);
  const schemaOf = expected === undefined ? ds : federationSchema(expected.schema, dataset, ds, root);
  return { federation, dataset, createdAt, schemaOf };
}

/** A GLM's MODEL.json, already JSON-parsed (see `parseModelDocument`). */
export function readModelValue(raw: unknown, file: string, expect: ModelExpectations): ModelDocument {
  const root: JsonLocation = { file, path: '' };
  checkFormat(raw, root);
  const o = object(raw, root, KEYS);
  const { federation, dataset, createdAt, schemaOf } = readHeader(o, root, expect);
  const coding = readCoding(o['coding'], child(root, 'coding'), schemaOf, dataset);
  for (const key of ['family', 'link', 'formula', 'referenceLevels'] as const)
    same(o[key], coding[key], child(root, key), `the coding's "${key}"`);
  const d = coding.columns.length;
  const coefficients = array(o['coefficients'], child(root, 'coefficients'), d).map((v, j) =>
    finite(v, child(child(root, 'coefficients'), j)),
  );
  const covariance = array(o['covariance'], child(root, 'covariance'), d * d).map((v, j) =>
    finite(v, child(child(root, 'covariance'), j)),
  );
  const n = integer(o['n'], child(root, 'n'), 1);
  const gaussian = coding.family === 'gaussian';
  const statistic = o['statistic'];
  if (statistic !== (gaussian ? 't' : 'z'))
    throw configError(child(root, 'statistic'), `must be "${gaussian ? 't' : 'z'}" for ${coding.family}`, RETRAIN);
  const dfResidual = integer(o['dfResidual'], child(root, 'dfResidual'), -Number.MAX_SAFE_INTEGER);
  if (dfResidual !== n - d) throw configError(child(root, 'dfResidual'), `must be n - ${d} = ${n - d}`, RETRAIN);
  const dfNull = integer(o['dfNull'], child(root, 'dfNull'), 0);
  if (dfNull !== n - (coding.intercept ? 1 : 0)) throw configError(child(root, 'dfNull'), 'does not match n', RETRAIN);
  const terms = readTerms(o['terms'], child(root, 'terms'), coding, coefficients, covariance, gaussian ? n - d : null);
  const dispersion = finite(o['dispersion'], child(root, 'dispersion'));
  if (!(dispersion > 0) || (!gaussian && dispersion !== 1))
    throw configError(child(root, 'dispersion'), gaussian ? 'must be positive' : 'must be 1', RETRAIN);
  const iterations = integer(o['iterations'], child(root, 'iterations'), 1);
  const ridge = finite(o['ridge'], child(root, 'ridge'));
  if (ridge < 0) throw configError(child(root, 'ridge'), 'must be ≥ 0', RETRAIN);
  const warnings = array(o['warnings'], child(root, 'warnings')).map((w, i) =>
    text(w, child(child(root, 'warnings'), i)),
  );
  return Object.freeze({
    format: MODEL_FORMAT,
    federation,
    dataset,
    createdAt,
    family: coding.family,
    link: coding.link,
    formula: coding.formula,
    statistic: gaussian ? 't' : 'z',
    terms,
    referenceLevels: coding.referenceLevels,
    dispersion,
    deviance: nonNegative(o['deviance'], child(root, 'deviance')),
    nullDeviance: nonNegative(o['nullDeviance'], child(root, 'nullDeviance')),
    aic: finite(o['aic'], child(root, 'aic')),
    n,
    dfResidual,
    dfNull,
    ridge,
    iterations,
    converged: boolean(o['converged'], child(root, 'converged')),
    warnings: Object.freeze(warnings),
    privacy: readPrivacy(o['privacy'], child(root, 'privacy')),
    rounds: readRounds(o['rounds'], child(root, 'rounds')),
    coding,
    coefficients: Object.freeze(coefficients),
    covariance: Object.freeze(covariance),
    schema: { datasets: { [dataset]: schemaOf } },
    schemaSha256: schemaSha256(schemaOf),
  });
}

/** The finite number ≥ 0 at `at`. */
export function nonNegative(raw: unknown, at: JsonLocation): number {
  const v = finite(raw, at);
  if (v < 0) throw configError(at, 'must be ≥ 0', RETRAIN);
  return v;
}

/** The embedded one-dataset schema, checked against its SHA-256. */
function readSchema(o: Record<string, unknown>, root: JsonLocation, dataset: string): DatasetSchema {
  const at = child(root, 'schema');
  const schema = parseSchema(o['schema'], root.file, at.path);
  const names = Object.keys(schema.datasets);
  if (names.length !== 1 || names[0] !== dataset)
    throw configError(child(at, 'datasets'), `must hold the one dataset ${dataset}`, RETRAIN);
  const ds = datasetSchema(schema, dataset);
  const sha = text(o['schemaSha256'], child(root, 'schemaSha256'), HEX64, '64 hex digits');
  if (sha !== schemaSha256(ds))
    throw configError(
      child(root, 'schemaSha256'),
      'does not match the schema in the file',
      'the file was edited; ' + RETRAIN,
    );
  return ds;
}

/** The federation's schema of `dataset`, which must be the one the model was trained on. */
function federationSchema(schema: Schema, dataset: string, embedded: DatasetSchema, root: JsonLocation): DatasetSchema {
  const ds = Object.hasOwn(schema.datasets, dataset) ? schema.datasets[dataset] : undefined;
  if (ds === undefined || schemaSha256(ds) !== schemaSha256(embedded)) {
    throw configError(
      child(root, 'schema'),
      ds === undefined
        ? `the federation has no dataset ${dataset}`
        : `the federation's schema of ${dataset} is not the one the model was trained on`,
      'train the model again in this federation, or leave out --federation to use the schema in the model',
    );
  }
  return ds;
}

/** The coding, derived again from its formula and the schema (design.ts `checkModelCoding`). */
export function readCoding(raw: unknown, at: JsonLocation, ds: DatasetSchema, dataset: string): ModelCoding {
  try {
    return checkModelCoding(raw, ds, dataset);
  } catch (e) {
    if (!(e instanceof FedstatError)) throw e;
    const field = e.details['field'];
    const where = typeof field === 'string' ? child(at, field) : at;
    const problem = e.message.split('\n')[0] ?? e.message;
    throw configError(where, `is refused: ${problem}`, 'the file was edited; ' + RETRAIN);
  }
}

/**
 * The table's rows, each checked against the coefficients: estimate = (Mᵀβ')_j, stderr = √Cov_jj,
 * z = estimate/stderr, p from z (t with n - d degrees of freedom for gaussian), ci95 = estimate ±
 * 1.96·stderr, as inference.ts computes them.
 */
function readTerms(
  raw: unknown,
  at: JsonLocation,
  coding: ModelCoding,
  beta: readonly number[],
  cov: readonly number[],
  tDf: number | null,
): readonly CoefficientRow[] {
  const d = coding.columns.length;
  const m = scalingOf(coding);
  return Object.freeze(
    array(raw, at, d).map((r, j): CoefficientRow => {
      const here = child(at, j);
      const row = object(r, here, ['term', 'estimate', 'stderr', 'z', 'p', 'ci95']);
      const term = text(row['term'], child(here, 'term'));
      if (term !== coding.coefficients[j])
        throw configError(child(here, 'term'), `must be ${coding.coefficients[j] ?? ''}, the coding's name`, RETRAIN);
      const estimate = finite(row['estimate'], child(here, 'estimate'));
      const stderr = finite(row['stderr'], child(here, 'stderr'));
      const z = finite(row['z'], child(here, 'z'));
      const p = finite(row['p'], child(here, 'p'));
      const ci = array(row['ci95'], child(here, 'ci95'), 2).map((v, k) => finite(v, child(child(here, 'ci95'), k)));
      let sum = 0;
      let scale = 0;
      for (let i = 0; i < d; i++) {
        const t = (m[i * d + j] as number) * (beta[i] as number);
        sum += t;
        scale += Math.abs(t);
      }
      const inconsistent = (key: string, what: string): FedstatError =>
        configError(child(here, key), `does not match ${what}`, 'the file was edited; ' + RETRAIN);
      if (!close(estimate, sum, scale)) throw inconsistent('estimate', 'the coefficients');
      const variance = cov[j * d + j] as number;
      if (!(stderr > 0) || !close(stderr, Math.sqrt(variance), stderr)) throw inconsistent('stderr', 'the covariance');
      if (!close(z, estimate / stderr, Math.abs(z))) throw inconsistent('z', 'estimate / stderr');
      const expectedP = tDf === null ? normalTwoSidedP(z) : studentTwoSidedP(z, tDf);
      if (!(p >= 0 && p <= 1) || !close(p, expectedP, expectedP, 1e-6)) throw inconsistent('p', `z`);
      const half = Z_975 * stderr;
      const [lo, hi] = ci as [number, number];
      if (
        !close(lo, estimate - half, Math.abs(estimate) + half) ||
        !close(hi, estimate + half, Math.abs(estimate) + half)
      )
        throw inconsistent('ci95', 'estimate ± 1.96·stderr');
      return Object.freeze({
        term,
        estimate,
        stderr,
        z,
        p,
        ci95: Object.freeze<[number, number]>([lo, hi]),
      });
    }),
  );
}

function rhoText(raw: unknown, at: JsonLocation): string {
  const t = text(raw, at, undefined, 'a canonical ρ "n/d"');
  if (parseCanonicalRho(t) === null) throw configError(at, 'must be a canonical ρ "n/d"', RETRAIN);
  return t;
}

/** The privacy keys every model file has; a GLM's adds `intervals`. */
export const PRIVACY_KEYS = ['rho', 'rhoPerRound', 'rounds', 'epsilon', 'delta', 'threshold'] as const;

/** The `PRIVACY_KEYS` fields of the privacy object `o` at `at`, checked. */
export function privacyFields(o: Record<string, unknown>, at: JsonLocation): Omit<ModelPrivacy, 'intervals'> {
  const delta = finite(o['delta'], child(at, 'delta'));
  if (!(delta > 0 && delta < 1)) throw configError(child(at, 'delta'), 'must be in (0, 1)', RETRAIN);
  return {
    rho: rhoText(o['rho'], child(at, 'rho')),
    rhoPerRound: rhoText(o['rhoPerRound'], child(at, 'rhoPerRound')),
    rounds: integer(o['rounds'], child(at, 'rounds'), 1),
    epsilon: nonNegative(o['epsilon'], child(at, 'epsilon')),
    delta,
    threshold: integer(o['threshold'], child(at, 'threshold'), 1),
  };
}

function readPrivacy(raw: unknown, at: JsonLocation): ModelPrivacy | null {
  if (raw === null) return null;
  const o = object(raw, at, [...PRIVACY_KEYS, 'intervals']);
  return Object.freeze({ ...privacyFields(o, at), intervals: text(o['intervals'], child(at, 'intervals')) });
}

/** Round numbers of a fit are at most this (protocol/glm-round.ts' MAX_GLM_ROUNDS). */
const MAX_ROUND = 1000;

/** The `rounds` array: round numbers ascending from 1 to at most `maxRound`. */
export function readRounds(raw: unknown, at: JsonLocation, maxRound = MAX_ROUND): readonly ModelRound[] {
  let last = 0;
  return Object.freeze(
    array(raw, at).map((r, i): ModelRound => {
      const here = child(at, i);
      const o = object(r, here, ['round', 'queryId', 'agencies', 'logIndexes']);
      const round = integer(o['round'], child(here, 'round'), 1);
      if (round <= last || round > maxRound)
        throw configError(child(here, 'round'), `must be above ${last} and at most ${maxRound}`, RETRAIN);
      last = round;
      const queryId = text(o['queryId'], child(here, 'queryId'));
      if (!/^[0-9a-f]{32}$/.test(queryId)) throw configError(child(here, 'queryId'), 'must be 32 hex digits', RETRAIN);
      const agencies = array(o['agencies'], child(here, 'agencies')).map((v, k) =>
        text(v, child(child(here, 'agencies'), k)),
      );
      let previous = -1;
      const logIndexes = array(o['logIndexes'], child(here, 'logIndexes')).map((v, k) => {
        const index = integer(v, child(child(here, 'logIndexes'), k), 0);
        if (index <= previous)
          throw configError(child(child(here, 'logIndexes'), k), 'log indexes must ascend', RETRAIN);
        previous = index;
        return index;
      });
      return Object.freeze({
        round,
        queryId,
        agencies: Object.freeze(agencies),
        logIndexes: Object.freeze(logIndexes),
      });
    }),
  );
}
