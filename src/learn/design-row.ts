/**
 * One record through a model coding: its design vector x (sparse: each term is non-zero in at most
 * one of its columns, so a row has at most terms + 1 non-zero entries), its response y and its
 * offset. Every entry satisfies |x_j| ≤ 1 (scaling.ts). Records are validated against the coding
 * as they are read: a value outside its schema domain is DATA_INVALID naming the column, never the
 * value.
 */
import { FedstatError } from '../errors.js';
import type { ModelCoding } from './design.js';
import { columnWithinTerm } from './term-coding.js';

/** A record as the store or a CSV reader hands it over: column → value. */
export type DataRecord = Readonly<Record<string, string | number>>;

/** A coded row; `index[0..nnz)` and `value[0..nnz)` are its non-zero design entries. */
export interface EncodedRow {
  readonly index: Int32Array;
  readonly value: Float64Array;
  nnz: number;
  y: number;
  offset: number;
}

type Reader = (rec: DataRecord) => number;
interface Compiled {
  readonly terms: readonly {
    readonly first: number;
    readonly readers: readonly Reader[];
    readonly coded: ModelCoding['terms'][number];
  }[];
  readonly response: Reader;
  readonly offset: Reader;
}

function invalid(column: string, problem: string): FedstatError {
  return new FedstatError('DATA_INVALID', `a record's ${column} ${problem}`, { details: { columnName: column } });
}

/** Reads an integer column (a number, or a string of digits as a CSV gives it) within its bounds. */
function integerReader(column: string, min: number, max: number): Reader {
  return (rec) => {
    const raw = rec[column];
    const v =
      typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
    if (raw === undefined) throw invalid(column, 'is missing');
    if (!Number.isSafeInteger(v) || v < min || v > max)
      throw invalid(column, `is not a whole number in ${min}..${max}`);
    return v;
  };
}

/** Reads a category column as the index of its value in the schema's domain. */
function categoryReader(column: string, values: readonly string[]): Reader {
  const index = new Map(values.map((v, i) => [v, i]));
  return (rec) => {
    const raw = rec[column];
    if (raw === undefined) throw invalid(column, 'is missing');
    const i = typeof raw === 'string' ? index.get(raw) : undefined;
    if (i === undefined) throw invalid(column, 'holds a value outside its schema domain');
    return i;
  };
}

function compile(coding: ModelCoding): Compiled {
  const terms = coding.terms.map((t) => ({
    first: t.firstColumn,
    coded: t,
    readers: t.factors.map((x): Reader => {
      if (x.kind === 'category') return categoryReader(x.column, x.values);
      return integerReader(x.column, x.min, x.max);
    }),
  }));
  const r = coding.response;
  const response: Reader =
    r.kind === 'category'
      ? ((read, event) => (rec: DataRecord) => (read(rec) === event ? 1 : 0))(
          categoryReader(r.column, r.values),
          r.values.indexOf(r.event),
        )
      : integerReader(r.column, r.min, r.max);
  const o = coding.offset;
  const offset: Reader =
    o === null
      ? () => 0
      : ((read, log) => (rec: DataRecord) => (log ? Math.log(read(rec)) : read(rec)))(
          integerReader(o.column, o.min, o.max),
          o.log,
        );
  return { terms, response, offset };
}

const compiled = new WeakMap<ModelCoding, Compiled>();
function compiledOf(coding: ModelCoding): Compiled {
  let c = compiled.get(coding);
  if (c === undefined) {
    c = compile(coding);
    compiled.set(coding, c);
  }
  return c;
}

/** A reusable buffer for `encodeRecord`, sized for the coding. */
export function newEncodedRow(coding: ModelCoding): EncodedRow {
  const cap = coding.terms.length + 1;
  return { index: new Int32Array(cap), value: new Float64Array(cap), nnz: 0, y: 0, offset: 0 };
}

/** Codes `record` into `into` (a fresh buffer when omitted) and returns it. Throws DATA_INVALID. */
export function encodeRecord(
  coding: ModelCoding,
  record: DataRecord,
  into: EncodedRow = newEncodedRow(coding),
): EncodedRow {
  const c = compiledOf(coding);
  let nnz = 0;
  if (coding.intercept) {
    into.index[0] = 0;
    into.value[0] = 1;
    nnz = 1;
  }
  const levels: number[] = [];
  for (const t of c.terms) {
    let value = 1;
    levels.length = 0;
    t.coded.factors.forEach((x, k) => {
      const v = (t.readers[k] as Reader)(record);
      if (x.kind === 'integer') {
        value *= (v - x.center) / x.scale;
        levels.push(-1);
      } else {
        levels.push(v);
      }
    });
    const pos = columnWithinTerm(t.coded.factors, levels);
    if (pos < 0 || value === 0) continue;
    into.index[nnz] = t.first + pos;
    into.value[nnz] = value;
    nnz++;
  }
  into.nnz = nnz;
  into.y = c.response(record);
  into.offset = c.offset(record);
  return into;
}

/** The record's design vector x (dense, length d), on the internal scale: |x_j| ≤ 1. */
export function designVector(coding: ModelCoding, record: DataRecord): Float64Array {
  const row = encodeRecord(coding, record);
  const x = new Float64Array(coding.columns.length);
  for (let k = 0; k < row.nnz; k++) x[row.index[k] as number] = row.value[k] as number;
  return x;
}

/** The record's response y: 0/1 for binomial, the integer otherwise. */
export function responseOf(coding: ModelCoding, record: DataRecord): number {
  return compiledOf(coding).response(record);
}

/** The record's offset (0 without one; log(col) for `offset(log(col))`). */
export function offsetOf(coding: ModelCoding, record: DataRecord): number {
  return compiledOf(coding).offset(record);
}
