/* eslint-disable @typescript-eslint/no-explicit-any -- the tests mutate wire JSON */
import fc from 'fast-check';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../src/disclosure/table.js';
import type { MarginsReleased } from '../../src/disclosure/table.js';
import { FedstatError } from '../../src/errors.js';
import type { Schema } from '../../src/federation/schema.js';
import { formatPlan } from '../../src/query/format-plan.js';
import { groupingSets, marginsOf, TOTALS } from '../../src/query/plan.js';
import { parseQuery } from '../../src/query/parse.js';
import { validatePlan } from '../../src/query/validate-plan.js';
import type { QueryPlan } from '../../src/query/plan.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { planArb, schemaArb } from './arbitraries.js';
import { RESIDENTS } from './fixtures.js';

const q = (sql: string): QueryPlan => parseQuery(sql, RESIDENTS);

/** The FedstatError parseQuery throws for `sql` (fails the test if it returns or throws anything else). */
const error = (sql: string): FedstatError => fedstatErrorOf(() => parseQuery(sql, RESIDENTS));

/** Line and column of an offset, computed independently of the implementation. */
function lineColumn(sql: string, offset: number): [number, number] {
  const before = sql.slice(0, offset).split('\n');
  return [before.length, before.at(-1)!.length + 1];
}

const COUNT = { kind: 'aggregate', fn: 'count', column: null, alias: 'count' } as const;
const group = (column: string) => ({ kind: 'group', column, alias: column }) as const;

describe('GROUP BY ROLLUP / CUBE: parsing', () => {
  it('reads ROLLUP(a) and CUBE(a) into totals, with the columns in groupBy', () => {
    expect(q('SELECT district, COUNT(*) FROM residents GROUP BY ROLLUP(district)')).toEqual({
      dataset: 'residents',
      groupBy: ['district'],
      select: [group('district'), COUNT],
      where: null,
      totals: 'rollup',
    });
    expect(q('SELECT COUNT(*) FROM residents GROUP BY CUBE(district)')).toEqual({
      dataset: 'residents',
      groupBy: ['district'],
      select: [COUNT],
      where: null,
      totals: 'cube',
    });
  });

  it('reads two columns in order, case-insensitively, quoted, parenthesised, spaced and with a WHERE', () => {
    const plan = q(`select insured, district, count(*), avg(income) from residents r
      where age >= 18 group by cube ( "District", (r.insured) )`);
    expect(plan.groupBy).toEqual(['district', 'insured']);
    expect(plan.totals).toBe('cube');
    expect(plan.where).toEqual({ kind: 'compare', column: 'age', op: '>=', value: 18 });
    expect(q('SELECT COUNT(*) FROM residents GROUP BY rollup(insured, district)')).toMatchObject({
      groupBy: ['insured', 'district'],
      totals: 'rollup',
    });
  });

  it('leaves a plain GROUP BY and an ungrouped query without a totals field', () => {
    for (const sql of [
      'SELECT district, COUNT(*) FROM residents GROUP BY district',
      'SELECT COUNT(*) FROM residents',
    ]) {
      expect(Object.keys(q(sql))).toEqual(['dataset', 'groupBy', 'select', 'where']);
    }
  });

  it('keeps a column named rollup or cube a column', () => {
    const schema = {
      datasets: {
        t: { columns: { rollup: { type: 'category', values: ['a'] }, cube: { type: 'category', values: ['b'] } } },
      },
    } as unknown as Schema;
    expect(parseQuery('SELECT rollup, COUNT(*) FROM t GROUP BY rollup', schema)).toMatchObject({ groupBy: ['rollup'] });
    expect(parseQuery('SELECT COUNT(*) FROM t GROUP BY rollup, cube', schema).totals).toBeUndefined();
    expect(parseQuery('SELECT COUNT(*) FROM t GROUP BY CUBE(rollup, cube)', schema)).toMatchObject({
      groupBy: ['rollup', 'cube'],
      totals: 'cube',
    });
  });

  it('formats back to GROUP BY ROLLUP(...) / CUBE(...)', () => {
    expect(formatPlan(q('select district, count(*) from residents group by rollup (district, insured)'))).toBe(
      'SELECT district, COUNT(*) FROM residents GROUP BY ROLLUP(district, insured)',
    );
    expect(formatPlan(q('SELECT COUNT(*) AS n FROM residents WHERE age < 3 GROUP BY cube("insured")'))).toBe(
      'SELECT COUNT(*) AS n FROM residents WHERE age < 3 GROUP BY CUBE(insured)',
    );
  });
});

