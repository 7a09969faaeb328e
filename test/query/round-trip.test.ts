import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPlan } from '../../src/query/format-plan.js';
import { parseQuery } from '../../src/query/parse.js';
import { validatePlan } from '../../src/query/validate-plan.js';
import { schemaAndTotalsPlanArb } from './arbitraries.js';

describe('formatPlan / parseQuery round trip', () => {
  it('parseQuery(formatPlan(p)) deep-equals p for random plans over random schemas', () => {
    fc.assert(
      fc.property(schemaAndTotalsPlanArb, ([schema, plan]) => {
        const sql = formatPlan(plan);
        expect(sql).not.toMatch(/[\n\r]/);
        const parsed = parseQuery(sql, schema);
        expect(parsed).toEqual(plan);
        // toEqual ignores an undefined field; the signed form must not even hold the key.
        expect(Object.hasOwn(parsed, 'totals')).toBe(plan.totals !== undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('validatePlan accepts every plan parseQuery produces, unchanged', () => {
    fc.assert(
      fc.property(schemaAndTotalsPlanArb, ([schema, plan]) => {
        const parsed = parseQuery(formatPlan(plan), schema);
        expect(validatePlan(JSON.parse(JSON.stringify(parsed)), schema)).toEqual(parsed);
        expect(validatePlan(parsed, schema)).toEqual(parsed);
      }),
      { numRuns: 200 },
    );
  });
});
