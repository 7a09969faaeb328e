/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- the tests mutate arbitrary wire JSON */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import { formatPlan } from '../../src/query/format-plan.js';
import { parseQuery } from '../../src/query/parse.js';
import { QUERY_LIMITS } from '../../src/query/limits.js';
import { validatePlan } from '../../src/query/validate-plan.js';
import type { QueryPlan } from '../../src/query/plan.js';
import { schemaAndTotalsPlanArb } from './arbitraries.js';
import { RESIDENTS } from './fixtures.js';

const VALID: QueryPlan = parseQuery(
  "SELECT district, COUNT(*), AVG(income) AS avg_pay FROM residents WHERE age BETWEEN 18 AND 60 AND NOT district IN ('锦江区') GROUP BY district",
  RESIDENTS,
);

/** A mutable deep copy of the valid plan, as JSON from the wire would be. */
const wire = (): Record<string, any> => JSON.parse(JSON.stringify(VALID)) as Record<string, any>;

function code(raw: unknown): ErrorCode | 'ok' {
  try {
    validatePlan(raw, RESIDENTS);
    return 'ok';
  } catch (e) {
    if (e instanceof FedstatError) return e.code;
    throw e;
  }
}

function message(raw: unknown): string {
  try {
    validatePlan(raw, RESIDENTS);
  } catch (e) {
    if (e instanceof FedstatError) return e.message;
  }
  throw new Error('accepted');
}

const ALLOWED: readonly (ErrorCode | 'ok')[] = ['ok', 'BAD_MESSAGE', 'QUERY_INVALID', 'NOT_FOUND'];

