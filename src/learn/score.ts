/**
 * Scoring a record with a fitted model: its linear predictor η and its fitted mean μ, computed
 * exactly as a Newton round computes them (sums.ts `accumulateEntries`): the record coded by
 * design-row.ts, η = offset + Σ x_j·β'_j over its non-zero entries in design order, with the
 * internal-scale coefficients, and μ = linkinv(η held to the coding's clamp). So the score of a
 * record equals, bit for bit, the η and μ the fit used for it at its final coefficients.
 *
 * `eta` is reported unclamped (as R's `predict(type = "link")`); `fitted` is on the response
 * scale (a probability for binomial, an expected count for poisson, offset included).
 */
import type { ModelCoding } from './design.js';
import { encodeRecord, newEncodedRow } from './design-row.js';
import type { DataRecord, EncodedRow } from './design-row.js';
import { clampEta, familyOf } from './family.js';

/** What scoring needs of a model (a `ModelDocument` has both). */
export interface ScoringModel {
  readonly coding: ModelCoding;
  /** β' on the internal scale, in `coding.coefficients` order. */
  readonly coefficients: readonly number[];
}

/** A record's score. */
export interface Score {
  /** The linear predictor, offset included, unclamped. */
  readonly eta: number;
  /** The fitted mean, at η held to the model's range. */
  readonly fitted: number;
  /** True when η was outside the model's range, so `fitted` is the mean at its bound. */
  readonly clamped: boolean;
}

const buffers = new WeakMap<ModelCoding, EncodedRow>();

/** The response's placeholder for a record without it: scoring never reads y. */
export function withResponse(coding: ModelCoding, record: DataRecord): DataRecord {
  const r = coding.response;
  if (record[r.column] !== undefined) return record;
  return { ...record, [r.column]: r.kind === 'category' ? (r.values[0] as string) : r.min };
}

/**
 * The score of `record` (column → value, as a CSV reader or the store gives it). The response
 * column may be absent. Throws DATA_INVALID naming the column when a value the model reads is
 * missing or outside its schema domain.
 */
export function scoreRecord(model: ScoringModel, record: DataRecord): Score {
  const { coding, coefficients: beta } = model;
  if (beta.length !== coding.columns.length)
    throw new RangeError('scoreRecord: the coefficients do not match the coding');
  let row = buffers.get(coding);
  if (row === undefined) {
    row = newEncodedRow(coding);
    buffers.set(coding, row);
  }
  encodeRecord(coding, withResponse(coding, record), row);
  let eta = row.offset;
  for (let a = 0; a < row.nnz; a++) eta += (row.value[a] as number) * (beta[row.index[a] as number] as number);
  const held = clampEta(eta, coding.eta);
  return { eta, fitted: familyOf(coding.family).linkinv(held), clamped: held !== eta };
}
