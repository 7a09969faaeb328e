import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluatePredicate } from '../../src/query/evaluate.js';
import type { Predicate } from '../../src/query/plan.js';
import { atomArb, predicateArb } from './arbitraries.js';
import { RESIDENTS } from './fixtures.js';

const row = { district: '锦江区', age: 30, income: 5000, insured: 'yes' };
const cmp = (column: string, op: '=' | '<>' | '<' | '<=' | '>' | '>=', value: string | number): Predicate => ({
  kind: 'compare',
  column,
  op,
  value,
});

describe('evaluatePredicate', () => {
  it('is true for no predicate', () => {
    expect(evaluatePredicate(null, row)).toBe(true);
  });

  it.each([
    [cmp('age', '=', 30), true],
    [cmp('age', '=', 31), false],
    [cmp('age', '<>', 30), false],
    [cmp('age', '<>', 31), true],
    [cmp('age', '<', 30), false],
    [cmp('age', '<', 31), true],
    [cmp('age', '<=', 30), true],
    [cmp('age', '<=', 29), false],
    [cmp('age', '>', 30), false],
    [cmp('age', '>', 29), true],
    [cmp('age', '>=', 30), true],
    [cmp('age', '>=', 31), false],
    [cmp('district', '=', '锦江区'), true],
    [cmp('district', '<>', '锦江区'), false],
    [{ kind: 'in', column: 'district', values: ['青羊区', '锦江区'] }, true],
    [{ kind: 'in', column: 'age', values: [1, 2] }, false],
    [{ kind: 'between', column: 'age', low: 30, high: 40 }, true],
    [{ kind: 'between', column: 'age', low: 20, high: 30 }, true],
    [{ kind: 'between', column: 'age', low: 31, high: 40 }, false],
    [{ kind: 'between', column: 'age', low: 40, high: 20 }, false],
    [{ kind: 'not', arg: cmp('age', '=', 30) }, false],
    [{ kind: 'and', args: [cmp('age', '=', 30), cmp('insured', '=', 'yes'), cmp('income', '>', 100)] }, true],
    [{ kind: 'and', args: [cmp('age', '=', 30), cmp('insured', '=', 'no')] }, false],
    [{ kind: 'or', args: [cmp('age', '=', 1), cmp('insured', '=', 'no')] }, false],
    [{ kind: 'or', args: [cmp('age', '=', 1), cmp('insured', '=', 'yes')] }, true],
  ] as [Predicate, boolean][])('%j → %s', (pred, expected) => {
    expect(evaluatePredicate(pred, row)).toBe(expected);
  });

  it('throws for a row without the column or with a value of the other type', () => {
    expect(() => evaluatePredicate(cmp('rent', '=', 1), row)).toThrow(RangeError);
    expect(() => evaluatePredicate(cmp('age', '=', '30'), row)).toThrow(TypeError);
  });

  it('agrees with a truth-table evaluation of the same tree over random rows', () => {
    // Independent reference: each comparison becomes a bit, connectives evaluate on bits.
    const ds = RESIDENTS.datasets['residents']!;
    const dsNoId = {
      columns: Object.fromEntries(Object.entries(ds.columns).filter(([, c]) => c.type !== 'id')),
      maxRows: 1,
    };
    const rowArb = fc.record({
      district: fc.constantFrom('锦江区', '青羊区', '金牛区', '武侯区', '成华区'),
      age: fc.integer({ min: 0, max: 120 }),
      income: fc.integer({ min: 0, max: 2_000_000 }),
      insured: fc.constantFrom('yes', 'no'),
    });
    const bit = (p: Predicate, r: Record<string, string | number>): boolean => {
      switch (p.kind) {
        case 'and':
          return p.args.reduce((acc, a) => acc && bit(a, r), true);
        case 'or':
          return p.args.reduce((acc, a) => acc || bit(a, r), false);
        case 'not':
          return !bit(p.arg, r);
        case 'in':
          return p.values.includes(r[p.column]!);
        case 'between':
          return (r[p.column] as number) >= (p.low as number) && (r[p.column] as number) <= (p.high as number);
        case 'compare': {
          const v = r[p.column]!;
          const d = typeof v === 'number' ? v - (p.value as number) : v === p.value ? 0 : 1;
          return { '=': d === 0, '<>': d !== 0, '<': d < 0, '<=': d <= 0, '>': d > 0, '>=': d >= 0 }[p.op];
        }
      }
    };
    fc.assert(
      fc.property(predicateArb(atomArb(dsNoId), 4), rowArb, (p, r) => {
        expect(evaluatePredicate(p, r)).toBe(bit(p, r));
      }),
      { numRuns: 500 },
    );
  });
});
