/**
 * The seed federation's schema (seeds/sichuan/schema.json), for linked-record queries, and a
 * variant with a dataset whose id column holds `text` ids (which cannot be linked to gb11643 ids).
 */
import { readFileSync } from 'node:fs';
import { parseSchema } from '../../src/federation/schema.js';
import type { Schema } from '../../src/federation/schema.js';

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
