import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { Predicate, QueryPlan } from '../../src/query/plan.js';
import { compileAggregate } from '../../src/store/compile-sql.js';
import { DUCKDB_DIALECT, POSTGRES_DIALECT, qualifiedDialect, quoteIdent } from '../../src/store/sql-dialect.js';

const schema = parseSchema(
  {
    datasets: {
      residents: {
        columns: {
          pid: { type: 'id', format: 'gb11643' },
          district: { type: 'category', values: ['锦江区', '青羊区', '金牛区'] },
          sex: { type: 'category', values: ['男', '女'] },
          age: { type: 'integer', min: 0, max: 120 },
          income: { type: 'integer', min: -5, max: 2_000_000 },
        },
      },
    },
  },
  't',
).datasets['residents']!;

function plan(partial: Partial<QueryPlan>): QueryPlan {
  return {
    dataset: 'residents',
    groupBy: [],
    select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'count' }],
    where: null,
    ...partial,
  };
}

function invalid(p: QueryPlan): string {
  try {
    compileAggregate(p, schema, DUCKDB_DIALECT);
  } catch (e) {
    expect(e).toBeInstanceOf(FedstatError);
    expect((e as FedstatError).code).toBe('QUERY_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected QUERY_INVALID');
}

describe('compileAggregate', () => {
  it('groups, counts and sums in planMeasures order with codes and integers bound as parameters', () => {
    const c = compileAggregate(
      plan({
        groupBy: ['district', 'sex'],
        select: [
          { kind: 'group', column: 'district', alias: 'district' },
          { kind: 'aggregate', fn: 'avg', column: 'income', alias: 'avg_income' },
          { kind: 'aggregate', fn: 'sum', column: 'age', alias: 'sum_age' },
          { kind: 'aggregate', fn: 'sum', column: 'income', alias: 'sum_income' },
        ],
        where: {
          kind: 'and',
          args: [
            { kind: 'compare', column: 'district', op: '<>', value: '青羊区' },
            {
              kind: 'or',
              args: [
                { kind: 'between', column: 'age', low: 18, high: 60 },
                { kind: 'not', arg: { kind: 'in', column: 'sex', values: ['女'] } },
              ],
            },
          ],
        },
      }),
      schema,
      DUCKDB_DIALECT,
    );
    expect(c.sql).toBe(
      'SELECT "district", "sex", COUNT(*), SUM("age"), SUM("income") FROM "residents" ' +
        'WHERE (("district" <> CAST($1 AS USMALLINT)) AND (("age" BETWEEN CAST($2 AS BIGINT) AND CAST($3 AS BIGINT)) OR (NOT ("sex" IN (CAST($4 AS USMALLINT))))))' +
        ' GROUP BY "district", "sex"',
    );
    expect(c.params).toEqual([1, 18, 60, 1]);
    expect(c.groupSizes).toEqual([3, 2]);
    expect(c.measures).toEqual([
      { kind: 'count', column: null },
      { kind: 'sum', column: 'age' },
      { kind: 'sum', column: 'income' },
    ]);
  });

  it('compiles for PostgreSQL and for qualified tables through the dialect', () => {
    const p = plan({
      where: { kind: 'compare', column: 'income', op: '>=', value: -5 },
      select: [{ kind: 'aggregate', fn: 'sum', column: 'income', alias: 's' }],
    });
    expect(compileAggregate(p, schema, POSTGRES_DIALECT).sql).toBe(
      'SELECT COUNT(*), SUM("income") FROM "residents" WHERE ("income" >= CAST($1 AS BIGINT))',
    );
    expect(compileAggregate(p, schema, qualifiedDialect(DUCKDB_DIALECT, ['my "db"', 'main'])).sql).toContain(
      'FROM "my ""db"""."main"."residents"',
    );
  });

  it('never puts a literal into the SQL text', () => {
    const evil = "锦江区'; DROP TABLE residents; --";
    const s = parseSchema(
      { datasets: { residents: { columns: { district: { type: 'category', values: [evil, 'b'] } } } } },
      't',
    ).datasets['residents']!;
    const c = compileAggregate(
      plan({ where: { kind: 'in', column: 'district', values: [evil, 'b'] } }),
      s,
      DUCKDB_DIALECT,
    );
    expect(c.sql).not.toContain('DROP');
    expect(c.params).toEqual([0, 1]);
  });

  it('normalises category literals to NFC before looking up their codes', () => {
    const s = parseSchema(
      { datasets: { residents: { columns: { name: { type: 'category', values: ['Café'] } } } } },
      't',
    ).datasets['residents']!;
    expect(
      compileAggregate(
        plan({ where: { kind: 'compare', column: 'name', op: '=', value: 'Cafe\u0301' } }),
        s,
        DUCKDB_DIALECT,
      ).params,
    ).toEqual([0]);
  });

  it('refuses unknown and id columns, wrong types and out-of-domain literals', () => {
    expect(invalid(plan({ where: { kind: 'compare', column: 'salary', op: '=', value: 1 } }))).toMatch(
      /unknown column "salary" in residents; use one of pid, district, sex, age, income/,
    );
    expect(invalid(plan({ where: { kind: 'compare', column: 'pid', op: '=', value: 'x' } }))).toMatch(
      /pid is an id column/,
    );
    expect(invalid(plan({ groupBy: ['pid'] }))).toMatch(/pid is an id column/);
    expect(invalid(plan({ where: { kind: 'compare', column: 'district', op: '=', value: '成都' } }))).toMatch(
      /"成都" is not a value of category column district/,
    );
    expect(invalid(plan({ where: { kind: 'compare', column: 'district', op: '=', value: 1 } }))).toMatch(
      /1 is not a value of category column district/,
    );
    expect(invalid(plan({ where: { kind: 'compare', column: 'age', op: '=', value: '30' } }))).toMatch(
      /"30" is not an integer in 0..120/,
    );
    expect(invalid(plan({ where: { kind: 'compare', column: 'age', op: '=', value: 121 } }))).toMatch(
      /121 is not an integer in 0..120/,
    );
    expect(invalid(plan({ where: { kind: 'compare', column: 'age', op: '=', value: 1.5 } }))).toMatch(
      /1.5 is not an integer/,
    );
    expect(invalid(plan({ where: { kind: 'in', column: 'income', values: [1, 2 ** 53] } }))).toMatch(
      /is not an integer in -5..2000000/,
    );
  });

  it('refuses order on categories, empty lists, bad shapes and deep nesting', () => {
    expect(invalid(plan({ where: { kind: 'compare', column: 'district', op: '<', value: '锦江区' } }))).toMatch(
      /< on category column district/,
    );
    expect(invalid(plan({ where: { kind: 'between', column: 'sex', low: '男', high: '女' } }))).toMatch(
      /BETWEEN on category column sex/,
    );
    expect(invalid(plan({ where: { kind: 'in', column: 'age', values: [] } }))).toMatch(/empty IN list on age/);
    expect(invalid(plan({ where: { kind: 'and', args: [] } }))).toMatch(/AND without operands/);
    expect(invalid(plan({ where: { kind: 'xor' } as unknown as Predicate }))).toMatch(/unknown predicate kind/);
    expect(
      invalid(plan({ where: { kind: 'compare', column: 'age', op: 'LIKE', value: 1 } as unknown as Predicate })),
    ).toMatch(/unknown comparison/);
    expect(invalid(plan({ where: { kind: 'not', arg: null } as unknown as Predicate }))).toMatch(/not an object/);
    let deep: Predicate = { kind: 'compare', column: 'age', op: '=', value: 1 };
    for (let i = 0; i < 100; i++) deep = { kind: 'not', arg: deep };
    expect(invalid(plan({ where: deep }))).toMatch(/nested deeper than 64/);
    expect(invalid(plan({ groupBy: ['district', 'sex', 'district'] }))).toMatch(/at most 2 columns/);
    expect(invalid(plan({ groupBy: ['district', 'district'] }))).toMatch(/GROUP BY district twice/);
    expect(invalid(plan({ groupBy: ['age'] }))).toMatch(/not a category column/);
    expect(invalid(plan({ select: [{ kind: 'aggregate', fn: 'sum', column: 'district', alias: 's' }] }))).toMatch(
      /SUM\(district\): not an integer column/,
    );
    expect(invalid(plan({ select: [{ kind: 'group', column: 'sex', alias: 'sex' }] }))).toMatch(
      /sex is selected but not grouped/,
    );
    expect(invalid(plan({ dataset: 'x"; --' }))).toMatch(/bad dataset name/);
  });

  it('quotes identifiers the standard way', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(() => quoteIdent('')).toThrow(RangeError);
    expect(() => quoteIdent('a\u0000')).toThrow(RangeError);
    expect(DUCKDB_DIALECT.param(3)).toBe('$3');
    expect(() => DUCKDB_DIALECT.param(0)).toThrow(RangeError);
  });
});
