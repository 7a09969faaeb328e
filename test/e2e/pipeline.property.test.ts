/**
 * The whole encrypted pipeline as one algebraic claim, over random schemas (SQL-keyword names,
 * Unicode category values, integer bounds up to ±2^53), random data at 2-3 agencies and random
 * plans: agencies load CSV into DuckDB (or one answers from a live PostgreSQL table), answer signed
 * plans with signed BFV ciphertexts, the coordinator verifies and adds them, the key authority
 * decrypts the total, and the released rows equal the plain JavaScript reference over the same
 * rows, suppression included.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRows, referenceOfRows } from '../../src/demo/reference.js';
import type { DatasetSchema, Schema } from '../../src/federation/schema.js';
import { formatPlan } from '../../src/query/format-plan.js';
import { schemaAndPlanArb } from '../query/arbitraries.js';
import { inProcessFederation, type InProcessOptions, type Row } from '../helpers/in-process-federation.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';

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

type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

async function holds({ schema, plan, data, minGroupSize }: Case, options: InProcessOptions = {}): Promise<void> {
  await using fed = await inProcessFederation(
    schema,
    plan.dataset,
    data,
    { minAgencies: 2, minGroupSize, exactRelease: true, transparencyLog: false },
    options,
  );
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
}

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('pipeline property');
});
afterAll(async () => {
  await db.drop();
});

describe('encrypted pipeline = plaintext (property)', () => {
  it('holds for random schemas, data and plans', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => holds(c)),
      { numRuns: 8 },
    );
  }, 360_000); // eight federations with fresh SEAL keys: about 6 s each alone, three times that beside a test with agency processes

  it('holds with one agency answering from a live PostgreSQL table', async () => {
    await fc.assert(
      fc.asyncProperty(
        caseArb.chain((c) => fc.nat(c.data.length - 1).map((pg) => [c, pg] as const)),
        ([c, pg]) => holds(c, { postgres: { db, agencies: [pg] } }),
      ),
      { numRuns: 3 },
    );
  }, 150_000); // three federations, as above
});
