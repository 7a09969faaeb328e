/** The schema of the example, plus an identifier column that no query may name. */
import { parseSchema } from '../../src/federation/schema.js';
import type { Schema } from '../../src/federation/schema.js';

export const DISTRICTS = ['锦江区', '青羊区', '金牛区', '武侯区', '成华区'] as const;

export const RESIDENTS: Schema = parseSchema(
  {
    datasets: {
      residents: {
        columns: {
          district: { type: 'category', values: [...DISTRICTS] },
          age: { type: 'integer', min: 0, max: 120 },
          income: { type: 'integer', min: 0, max: 2_000_000 },
          citizen_id: { type: 'id', format: 'gb11643' },
          insured: { type: 'category', values: ['yes', 'no'] },
        },
      },
      rentals: {
        columns: {
          district: { type: 'category', values: [...DISTRICTS] },
          rent: { type: 'integer', min: -5, max: 100_000 },
        },
      },
    },
  },
  'test-schema.json',
);