describe('GROUP BY ROLLUP / CUBE: refusals point at the user text', () => {
  // [sql, message, the text the error must point at (its last occurrence)]
  it.each<[string, RegExp, string]>([
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP()',
      /^ROLLUP\(\) names no columns at 1:41; write GROUP BY ROLLUP\(column\[, column\]\) with category columns: district, insured$/,
      'ROLLUP()',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY CUBE(district, insured, "age")',
      /^CUBE lists 3 columns at 1:65; the limit is 2/,
      '"age")',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY district, ROLLUP(insured)',
      /^ROLLUP\(\.\.\.\) cannot be combined with other GROUP BY items at 1:51; write GROUP BY ROLLUP\(district, insured\)$/,
      'ROLLUP(insured)',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY CUBE(district), "insured"',
      /^CUBE\(\.\.\.\) cannot be combined .*; write GROUP BY CUBE\(district, insured\)$/,
      '"insured"',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(district), ROLLUP(insured)',
      /cannot be combined.*; write GROUP BY ROLLUP\(district, insured\)$/,
      'ROLLUP(insured)',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(district), insured, age',
      /cannot be combined.*; list every grouping column inside it: GROUP BY ROLLUP\(a\[, b\]\)$/,
      'insured, age',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(distrct)',
      /^unknown column "distrct" in residents at 1:48; valid columns: district, age, income, insured \(did you mean district\?\)$/,
      'distrct)',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(district, "insurd")',
      /^unknown column "insurd".*\(did you mean insured\?\)$/,
      '"insurd")',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY CUBE(age)',
      /^age in CUBE\(\.\.\.\): residents.age is an integer column at .*group by category columns \(district, insured\)/,
      'age)',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(citizen_id)',
      /citizen_id of residents is an identifier \(id\) column/,
      'citizen_id)',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(district, "district")',
      /^district appears twice in ROLLUP at .*list each column once$/,
      '"district")',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(1)',
      /^a position in ROLLUP\(\.\.\.\) is not supported at .*; name the category columns: ROLLUP\(district, insured\)$/,
      '1)',
    ],
    ['SELECT COUNT(*) FROM residents GROUP BY ROLLUP(*)', /^\* in ROLLUP\(\.\.\.\) is not supported/, '*)'],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(UPPER(district))',
      /^UPPER\(\.\.\.\) in ROLLUP\(\.\.\.\) is not supported/,
      'UPPER(',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP((district, insured))',
      /^composite ROLLUP elements such as ROLLUP\(\(a, b\)\) are not supported.*write ROLLUP\(a, b\), or GROUP BY a, b without totals$/,
      'ROLLUP((',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(district) OVER ()',
      /^ROLLUP\(\.\.\.\) with OVER is not supported/,
      'ROLLUP(district) OVER',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY ROLUP(district)',
      /^GROUP BY ROLUP\(\.\.\.\) is not supported \(did you mean ROLLUP\?\)/,
      'ROLUP(',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY "ROLLUP"(district)',
      /^GROUP BY "ROLLUP"\(\.\.\.\) calls a function named ROLLUP, which is not supported at 1:41; write ROLLUP\(\.\.\.\) without quotes$/,
      '"ROLLUP"(',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY district WITH ROLLUP',
      /^GROUP BY \.\.\. WITH ROLLUP is not standard SQL at 1:50; write GROUP BY ROLLUP\(district\)$/,
      'WITH ROLLUP',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY "district", insured WITH CUBE',
      /WITH CUBE is not standard SQL.*; write GROUP BY CUBE\("district", insured\)$/,
      'WITH CUBE',
    ],
    [
      'SELECT COUNT(*) FROM residents GROUP BY GROUPING SETS ((district), ())',
      /^GROUPING SETS is not supported at 1:41; for totals write GROUP BY ROLLUP/,
      'GROUPING SETS',
    ],
    [
      'SELECT district FROM residents GROUP BY ROLLUP(district)',
      /^the query has no aggregate at 1:8; add COUNT\(\*\), SUM\(col\) or AVG\(col\) to SELECT$/,
      'district FROM',
    ],
    [
      'SELECT district, insured, COUNT(*) FROM residents GROUP BY ROLLUP(district)',
      /^insured must appear in GROUP BY to be selected at 1:18; add GROUP BY ROLLUP\(district, insured\), or aggregate it$/,
      'insured,',
    ],
    [
      'SELECT age, COUNT(*) FROM residents GROUP BY CUBE(district)',
      /^age must appear in GROUP BY.*aggregate it with SUM\(age\)/,
      'age,',
    ],
  ])('%s', (sql, pattern, at) => {
    const e = error(sql);
    expect(e.code).toBe('QUERY_INVALID');
    expect(e.message).toMatch(pattern);
    const offset = sql.lastIndexOf(at);
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(e.details['offset']).toBe(offset);
    const [line, column] = lineColumn(sql, offset);
    expect([e.details['line'], e.details['column']]).toEqual([line, column]);
    expect(e.message).toContain(`at ${line}:${column}`);
  });

  it('counts lines and UTF-16 columns in multi-line text with Chinese before the error', () => {
    const sql =
      'SELECT COUNT(*)\n  FROM residents WHERE district <> \'锦江区\'\n  GROUP BY\n    CUBE(district,\n         "收入")';
    const e = error(sql);
    expect(e.message).toMatch(/^unknown column "收入" in residents at 5:10;/);
    expect(e.details).toMatchObject({ line: 5, column: 10, offset: sql.indexOf('"收入"') });
  });

  it('keeps syntax errors inside ROLLUP as syntax errors with their position', () => {
    const sql = 'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(district';
    const e = error(sql);
    expect(e.code).toBe('QUERY_SYNTAX');
    expect(e.details).toMatchObject({ line: 1, column: sql.length + 1 });
  });
});

