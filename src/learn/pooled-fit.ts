/**
 * The whole fit in one process, on records held in memory: the reference that federated fits are
 * checked against and the benchmark's baseline. It runs exactly the rounds a federated fit runs
 * (newton.ts), only with the sums computed here instead of gathered from agencies; `fitWithSums`
 * takes any source of sums, so a test can add per-partition sums the way the coordinator will.
 */
import type { ModelCoding } from './design.js';
import type { DataRecord } from './design-row.js';
import { encodeRecord, newEncodedRow } from './design-row.js';
import { inferenceTable } from './inference.js';
import type { GlmTable } from './inference.js';
import { newtonOptions, newtonRound, startNewton } from './newton.js';
import type { NewtonOptions, NewtonState, RoundReport } from './newton.js';
import { accumulate, accumulateEntries, emptySums } from './sums.js';
import type { GlmSums } from './sums.js';

/** Options of a fit: Newton's (ridge, tolerance, maxRounds) and a progress callback. */
export interface FitOptions extends Partial<NewtonOptions> {
  /** Called after each round with its report. */
  readonly onRound?: (report: RoundReport) => void;
}

/** A finished fit: the table, and the final Newton state (its rounds in `state.history`). */
export interface GlmFit {
  readonly table: GlmTable;
  readonly state: NewtonState;
}

/** Rows coded once (CSR-like: row i's entries are `start[i] .. start[i+1]`), reused every round. */
export interface EncodedRows {
  readonly start: Int32Array;
  readonly index: Int32Array;
  readonly value: Float64Array;
  readonly y: Float64Array;
  readonly offset: Float64Array;
}

/** Codes every record once. Throws DATA_INVALID at the first record that breaks its schema. */
export function encodeRows(coding: ModelCoding, rows: readonly DataRecord[]): EncodedRows {
  const row = newEncodedRow(coding);
  const width = row.index.length;
  const start = new Int32Array(rows.length + 1);
  const index = new Int32Array(rows.length * width);
  const value = new Float64Array(rows.length * width);
  const y = new Float64Array(rows.length);
  const offset = new Float64Array(rows.length);
  let at = 0;
  rows.forEach((rec, i) => {
    encodeRecord(coding, rec, row);
    for (let k = 0; k < row.nnz; k++) {
      index[at] = row.index[k] as number;
      value[at] = row.value[k] as number;
      at++;
    }
    start[i + 1] = at;
    y[i] = row.y;
    offset[i] = row.offset;
  });
  return { start, index: index.slice(0, at), value: value.slice(0, at), y, offset };
}

/** The sums over coded rows at β. */
export function sumsOfRows(coding: ModelCoding, rows: EncodedRows, beta: ArrayLike<number>): GlmSums {
  const sums = emptySums(coding.columns.length);
  for (let i = 0; i < rows.y.length; i++) {
    accumulateEntries(
      sums,
      coding,
      rows.index,
      rows.value,
      rows.start[i] as number,
      rows.start[i + 1] as number,
      rows.y[i] as number,
      rows.offset[i] as number,
      beta,
    );
  }
  return sums;
}

/** The sums over records at β (coding each record on the way). */
export function sumsOf(coding: ModelCoding, records: Iterable<DataRecord>, beta: ArrayLike<number>): GlmSums {
  const sums = emptySums(coding.columns.length);
  const row = newEncodedRow(coding);
  for (const rec of records) accumulate(sums, coding, encodeRecord(coding, rec, row), beta);
  return sums;
}

/** Runs the rounds with sums from `sumsAt(beta)`, however they are computed, to the table. */
export function fitWithSums(
  coding: ModelCoding,
  sumsAt: (beta: readonly number[]) => GlmSums,
  options: FitOptions = {},
): GlmFit {
  const { onRound, ...rest } = options;
  const newton = newtonOptions(rest);
  let state = startNewton(coding);
  let sums = sumsAt(state.beta);
  for (;;) {
    state = newtonRound(state, sums, coding, newton);
    const report = state.history.at(-1);
    if (onRound !== undefined && report !== undefined) onRound(report);
    if (state.phase === 'done') break;
    sums = sumsAt(state.beta);
  }
  return { table: inferenceTable(coding, state, sums, newton.ridge), state };
}

/** Fits `coding` to `rows` in this process (see the file comment). Throws as the federated fit would. */
export function fitPooled(rows: readonly DataRecord[], coding: ModelCoding, options: FitOptions = {}): GlmFit {
  const encoded = encodeRows(coding, rows);
  return fitWithSums(coding, (beta) => sumsOfRows(coding, encoded, beta), options);
}
