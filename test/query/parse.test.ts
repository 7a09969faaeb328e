import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../src/query/parse.js';
import type { Predicate, QueryPlan } from '../../src/query/plan.js';
import { RESIDENTS } from './fixtures.js';

const q = (sql: string): QueryPlan => parseQuery(sql, RESIDENTS);
const where = (cond: string): Predicate | null => q(`SELECT COUNT(*) FROM residents WHERE ${cond}`).where;
const COUNT = { kind: 'aggregate', fn: 'count', column: null, alias: 'count' } as const;

describe('parseQuery: SELECT list and GROUP BY', () => {
  it('parses the issue example with default output names', () => {
    expect(q('SELECT district, COUNT(*), SUM(income), AVG(age) FROM residents GROUP BY district')).toEqual({
      dataset: 'residents',
      groupBy: ['district'],
      select: [
        { kind: 'group', column: 'district', alias: 'district' },
        COUNT,
        { kind: 'aggregate', fn: 'sum', column: 'income', alias: 'sum_income' },
        { kind: 'aggregate', fn: 'avg', column: 'age', alias: 'avg_age' },
      ],
      where: null,
    });
  });

  it('accepts a global aggregate without GROUP BY', () => {
    expect(q('SELECT COUNT(*) FROM residents')).toEqual({
      dataset: 'residents',
      groupBy: [],
      select: [COUNT],
      where: null,
    });
  });

  it('accepts two group columns in GROUP BY order, whatever the SELECT order', () => {
    const plan = q('SELECT insured, district, COUNT(*) FROM residents GROUP BY district, insured');
    expect(plan.groupBy).toEqual(['district', 'insured']);
    expect(plan.select.map((s) => s.alias)).toEqual(['insured', 'district', 'count']);
  });

  it('allows grouping by a column that is not selected (SQL semantics)', () => {
    expect(q('SELECT COUNT(*) FROM residents GROUP BY district').groupBy).toEqual(['district']);
  });

  it('reads COUNT(col) as COUNT(*): columns are never NULL', () => {
    expect(q('SELECT COUNT(age) FROM residents').select).toEqual([COUNT]);
    expect(q('SELECT COUNT(district) AS n FROM residents').select).toEqual([{ ...COUNT, alias: 'n' }]);
  });

  it('takes aliases with and without AS, quoted and in Chinese, and renames group columns', () => {
    const plan = q(
      'SELECT district AS 区, COUNT(*) AS "人数", SUM(income) total, AVG(income) AS Avg_Income FROM residents GROUP BY district',
    );
    expect(plan.select.map((s) => s.alias)).toEqual(['区', '人数', 'total', 'Avg_Income']);
  });

  it('normalises aliases to NFC', () => {
    const decomposed = 'cafe\u0301';
    expect(q(`SELECT COUNT(*) AS "${decomposed}" FROM residents`).select[0]!.alias).toBe('caf\u00e9');
  });

  it('allows the same aggregate twice under different names', () => {
    expect(
      q('SELECT COUNT(*), COUNT(*) AS n, SUM(age), SUM(age) AS s FROM residents').select.map((s) => s.alias),
    ).toEqual(['count', 'n', 'sum_age', 's']);
  });

  it('maps identifiers case-insensitively to the schema spelling, quoted or not', () => {
    expect(q('select DISTRICT, count(*), Sum(INCOME) from RESIDENTS group by District')).toEqual(
      q('SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district'),
    );
    expect(q('SELECT "District", COUNT(*) FROM "Residents" GROUP BY "DISTRICT"').groupBy).toEqual(['district']);
  });

  it('accepts columns qualified by the dataset or its alias', () => {
    const plan = q(
      'SELECT r.district, COUNT(*) FROM residents AS r WHERE r.age >= 18 AND residents.income > 0 GROUP BY r.district',
    );
    expect(plan.groupBy).toEqual(['district']);
    expect(plan.where).toEqual({
      kind: 'and',
      args: [
        { kind: 'compare', column: 'age', op: '>=', value: 18 },
        { kind: 'compare', column: 'income', op: '>', value: 0 },
      ],
    });
  });

  it('ignores whitespace, newlines, comments and a trailing semicolon', () => {
    const plan = q(
      '\n  -- migrants by district\n  SELECT district, /* all */ COUNT(*)\n  FROM residents\n  GROUP BY district;\n',
    );
    expect(plan.groupBy).toEqual(['district']);
  });

  it('returns a deep-frozen plan', () => {
    const plan = q("SELECT district, COUNT(*) FROM residents WHERE district IN ('锦江区') GROUP BY district");
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.select[0])).toBe(true);
    expect(Object.isFrozen(plan.groupBy)).toBe(true);
    expect(Object.isFrozen((plan.where as { values: unknown }).values)).toBe(true);
  });
});

