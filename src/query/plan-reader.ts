/**
 * Reading a plan that arrives as a plain object from the network, one field at a time: only own
 * data properties, exact keys, sizes checked before any walk, and only FedstatError thrown
 * (BAD_MESSAGE naming the path). validate-plan.ts and validate-join-plan.ts read with these.
 */
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import { idColumnError, queryableColumns } from './names.js';
import { queryInvalid, quoted } from './query-error.js';
import { closest, listNames } from './suggest.js';

export type Fields = Readonly<Record<string, unknown>>;

/** The readers of one kind of plan; `label` starts every message ("query plan: select: …"). */
export interface PlanReader {
  readonly bad: (path: string, problem: string) => FedstatError;
  /** The own data properties of a plain object: exactly `keys` (plus any of `optional`), no accessors, no symbols. */
  readonly fields: (v: unknown, path: string, keys: readonly string[], optional?: readonly string[]) => Fields;
  /** The elements of an array of at least `min` and at most `max` items, read as data properties. */
  readonly list: (v: unknown, path: string, min: number, max: number) => unknown[];
  /** A string of at most `maxLength` characters (the reader's default otherwise). */
  readonly text: (v: unknown, path: string, maxLength?: number) => string;
  readonly oneOf: <T extends string>(v: unknown, path: string, allowed: readonly T[]) => T;
}

export function planReader(label: string, textMax: number): PlanReader {
  const bad = (path: string, problem: string): FedstatError =>
    new FedstatError('BAD_MESSAGE', `${label}: ${path === '' ? '' : `${path}: `}${problem}`, { details: { path } });
  return {
    bad,
    fields: (v, path, keys, optional = []) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(path, 'expected an object');
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw bad(path, 'expected a plain object');
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const k of Reflect.ownKeys(v)) {
        if (typeof k !== 'string' || !(keys.includes(k) || optional.includes(k)))
          throw bad(path, `unexpected field ${typeof k === 'string' ? quoted(k, 40) : 'symbol'}`);
        const d = Object.getOwnPropertyDescriptor(v, k);
        if (d === undefined || !('value' in d)) throw bad(path, `field ${k} is not a data property`);
        out[k] = d.value;
      }
      for (const k of keys) if (!(k in out)) throw bad(path, `missing field ${k}`);
      return out;
    },
    list: (v, path, min, max) => {
      if (!Array.isArray(v)) throw bad(path, 'expected an array');
      const n = (v as unknown[]).length;
      if (n < min || n > max) throw bad(path, `expected ${min === max ? min : `${min} to ${max}`} items, got ${n}`);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const d = Object.getOwnPropertyDescriptor(v, i);
        if (d === undefined || !('value' in d)) throw bad(`${path}[${i}]`, 'missing item');
        out.push(d.value);
      }
      return out;
    },
    text: (v, path, maxLength = textMax) => {
      if (typeof v !== 'string') throw bad(path, 'expected a string');
      if (v.length > maxLength) throw bad(path, `string longer than ${maxLength}`);
      return v;
    },
    oneOf: <T extends string>(v: unknown, path: string, allowed: readonly T[]): T => {
      if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
        throw bad(path, `expected one of ${allowed.join(', ')}`);
      return v as T;
    },
  };
}

/** The column `name` of the dataset, refusing unknown columns (with did-you-mean) and id columns. */
export function planColumn(dsName: string, ds: DatasetSchema, name: string) {
  const col = Object.hasOwn(ds.columns, name) ? ds.columns[name] : undefined;
  if (col === undefined) {
    const valid = queryableColumns(ds);
    const hit = closest(name, valid)[0];
    throw queryInvalid(
      `unknown column ${quoted(name)} in ${dsName}`,
      null,
      `valid columns: ${listNames(valid)}${hit === undefined ? '' : ` (did you mean ${hit}?)`}`,
      { columnName: name, valid },
    );
  }
  if (col.type === 'id') throw idColumnError(dsName, name, null);
  return col;
}
