/**
 * The whole encrypted pipeline as one algebraic claim, over random schemas (SQL-keyword names,
 * Unicode category values, integer bounds up to ±2^53), random data at 2-3 agencies and random
 * plans: agencies load CSV into DuckDB, answer signed plans with signed BFV ciphertexts, the
 * coordinator verifies and adds them, the key authority decrypts the total, and the released rows
 * equal a plain JavaScript computation over the same rows, suppression included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { average, type CellValue, type ResultRow } from '../../src/coordinator/release.js';
import { compareRows } from '../../src/demo/reference.js';
import type { DatasetSchema, Schema } from '../../src/federation/schema.js';
import { evaluatePredicate } from '../../src/query/evaluate.js';
import { formatPlan } from '../../src/query/format-plan.js';
import type { QueryPlan } from '../../src/query/plan.js';
import { schemaAndPlanArb } from '../query/arbitraries.js';
import { inProcessFederation, type Row } from '../helpers/in-process-federation.js';

function rowArb(ds: DatasetSchema): fc.Arbitrary<Row> {
  const fields: Record<string, fc.Arbitrary<string | number>> = {};
  for (const [name, c] of Object.entries(ds.columns)) {
    fields[name] = c.type === 'category' ? fc.constantFrom(...c.values)
      : c.type === 'integer' ? fc.oneof(fc.integer({ min: c.min, max: c.max }), fc.constantFrom(c.min, c.max))
        : fc.stringMatching(/^[a-z0-9]{1,8}$/);
  }
  return fc.record(fields);
}

/** The plaintext answer: filter, group, count and sum in JavaScript, then the release policy. */
function expectedRows(plan: QueryPlan, ds: DatasetSchema, rows: readonly Row[], minGroupSize: number): { rows: ResultRow[]; suppressed: number } {
  const groups = new Map<string, { key: number[]; count: bigint; sums: Map<string, bigint> }>();
  for (const row of rows) {
    if (!evaluatePredicate(plan.where, row)) continue;
    const key = plan.groupBy.map((g) => {
      const c = ds.columns[g];
      return c?.type === 'category' ? c.values.indexOf(String(row[g])) : -1;
    });
    const k = key.join(',');
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = { key, count: 0n, sums: new Map() }));
    g.count++;
    for (const [name, c] of Object.entries(ds.columns)) {
      if (c.type === 'integer') g.sums.set(name, (g.sums.get(name) ?? 0n) + BigInt(row[name] as number));
    }
  }
  if (plan.groupBy.length === 0 && groups.size === 0) groups.set('', { key: [], count: 0n, sums: new Map() }); // SQL's one row
  const sorted = [...groups.values()].sort((a, b) => {
    for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i]! - b.key[i]!;
    return 0;
  });
  let suppressed = 0;
  const out: ResultRow[] = [];
  for (const g of sorted) {
    if (g.count < BigInt(minGroupSize)) { suppressed++; continue; }
    const r: Record<string, CellValue> = {};
    for (const s of plan.select) {
      if (s.kind === 'group') {
        const c = ds.columns[s.column];
        r[s.alias] = c?.type === 'category' ? c.values[g.key[plan.groupBy.indexOf(s.column)]!]! : '';
      } else if (s.fn === 'count') r[s.alias] = g.count;
      else {
        const sum = g.sums.get(s.column!) ?? 0n;
        r[s.alias] = s.fn === 'sum' ? sum : average(sum, g.count);
      }
    }
    out.push(r);
  }
  return { rows: out, suppressed };
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
    await fc.assert(fc.asyncProperty(caseArb, async ({ schema, plan, data, minGroupSize }) => {
      await using fed = await inProcessFederation(schema, plan.dataset, data, { minAgencies: 2, minGroupSize });
      const result = await fed.coordinator.query(formatPlan(plan));
      const expected = expectedRows(result.plan, schema.datasets[plan.dataset]!, data.flat(), minGroupSize);
      expect(result.agencies.answered).toHaveLength(data.length);
      expect(compareRows(result.rows, expected.rows)).toBeNull();
      expect(result.suppressed).toBe(expected.suppressed);
    }), { numRuns: 10 });
  });
});