describe('parseQuery: WHERE', () => {
  it.each([
    ['age = 30', { kind: 'compare', column: 'age', op: '=', value: 30 }],
    ['age <> 30', { kind: 'compare', column: 'age', op: '<>', value: 30 }],
    ['age != 30', { kind: 'compare', column: 'age', op: '<>', value: 30 }],
    ['age < 30', { kind: 'compare', column: 'age', op: '<', value: 30 }],
    ['age <= 30', { kind: 'compare', column: 'age', op: '<=', value: 30 }],
    ['age > 30', { kind: 'compare', column: 'age', op: '>', value: 30 }],
    ['age >= 30', { kind: 'compare', column: 'age', op: '>=', value: 30 }],
    ['30 < age', { kind: 'compare', column: 'age', op: '>', value: 30 }],
    ['120 >= age', { kind: 'compare', column: 'age', op: '<=', value: 120 }],
    ['age IN (1, 2, 3)', { kind: 'in', column: 'age', values: [1, 2, 3] }],
    ['age NOT IN (1)', { kind: 'not', arg: { kind: 'in', column: 'age', values: [1] } }],
    ['age BETWEEN 18 AND 60', { kind: 'between', column: 'age', low: 18, high: 60 }],
    ['age NOT BETWEEN 18 AND 60', { kind: 'not', arg: { kind: 'between', column: 'age', low: 18, high: 60 } }],
    ['NOT age = 3', { kind: 'not', arg: { kind: 'compare', column: 'age', op: '=', value: 3 } }],
    ['NOT (age = 3)', { kind: 'not', arg: { kind: 'compare', column: 'age', op: '=', value: 3 } }],
    [
      'NOT NOT age = 3',
      { kind: 'not', arg: { kind: 'not', arg: { kind: 'compare', column: 'age', op: '=', value: 3 } } },
    ],
    ["district = '锦江区'", { kind: 'compare', column: 'district', op: '=', value: '锦江区' }],
    ["district <> '青羊区'", { kind: 'compare', column: 'district', op: '<>', value: '青羊区' }],
    ["'锦江区' = district", { kind: 'compare', column: 'district', op: '=', value: '锦江区' }],
    ["district IN ('锦江区', '青羊区')", { kind: 'in', column: 'district', values: ['锦江区', '青羊区'] }],
    ["district NOT IN ('锦江区')", { kind: 'not', arg: { kind: 'in', column: 'district', values: ['锦江区'] } }],
    ['income BETWEEN 0 AND 2000000', { kind: 'between', column: 'income', low: 0, high: 2_000_000 }],
    ['age BETWEEN 60 AND 18', { kind: 'between', column: 'age', low: 60, high: 18 }],
    ['age = +7', { kind: 'compare', column: 'age', op: '=', value: 7 }],
    ['age = 007', { kind: 'compare', column: 'age', op: '=', value: 7 }],
    ['age = -0', { kind: 'compare', column: 'age', op: '=', value: 0 }],
    ['age = (5)', { kind: 'compare', column: 'age', op: '=', value: 5 }],
    ['(age) = 5', { kind: 'compare', column: 'age', op: '=', value: 5 }],
    ['((age = 5))', { kind: 'compare', column: 'age', op: '=', value: 5 }],
  ] as const)('%s', (cond, expected) => {
    expect(where(cond)).toEqual(expected);
  });

  it('reads negative literals, including unary minus forms', () => {
    const plan = parseQuery(
      'SELECT COUNT(*) FROM rentals WHERE rent = -5 OR rent = - 4 OR rent = -(3) OR rent BETWEEN -5 AND -1 OR rent IN (-2, - 1)',
      RESIDENTS,
    );
    expect(plan.where).toEqual({
      kind: 'or',
      args: [
        { kind: 'compare', column: 'rent', op: '=', value: -5 },
        { kind: 'compare', column: 'rent', op: '=', value: -4 },
        { kind: 'compare', column: 'rent', op: '=', value: -3 },
        { kind: 'between', column: 'rent', low: -5, high: -1 },
        { kind: 'in', column: 'rent', values: [-2, -1] },
      ],
    });
  });

  it('accepts integers at the safe-integer limits when the column allows them', () => {
    const schema = {
      datasets: {
        t: {
          columns: { v: { type: 'integer', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER } },
          maxRows: 1,
        },
      },
    } as const;
    const plan = parseQuery('SELECT COUNT(*) FROM t WHERE v BETWEEN -9007199254740991 AND 9007199254740991', schema);
    expect(plan.where).toEqual({
      kind: 'between',
      column: 'v',
      low: Number.MIN_SAFE_INTEGER,
      high: Number.MAX_SAFE_INTEGER,
    });
  });

  it('reads strings with standard SQL rules: doubled quotes, literal backslashes, NFC', () => {
    const schema = {
      datasets: { t: { columns: { c: { type: 'category', values: ["it's", 'a\\nb', 'a\\\\', 'é'] } }, maxRows: 1 } },
    } as const;
    const w = (cond: string): Predicate | null => parseQuery(`SELECT COUNT(*) FROM t WHERE ${cond}`, schema).where;
    expect(w("c = 'it''s'")).toEqual({ kind: 'compare', column: 'c', op: '=', value: "it's" });
    expect(w("c = 'a\\nb'")).toEqual({ kind: 'compare', column: 'c', op: '=', value: 'a\\nb' });
    expect(w("c = 'a\\\\'")).toEqual({ kind: 'compare', column: 'c', op: '=', value: 'a\\\\' });
    expect(w("c = 'e\u0301'")).toEqual({ kind: 'compare', column: 'c', op: '=', value: 'é' });
  });

  it('accepts Unicode category values in every position', () => {
    const plan = q(
      "SELECT district, COUNT(*) FROM residents WHERE district IN ('锦江区', '武侯区') AND NOT district = '成华区' GROUP BY district",
    );
    expect(plan.where).toEqual({
      kind: 'and',
      args: [
        { kind: 'in', column: 'district', values: ['锦江区', '武侯区'] },
        { kind: 'not', arg: { kind: 'compare', column: 'district', op: '=', value: '成华区' } },
      ],
    });
  });

  it('treats double-quoted names in WHERE as columns, as standard SQL does', () => {
    expect(where('"Age" = 3')).toEqual({ kind: 'compare', column: 'age', op: '=', value: 3 });
  });

  it('accepts keyword case and layout freely', () => {
    expect(where("age between 1 and 2\n  or\tnot district in ('锦江区')")).toEqual({
      kind: 'or',
      args: [
        { kind: 'between', column: 'age', low: 1, high: 2 },
        { kind: 'not', arg: { kind: 'in', column: 'district', values: ['锦江区'] } },
      ],
    });
  });

  it('accepts predicates up to the limits: depth 32 and 256 nodes, IN lists of 1024', () => {
    const deep = `${'NOT '.repeat(31)}age = 1`;
    expect(where(deep)).not.toBeNull();
    const wide = Array.from({ length: 255 }, (_, i) => `age = ${i % 121}`).join(' OR ');
    expect((where(wide) as unknown as { args: unknown[] }).args).toHaveLength(255);
    const list = Array.from({ length: 1024 }, (_, i) => i % 121).join(', ');
    expect((where(`age IN (${list})`) as unknown as { values: unknown[] }).values).toHaveLength(1024);
  });
});
