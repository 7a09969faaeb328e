/**
 * The whole encrypted pipeline as one algebraic claim, over random schemas (SQL-keyword names,
 * Unicode category values, integer bounds up to ±2^53), random data at 2-3 agencies and random
 * plans: agencies load CSV into DuckDB, answer signed plans with signed BFV ciphertexts, the
 * coordinator verifies and adds them, the key authority decrypts the total, and the released rows
 * equal the plain JavaScript reference over the same rows, suppression included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareRows, referenceOfRows } from '../../src/demo/reference.js';
import type { DatasetSchema, Schema } from '../../src/federation/schema.js';
import { formatPlan } from '../../src/query/format-plan.js';
import { schemaAndPlanArb } from '../query/arbitraries.js';
import { inProcessFederation, type Row } from '../helpers/in-process-federation.js';

function rowArb(ds: DatasetSchema): fc.Arbitrary<Row> {
  const fields: Record<string, fc.Arbitrary<string | number>> = {};
  for (const [name, c] of Object.entries(ds.columns)) {
    fields[name] =
      c.type === 'category'
        ? fc.constantFrom(...c.values)
        : c.type === 'integer'
          ? fc.oneof(fc.integer({ min: c.min, max: c.max }), fc.constantFrom(c.min, c.max))
          : fc.stringMatching(/^[a-z0-9]{1,8}$/);
  }
  return fc.record(fields);
}

const caseArb = schemaAndPlanArb.chain(([schema, plan]) => {
  const ds = schema.datasets[plan.dataset]!;
  return fc.record({
    schema: fc.constant<Schema>(schema),
    plan: fc.constant(plan),
    data: fc.array(fc.array(rowArb(ds), { maxLength: 25 }), { minLength: 2, maxLength: 3 }),
    minGroupSize: fc.integer({ min: 1, max: 3 }),
  });
});

describe('encrypted pipeline = plaintext (property)', () => {
  it('holds for random schemas, data and plans', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ schema, plan, data, minGroupSize }) => {
        await using fed = await inProcessFederation(schema, plan.dataset, data, {
          minAgencies: 2,
          minGroupSize,
          exactRelease: true,
          transparencyLog: false,
        });
        const result = await fed.coordinator.query(formatPlan(plan));
        const expected = referenceOfRows(result.plan, schema.datasets[plan.dataset]!, data.flat(), {
          minAgencies: 2,
          minGroupSize,
          exactRelease: true,
          transparencyLog: false,
        });
        expect(result.agencies.answered).toHaveLength(data.length);
        expect(compareRows(result.rows, expected.rows)).toBeNull();
        expect(result.suppressed).toBe(expected.suppressed);
      }),
      { numRuns: 10 },
    );
  }, 420_000); // ten federations with fresh SEAL keys: about 6 s each alone, three times that beside a test with agency processes
});
