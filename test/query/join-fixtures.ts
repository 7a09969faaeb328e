/**
 * The seed federation's schema (seeds/sichuan/schema.json), for linked-record queries, and a
 * variant with a dataset whose id column holds `text` ids (which cannot be linked to gb11643 ids).
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { ErrorCode, FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { Schema } from '../../src/federation/schema.js';
import { parseJoinQuery } from '../../src/query/parse-join.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

const raw = JSON.parse(readFileSync(new URL('../../seeds/sichuan/schema.json', import.meta.url), 'utf8')) as {
  datasets: Record<string, unknown>;
};

export const SEED: Schema = parseSchema(raw, 'seeds/sichuan/schema.json');

export const SEED_WITH_TEXT_IDS: Schema = parseSchema(
  {
    datasets: {
      ...raw.datasets,
      hotel_stays: {
        columns: {
          guest_id: { type: 'id', format: 'text' },
          city: { type: 'category', values: ['成都市', '绵阳市', '德阳市'] },
          nights: { type: 'integer', min: 1, max: 365 },
        },
      },
    },
  },
  'seeds-with-text-ids.json',
);

/** Deeply frozen: every object and array reachable from `v`. */
export function deepFrozen(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  return Object.isFrozen(v) && Object.values(v).every(deepFrozen);
}

/** Where the error must point: the first occurrence of a snippet, or its nth (from 1). */
export type Needle = string | readonly [string, number];

/** The 1-based column of `needle` in the one-line `sql`. */
function columnOf(sql: string, needle: Needle): number {
  const [text, nth] = typeof needle === 'string' ? [needle, 1] : needle;
  let at = -1;
  for (let i = 0; i < nth; i++) at = sql.indexOf(text, at + 1);
  if (at < 0) throw new Error(`test bug: ${text} is not in the query`);
  return at + 1;
}

/** Checks code, message text, one-line message and that the error points at `needle`. */
export function refuses(sql: string, pattern: RegExp, needle: Needle, code: ErrorCode = 'QUERY_INVALID'): FedstatError {
  const e = fedstatErrorOf(() => parseJoinQuery(sql, SEED_WITH_TEXT_IDS));
  expect(e.code).toBe(code);
  expect(e.message).toMatch(pattern);
  expect(e.message).not.toMatch(/[\n\r]/);
  const column = columnOf(sql, needle);
  expect([e.details['line'], e.details['column']]).toEqual([1, column]);
  expect(e.message).toContain(`at 1:${column}`);
  return e;
}