/** Standard SQL's grouping sets, from the definitions: ROLLUP = the prefixes, CUBE = the subsets. */
function referenceSets(groupBy: readonly string[], totals: 'rollup' | 'cube' | undefined): string[][] {
  if (totals === undefined) return [[...groupBy]];
  if (totals === 'rollup') return groupBy.map((_, i) => groupBy.slice(0, groupBy.length - i)).concat([[]]);
  const subsets: string[][] = [];
  for (let mask = (1 << groupBy.length) - 1; mask >= 0; mask--)
    subsets.push(groupBy.filter((_, i) => (mask >> (groupBy.length - 1 - i)) & 1));
  return subsets;
}

describe('marginsOf and groupingSets', () => {
  it('match the grouping sets of standard SQL and the cells disclosure/table.ts builds for them', () => {
    const cases = [undefined, ...TOTALS].flatMap((totals) =>
      [['district'], ['district', 'insured']].map((groupBy) => ({ groupBy, totals })),
    );
    for (const { groupBy, totals } of cases) {
      const plan: QueryPlan = {
        dataset: 'residents',
        groupBy,
        select: [COUNT],
        where: null,
        ...(totals === undefined ? {} : { totals }),
      };
      const sets = referenceSets(groupBy, totals);
      expect(groupingSets(plan), `${totals} ${groupBy.join()}`).toEqual(sets);
      const m: MarginsReleased = marginsOf(plan); // the type check is the point: it is what disclosure takes
      const has = (s: string[]): boolean => sets.some((x) => x.join() === s.join());
      expect(m).toEqual({
        rows: groupBy.length === 2 && has(['district']),
        cols: groupBy.length === 2 && has(['insured']),
        total: totals !== undefined && has([]),
      });
      // The release's cells: one per group of every grouping set; buildModel must build exactly those.
      const dims = groupBy.map((g) => (g === 'district' ? 5 : 2));
      const cells = sets.reduce((n, s) => n + s.reduce((p, g) => p * (dims[groupBy.indexOf(g)] ?? 1), 1), 0);
      const counts = Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => BigInt(i));
      const model = buildModel({ dims: dims as [number] | [number, number], counts, marginsReleased: m });
      expect(model.cells.length).toBe(cells);
    }
  });

  it('refuses a plan with totals and no GROUP BY as misuse', () => {
    expect(() =>
      marginsOf({ dataset: 'residents', groupBy: [], select: [COUNT], where: null, totals: 'cube' }),
    ).toThrow(RangeError);
  });
});

/** A mutable deep copy, as JSON from the wire would be. */
const wire = (sql: string): Record<string, any> => JSON.parse(JSON.stringify(q(sql))) as Record<string, any>;