describe('validatePlan', () => {
  it('accepts a plan from the wire and returns a fresh deep-frozen copy', () => {
    const raw = wire();
    const plan = validatePlan(raw, RESIDENTS);
    expect(plan).toEqual(VALID);
    expect(
      Object.isFrozen(plan) &&
        Object.isFrozen(plan.select) &&
        Object.isFrozen(plan.select[2]) &&
        Object.isFrozen(plan.where),
    ).toBe(true);
    raw['where'].args[0].low = 99;
    raw['select'][0].alias = 'x';
    expect(plan).toEqual(VALID);
  });

  it('accepts null-prototype objects', () => {
    const raw = Object.assign(Object.create(null) as object, wire());
    expect(validatePlan(raw, RESIDENTS)).toEqual(VALID);
  });

  it.each<[string, (p: Record<string, any>) => unknown, RegExp]>([
    ['a non-object', () => 'SELECT 1', /^query plan: expected an object$/],
    ['an array', () => [], /expected an object/],
    ['a class instance', (p) => Object.assign(new (class Plan {})(), p), /expected a plain object/],
    ['an extra field', (p) => ({ ...p, sql: 'DROP TABLE x' }), /unexpected field "sql"/],
    [
      'a missing field',
      (p) => ({ dataset: p['dataset'], groupBy: p['groupBy'], select: p['select'] }),
      /missing field where/,
    ],
    ['a symbol key', (p) => ({ ...p, [Symbol('x')]: 1 }), /unexpected field symbol/],
    ['a numeric dataset', (p) => ({ ...p, dataset: 7 }), /^query plan: dataset: expected a string$/],
    [
      'three group columns',
      (p) => ({ ...p, groupBy: ['district', 'insured', 'district'] }),
      /groupBy: expected 0 to 2 items, got 3/,
    ],
    ['no select items', (p) => ({ ...p, select: [] }), /select: expected 1 to 64 items, got 0/],
    [
      '65 select items',
      (p) => ({
        ...p,
        select: Array.from({ length: 65 }, (_, i) => ({
          kind: 'aggregate',
          fn: 'count',
          column: null,
          alias: `c${i}`,
        })),
      }),
      /got 65/,
    ],
    [
      'an unknown item kind',
      (p) => ({ ...p, select: [{ kind: 'raw', sql: '1' }] }),
      /select\[0\].kind: expected one of group, aggregate/,
    ],
    [
      'an unknown aggregate',
      (p) => {
        p['select'][1].fn = 'max';
        return p;
      },
      /select\[1\].fn: expected one of count, sum, avg/,
    ],
    [
      'count with a column',
      (p) => {
        p['select'][1].column = 'age';
        return p;
      },
      /select\[1\].column: count takes column null/,
    ],
    [
      'an unsafe alias',
      (p) => {
        p['select'][1].alias = 'n"; DROP';
        return p;
      },
      /select\[1\].alias: unsafe output name/,
    ],
    [
      'an alias with a newline',
      (p) => {
        p['select'][1].alias = 'a\nb';
        return p;
      },
      /unsafe output name "a\\u000ab"/,
    ],
    [
      'an unknown predicate kind',
      (p) => ({ ...p, where: { kind: 'sql', text: '1=1' } }),
      /where.kind: expected one of and, or, not, compare, in, between/,
    ],
    [
      'an unknown operator',
      (p) => ({ ...p, where: { kind: 'compare', column: 'age', op: 'LIKE', value: 3 } }),
      /where.op: expected one of/,
    ],
    [
      'a one-argument AND',
      (p) => ({ ...p, where: { kind: 'and', args: [p['where'].args[0]] } }),
      /where.args: expected 2 to 256 items, got 1/,
    ],
    [
      'an object literal',
      (p) => ({ ...p, where: { kind: 'compare', column: 'age', op: '=', value: { $gt: 1 } } }),
      /where.value: a literal must be a string or a number/,
    ],
    [
      'an empty IN list',
      (p) => ({ ...p, where: { kind: 'in', column: 'age', values: [] } }),
      /where.values: expected 1 to 1024 items, got 0/,
    ],
    [
      'a sparse IN list',
      (p) => {
        const values: number[] = [];
        values[0] = 1;
        values[2] = 2;
        return { ...p, where: { kind: 'in', column: 'age', values } };
      },
      /where.values\[1\]: missing item/,
    ],
    [
      'an IN list of 1025',
      (p) => ({ ...p, where: { kind: 'in', column: 'age', values: Array(1025).fill(1) } }),
      /got 1025/,
    ],
    [
      'a huge sparse array',
      (p) => ({ ...p, where: { kind: 'in', column: 'age', values: new Array(1e9) } }),
      /got 1000000000/,
    ],
    [
      'depth 33',
      (p) => {
        let w = p['where'];
        for (let i = 0; i < 32; i++) w = { kind: 'not', arg: w };
        return { ...p, where: w };
      },
      /predicate nested deeper than 32/,
    ],
    [
      '257 nodes',
      (p) => ({
        ...p,
        where: {
          kind: 'or',
          args: Array.from({ length: 256 }, () => ({ kind: 'compare', column: 'age', op: '=', value: 1 })),
        },
      }),
      /predicate has more than 256 nodes/,
    ],
    ['a long string', (p) => ({ ...p, dataset: 'x'.repeat(1_000_000) }), /dataset: string longer than 64/],
  ])('says BAD_MESSAGE for %s', (_name, mutate, pattern) => {
    const e = (() => {
      try {
        validatePlan(mutate(wire()), RESIDENTS);
      } catch (x) {
        return x;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(FedstatError);
    expect((e as FedstatError).code).toBe('BAD_MESSAGE');
    expect((e as FedstatError).message).toMatch(pattern);
    expect((e as FedstatError).message).not.toMatch(/\n/);
  });

  it.each<[string, (p: Record<string, any>) => unknown, RegExp]>([
    [
      'an unknown column',
      (p) => {
        p['where'].args[0].column = 'agee';
        return p;
      },
      /unknown column "agee" in residents; valid columns: district, age, income, insured \(did you mean age\?\)/,
    ],
    [
      'wrong column case',
      (p) => {
        p['groupBy'] = ['District'];
        return p;
      },
      /unknown column "District".*did you mean district\?/,
    ],
    [
      'an id column',
      (p) => {
        p['where'].args[0].column = 'citizen_id';
        return p;
      },
      /citizen_id of residents is an identifier \(id\) column/,
    ],
    [
      'grouping by an integer',
      (p) => {
        p['groupBy'] = ['age'];
        p['select'] = [p['select'][1]];
        return p;
      },
      /GROUP BY age: residents.age is an integer column/,
    ],
    [
      'a duplicate group column',
      (p) => {
        p['groupBy'] = ['district', 'district'];
        return p;
      },
      /district appears twice in GROUP BY/,
    ],
    [
      'a group item not grouped',
      (p) => {
        p['groupBy'] = [];
        return p;
      },
      /district is selected but not in GROUP BY/,
    ],
    [
      'summing a category',
      (p) => {
        p['select'][2].column = 'district';
        return p;
      },
      /avg\(district\): residents.district is a category column/,
    ],
    [
      'no aggregate',
      (p) => {
        p['select'] = [p['select'][0]];
        return p;
      },
      /the query has no aggregate/,
    ],
    [
      'duplicate aliases',
      (p) => {
        p['select'][2].alias = 'COUNT';
        return p;
      },
      /the output name "COUNT" is used twice \(select items 2 and 3\)/,
    ],
    [
      'ordering a category',
      (p) => ({ ...p, where: { kind: 'compare', column: 'district', op: '<', value: '锦江区' } }),
      /no order, so < cannot apply/,
    ],
    [
      'BETWEEN on a category',
      (p) => ({ ...p, where: { kind: 'between', column: 'district', low: 'a', high: 'b' } }),
      /no order, so BETWEEN cannot apply/,
    ],
    [
      'a value outside the domain',
      (p) => {
        p['where'].args[1].arg.values = ['锦江'];
        return p;
      },
      /'锦江' is not a value of residents.district; valid values: .*closest: 锦江区/,
    ],
    [
      'a decomposed (non-NFC) value',
      (p) => ({ ...p, where: { kind: 'compare', column: 'insured', op: '=', value: 'ye\u0301s' } }),
      /is not a value of residents.insured/,
    ],
    [
      'a number for a category',
      (p) => {
        p['where'].args[1].arg.values = [1];
        return p;
      },
      /residents.district is a category column, so 1 cannot match it/,
    ],
    [
      'a string for an integer',
      (p) => {
        p['where'].args[0].low = '18';
        return p;
      },
      /residents.age is an integer column, so '18' cannot match it; write 18 without quotes/,
    ],
    [
      'a fraction',
      (p) => {
        p['where'].args[0].low = 1.5;
        return p;
      },
      /1.5 is not a whole number/,
    ],
    [
      'an unsafe integer',
      (p) => {
        p['where'].args[0].low = 2 ** 60;
        return p;
      },
      /is not a whole number/,
    ],
    [
      'a value out of range',
      (p) => {
        p['where'].args[0].high = 121;
        return p;
      },
      /121 is outside the range of residents.age \(0..120\)/,
    ],
  ])('says QUERY_INVALID for %s', (_name, mutate, pattern) => {
    const raw = mutate(wire());
    expect(code(raw)).toBe('QUERY_INVALID');
    expect(message(raw)).toMatch(pattern);
  });

  it('says NOT_FOUND for an unknown dataset, listing the valid ones', () => {
    const raw = { ...wire(), dataset: 'residnts' };
    expect(code(raw)).toBe('NOT_FOUND');
    expect(message(raw)).toMatch(/unknown dataset "residnts"; valid datasets: residents, rentals/);
  });

  it('never calls getters and never lets a hostile object throw through', () => {
    let calls = 0;
    const withGetter = wire();
    Object.defineProperty(withGetter, 'where', {
      enumerable: true,
      get: () => {
        calls++;
        return null;
      },
    });
    expect(code(withGetter)).toBe('BAD_MESSAGE');
    expect(calls).toBe(0);
    const trap = new Proxy(wire(), {
      ownKeys: () => {
        throw new Error('trap');
      },
    });
    expect(code(trap)).toBe('BAD_MESSAGE');
    const revocable = Proxy.revocable(wire(), {});
    revocable.revoke();
    expect(code(revocable.proxy)).toBe('BAD_MESSAGE');
    const throwsNonError = new Proxy(wire(), {
      getPrototypeOf: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- a hostile object may throw anything
        throw Symbol('x');
      },
    });
    expect(code(throwsNonError)).toBe('BAD_MESSAGE');
  });

  it('refuses a 100,000-deep predicate quickly, without recursion trouble', () => {
    let w: unknown = { kind: 'compare', column: 'age', op: '=', value: 1 };
    for (let i = 0; i < 100_000; i++) w = { kind: 'not', arg: w };
    const t0 = performance.now();
    expect(code({ ...wire(), where: w })).toBe('BAD_MESSAGE');
    expect(performance.now() - t0).toBeLessThan(2000); // recursing 100k deep would overflow the stack first
  });

  it('stays fast on the largest valid plan: 256 IN lists of 1024 category values', () => {
    const values = Array.from({ length: 1024 }, (_, i) => ['锦江区', '青羊区', '金牛区', '武侯区', '成华区'][i % 5]);
    const args = Array.from({ length: 255 }, () => ({ kind: 'in', column: 'district', values }));
    const t0 = performance.now();
    expect(code({ ...wire(), where: { kind: 'or', args } })).toBe('ok');
    expect(performance.now() - t0).toBeLessThan(5000); // linear scans of the 4096-value domain would take ~a minute
    expect(QUERY_LIMITS.maxPredicateNodes).toBe(256);
  });

  it('never throws anything but FedstatError for arbitrary values', () => {
    const anything = fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      maxDepth: 6,
    });
    fc.assert(
      fc.property(anything, (raw) => {
        expect(ALLOWED).toContain(code(raw));
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but FedstatError for mutated valid plans, and whatever it accepts is a real query', () => {
    type Path = (string | number)[];
    const paths = (v: unknown, at: Path = []): Path[] => {
      if (typeof v !== 'object' || v === null) return [at];
      return [
        at,
        ...Object.keys(v).flatMap((k) =>
          paths((v as Record<string, unknown>)[k], [...at, Array.isArray(v) && /^\d+$/.test(k) ? Number(k) : k]),
        ),
      ];
    };
    const mutation = fc.oneof(
      fc.record({
        op: fc.constant('set' as const),
        value: fc.oneof(
          fc.anything({ maxDepth: 2 }),
          fc.constantFrom(
            'age',
            'district',
            'count',
            'and',
            'not',
            'compare',
            'in',
            '=',
            '<',
            -1,
            0,
            121,
            1e300,
            '锦江区',
            'rollup',
            'cube',
            null,
            [],
            {},
          ),
        ),
      }),
      fc.record({ op: fc.constant('delete' as const) }),
      fc.record({
        op: fc.constant('add' as const),
        key: fc.constantFrom('kind', 'extra', 'args', 'arg', 'totals', '__proto__', 'constructor'),
        value: fc.anything({ maxDepth: 1 }),
      }),
      fc.record({ op: fc.constant('wrap' as const) }),
    );
    fc.assert(
      fc.property(
        schemaAndTotalsPlanArb,
        fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }),
        ([schema, plan], edits) => {
          let root: unknown = JSON.parse(JSON.stringify(plan));
          for (const [pick, m] of edits) {
            const all = paths(root);
            const path = all[pick % all.length]!;
            if (path.length === 0) {
              root = m.op === 'wrap' ? [root] : m.op === 'set' ? m.value : root;
              continue;
            }
            const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], root);
            const key = path.at(-1)!;
            if (m.op === 'set') parent[key] = m.value;
            else if (m.op === 'delete') delete parent[key];
            else if (m.op === 'wrap') parent[key] = { kind: 'not', arg: parent[key] };
            else if (typeof parent[key] === 'object' && parent[key] !== null)
              Object.defineProperty(parent[key], m.key, {
                value: m.value,
                enumerable: true,
                configurable: true,
                writable: true,
              });
          }
          let accepted: QueryPlan;
          try {
            accepted = validatePlan(root, schema);
          } catch (e) {
            expect(e).toBeInstanceOf(FedstatError);
            expect(ALLOWED).toContain((e as FedstatError).code);
            return;
          }
          expect(parseQuery(formatPlan(accepted), schema)).toEqual(accepted);
        },
      ),
      { numRuns: 400 },
    );
  });
});