describe('validatePlan with totals', () => {
  const CUBE_SQL = 'SELECT district, insured, COUNT(*) FROM residents GROUP BY CUBE(district, insured)';

  it('accepts rollup and cube with 1 or 2 group columns and returns them frozen', () => {
    for (const sql of [CUBE_SQL, 'SELECT COUNT(*) FROM residents GROUP BY ROLLUP(insured)']) {
      const plan = validatePlan(wire(sql), RESIDENTS);
      expect(plan).toEqual(q(sql));
      expect(Object.isFrozen(plan)).toBe(true);
    }
  });

  it.each<[string, unknown]>([
    ['upper case', 'CUBE'],
    ['grouping sets', 'grouping sets'],
    ['null', null],
    ['undefined', undefined],
    ['a number', 1],
    ['an array', ['rollup']],
    ['an object', { kind: 'cube' }],
    ['a padded string', 'cube '],
  ])('refuses totals as %s with BAD_MESSAGE', (_name, totals) => {
    const raw = { ...wire(CUBE_SQL), totals };
    expect(() => validatePlan(raw, RESIDENTS)).toThrow(FedstatError);
    try {
      validatePlan(raw, RESIDENTS);
    } catch (e) {
      expect((e as FedstatError).code).toBe('BAD_MESSAGE');
      expect((e as FedstatError).message).toBe('query plan: totals: expected one of rollup, cube');
    }
  });

  it('refuses totals without GROUP BY as QUERY_INVALID, and a getter without calling it', () => {
    const raw = { ...wire('SELECT COUNT(*) FROM residents'), totals: 'rollup' };
    expect(() => validatePlan(raw, RESIDENTS)).toThrow(
      /^ROLLUP needs GROUP BY columns; group by 1 or 2 category columns with ROLLUP\(a\[, b\]\), or drop totals$/,
    );
    let calls = 0;
    const getter = wire(CUBE_SQL);
    Object.defineProperty(getter, 'totals', {
      enumerable: true,
      get: () => {
        calls++;
        return 'cube';
      },
    });
    expect(() => validatePlan(getter, RESIDENTS)).toThrow(/query plan: field totals is not a data property/);
    expect(calls).toBe(0);
  });

  it('keeps the canonical JSON of a plan without totals byte-identical (no totals key at all)', () => {
    const plan = validatePlan(
      wire('SELECT district, COUNT(*) FROM residents WHERE age >= 18 GROUP BY district'),
      RESIDENTS,
    );
    expect(canonicalJson(plan)).toBe(
      '{"dataset":"residents","groupBy":["district"],"select":[{"alias":"district","column":"district","kind":"group"},' +
        '{"alias":"count","column":null,"fn":"count","kind":"aggregate"}],"where":{"column":"age","kind":"compare","op":">=","value":18}}',
    );
    expect(canonicalJson(validatePlan(wire(CUBE_SQL), RESIDENTS))).toMatch(/,"totals":"cube","where":null\}$/);
  });

  it('accepts exactly the plans whose totals are rollup or cube over 1-2 group columns, for random plans', () => {
    const totalsArb = fc.oneof(
      fc.constantFrom(...TOTALS),
      fc.constantFrom('Rollup', 'all', '', null, 0, true),
      fc.constant(undefined),
    );
    const caseArb = schemaArb.chain((s) => fc.tuple(fc.constant(s), planArb(s, 2), totalsArb, fc.boolean()));
    fc.assert(
      fc.property(caseArb, ([schema, plan, totals, present]) => {
        const raw: Record<string, unknown> = JSON.parse(JSON.stringify(plan)) as Record<string, unknown>;
        if (present) raw['totals'] = totals;
        const valid = !present || ((totals === 'rollup' || totals === 'cube') && plan.groupBy.length > 0);
        let accepted: QueryPlan | null = null;
        try {
          accepted = validatePlan(raw, schema);
        } catch (e) {
          expect(e).toBeInstanceOf(FedstatError);
        }
        expect(accepted !== null).toBe(valid);
        if (accepted !== null) {
          expect(Object.hasOwn(accepted, 'totals')).toBe(present);
          expect(parseQuery(formatPlan(accepted), schema)).toEqual(accepted);
        }
      }),
      { numRuns: 300 },
    );
  });
});
