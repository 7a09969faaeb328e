import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import type { FamilyName } from '../../src/learn/family.js';
import { parseFormula } from '../../src/learn/formula.js';
import { sumsOf } from '../../src/learn/pooled-fit.js';
import type { GlmSums } from '../../src/learn/sums.js';
import type { Predicate } from '../../src/query/plan.js';
import { compileGlmSums, duckDbGlmSums, toGlmSums } from '../../src/store/glm-sums.js';
import { DUCKDB_DIALECT, POSTGRES_DIALECT } from '../../src/store/sql-dialect.js';
import { fitScenarioArb, prng } from '../learn/arbitraries.js';

/** fast-check runs: small by default; FEDSTAT_GLM_SQL_RUNS for the long form. */
function runs(defaultRuns: number): number {
  const env = Number(process.env['FEDSTAT_GLM_SQL_RUNS']);
  return Number.isSafeInteger(env) && env > 0 ? env : defaultRuns;
}

let instance: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

/** Replaces table `name` with `rows`, typed as the store types them (duckdb-store.ts). */
async function load(name: string, schema: DatasetSchema, rows: readonly DataRecord[]): Promise<void> {
  const cols = Object.entries(schema.columns);
  const q = (n: string): string => DUCKDB_DIALECT.quoteIdent(n);
  const type = (c: (typeof cols)[number][1]): string =>
    c.type === 'category' ? 'USMALLINT' : c.type === 'integer' ? 'BIGINT' : 'VARCHAR';
  await conn.run(`DROP TABLE IF EXISTS ${q(name)}`);
  await conn.run(`CREATE TABLE ${q(name)} (${cols.map(([n, c]) => `${q(n)} ${type(c)} NOT NULL`).join(', ')})`);
  const appender = await conn.createAppender(name);
  rows.forEach((rec, i) => {
    for (const [n, c] of cols) {
      const v = rec[n];
      if (c.type === 'category') appender.appendUSmallInt(c.values.indexOf(String(v)));
      else if (c.type === 'integer') appender.appendBigInt(BigInt(v as number));
      else appender.appendVarchar(v === undefined ? `r${i}` : String(v));
    }
    appender.endRow();
  });
  appender.closeSync();
}

function code(formula: string, schema: DatasetSchema, family: FamilyName, dataset = 'd'): ModelCoding {
  return codeModel(parseFormula(formula, schema, dataset), schema, family, dataset);
}

async function sqlSums(
  coding: ModelCoding,
  schema: DatasetSchema,
  beta: readonly number[],
  where: Predicate | null = null,
): Promise<GlmSums> {
  return duckDbGlmSums(conn, compileGlmSums(coding, schema, beta, DUCKDB_DIALECT, where));
}

/** Entry by entry within `rel` relative, or `rel` × the array's largest entry (near zero). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 1e-9): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i] as number));
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i] as number, expected[i] as number];
    if (!(Math.abs(a - e) <= rel * Math.max(Math.abs(e), scale * 1e-3)))
      expect.fail(`${what}[${i}]: SQL ${a}, JavaScript ${e}`);
  }
}

function expectSums(actual: GlmSums, expected: GlmSums): void {
  expect(actual.n).toBe(expected.n);
  expectClose(actual.gradient, expected.gradient, 'gradient');
  expectClose(actual.information, expected.information, 'information');
  expectClose([actual.deviance], [expected.deviance], 'deviance');
  expectClose([actual.saturated], [expected.saturated], 'saturated');
}

/** Schema-valid names that are SQL keywords, mixed case, or the statement's own aliases. */
const ODD: Readonly<Record<string, string>> = {
  v0: 'select',
  v1: 'g0',
  v2: 'Order_By',
  resp: 'eta',
  expo: 'o',
  id: 'y',
};

function rename(name: string): string {
  return ODD[name] ?? name;
}

describe('compileGlmSums: the SQL sums equal learn/sums.ts over the same rows', () => {
  it('random schemas, formulas (interactions, offsets, no intercept), families, β', async () => {
    await fc.assert(
      fc.asyncProperty(
        fitScenarioArb,
        fc.integer(),
        fc.constantFrom(0.5, 4, 80),
        fc.boolean(),
        async (s, seed, spread, odd) => {
          let { schema, formula, rows } = s;
          if (odd) {
            const columns = Object.fromEntries(Object.entries(schema.columns).map(([n, c]) => [rename(n), c]));
            schema = parseSchema({ datasets: { d: { columns } } }, 'odd.json').datasets['d'] as DatasetSchema;
            formula = formula.replace(/\b(v0|v1|v2|resp|expo)\b/g, (m) => rename(m));
            rows = rows.map((r) => Object.fromEntries(Object.entries(r).map(([n, v]) => [rename(n), v])));
          }
          const coding = code(formula, schema, s.family);
          const rand = prng(seed);
          // A wide spread drives η into the binomial and poisson clamps.
          const beta = coding.columns.map(() => (rand() - 0.5) * spread);
          await load('d', schema, rows);
          expectSums(await sqlSums(coding, schema, beta), sumsOf(coding, rows, beta));
        },
      ),
      { numRuns: runs(25) },
    );
  });

  // Three-way interactions, indicator coding (x:a without a), every family's response kinds.
  const WIDE: DatasetSchema = parseSchema(
    {
      datasets: {
        w: {
          columns: {
            a: { type: 'category', values: ['锦江区', '青羊区', "it's"] },
            b: { type: 'category', values: ['B1', 'B2'] },
            c: { type: 'category', values: ['C1', 'C2', 'C3', 'C4'] },
            x: { type: 'integer', min: -10, max: 30 },
            z: { type: 'integer', min: 0, max: 8 },
            yb: { type: 'integer', min: 0, max: 1 },
            yc: { type: 'category', values: ['否', '是', '不详'] },
            yp: { type: 'integer', min: 0, max: 60 },
            yg: { type: 'integer', min: -100, max: 100 },
            expo: { type: 'integer', min: 1, max: 90 },
          },
        },
      },
    },
    'wide.json',
  ).datasets['w'] as DatasetSchema;
  const RHS = [
    'a + b + c + x + z',
    'a + b + a:b + x + x:a + z:x',
    'a:b:c + x',
    'x:a + z',
    'a + x + a:x + z + z:x:b - 1',
    'b + c + x:z + b:c + a:b:x',
    'x + z + x:z',
  ];
  const LHS: Readonly<Record<FamilyName, readonly string[]>> = {
    binomial: ['yb', "yc == '是'"],
    poisson: ['yp', 'yp', 'yp'],
    gaussian: ['yg'],
  };

  function wideRows(n: number, rand: () => number): DataRecord[] {
    const pick = (xs: readonly string[]): string => xs[Math.floor(rand() * xs.length)] as string;
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    return Array.from({ length: n }, () => ({
      a: pick(['锦江区', '青羊区', "it's"]),
      b: pick(['B1', 'B2']),
      c: pick(['C1', 'C2', 'C3', 'C4']),
      x: int(-10, 30),
      z: int(0, 8),
      yb: int(0, 1),
      yc: pick(['否', '是', '不详']),
      yp: rand() < 0.3 ? 0 : int(0, 60),
      yg: int(-100, 100),
      expo: int(1, 90),
    }));
  }

  it('fixed shapes: three-way interactions, indicator coding, offsets, every response kind', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<FamilyName>('binomial', 'poisson', 'gaussian'),
        fc.nat(RHS.length - 1),
        fc.nat(2),
        fc.integer(),
        fc.integer({ min: 1, max: 300 }),
        async (family, r, l, seed, n) => {
          const lhs = LHS[family];
          const offset = family === 'poisson' ? ['', ' + offset(log(expo))', ' + offset(expo)'][l % 3] : '';
          const coding = code(
            `${lhs[l % lhs.length] as string} ~ ${RHS[r] as string}${offset as string}`,
            WIDE,
            family,
            'w',
          );
          const rand = prng(seed);
          const rows = wideRows(n, rand);
          const beta = coding.columns.map(() => (rand() - 0.5) * (family === 'poisson' ? 0.2 : 3));
          await load('w', WIDE, rows);
          expectSums(await sqlSums(coding, WIDE, beta), sumsOf(coding, rows, beta));
        },
      ),
      { numRuns: runs(25) },
    );
  });

  it('an empty table gives zero sums and n = 0', async () => {
    await load('w', WIDE, []);
    for (const [formula, family] of [
      ["yc == '是' ~ a + b:x", 'binomial'],
      ['yp ~ x + z + offset(log(expo))', 'poisson'],
      ['yg ~ x:z - 1', 'gaussian'],
    ] as const) {
      const coding = code(formula, WIDE, family, 'w');
      const got = await sqlSums(
        coding,
        WIDE,
        coding.columns.map(() => 0.3),
      );
      expect(got.n).toBe(0);
      expect([...got.gradient, ...got.information, got.deviance, got.saturated].every((v) => v === 0)).toBe(true);
      expect(got.gradient.length).toBe(coding.columns.length);
    }
  });

  it('sums only the rows the WHERE clause keeps', async () => {
    const rand = prng(7);
    const rows = wideRows(400, rand);
    await load('w', WIDE, rows);
    const where: Predicate = {
      kind: 'and',
      args: [
        { kind: 'in', column: 'a', values: ['锦江区', "it's"] },
        { kind: 'between', column: 'x', low: -5, high: 20 },
        { kind: 'not', arg: { kind: 'compare', column: 'c', op: '=', value: 'C3' } },
      ],
    };
    const kept = rows.filter(
      (r) => (r['a'] === '锦江区' || r['a'] === "it's") && (r['x'] as number) >= -5 && (r['x'] as number) <= 20,
    );
    const subset = kept.filter((r) => r['c'] !== 'C3');
    expect(subset.length).toBeGreaterThan(20);
    expect(subset.length).toBeLessThan(rows.length);
    for (const family of ['binomial', 'poisson', 'gaussian'] as const) {
      const lhs = family === 'binomial' ? 'yb' : family === 'poisson' ? 'yp' : 'yg';
      const coding = code(`${lhs} ~ a + c + x + x:b`, WIDE, family, 'w');
      const beta = coding.columns.map(() => (rand() - 0.5) * 0.3);
      const compiled = compileGlmSums(coding, WIDE, beta, DUCKDB_DIALECT, where);
      // The WHERE clause's literals are bound first, as compile-sql.ts binds them.
      expect(compiled.sql).toContain('$1');
      expectSums(await duckDbGlmSums(conn, compiled), sumsOf(coding, subset, beta));
    }
  });
});

describe('the statement text', () => {
  const DIGITS: DatasetSchema = parseSchema(
    {
      datasets: {
        d: {
          columns: {
            select: { type: 'category', values: ['锦江区', "O'Brien", 'level9876'] },
            Order_By: { type: 'integer', min: 1234567, max: 7654321 },
            g0: { type: 'category', values: ['甲', '乙'] },
            eta: { type: 'integer', min: 0, max: 543 },
            y: { type: 'integer', min: 3, max: 97 },
          },
        },
      },
    },
    'digits.json',
  ).datasets['d'] as DatasetSchema;
  const coding = code('eta ~ select + Order_By + g0:Order_By + select:g0 + offset(log(y))', DIGITS, 'poisson');
  const beta = coding.columns.map((_, j) => 0.123456789 + j * 1.0987654321);

  it('holds no value: no level, no β, no centre or scale, no clamp; only 0.0, 1.0 and 2.0', () => {
    for (const where of [null, { kind: 'compare', column: 'select', op: '=', value: "O'Brien" } as const]) {
      const { sql, params } = compileGlmSums(coding, DIGITS, beta, DUCKDB_DIALECT, where);
      for (const v of ['锦江区', 'Brien', 'level9876', '甲', '乙', '123456', '098765', '4444444', '3209877', "'"])
        expect(sql).not.toContain(v);
      // Every number left once placeholders and identifiers are removed is one of the constants.
      const numbers = sql
        .replace(/\$\d+/g, ' ')
        .replace(/"(?:[^"]|"")*"/g, ' ')
        .replace(/\b[A-Za-z_][A-Za-z0-9_]*\b/g, ' ')
        .match(/\d+(\.\d+)?/g);
      expect(new Set(numbers)).toEqual(new Set(['0.0', '1.0', '2.0']));
      expect(params).toEqual(expect.arrayContaining([beta[0], beta[3], 4444444, 3209877]));
      expect(coding.eta).not.toBeNull();
      expect(params).toContain(coding.eta?.max);
    }
  });

  it('quotes every schema identifier, also keywords and names equal to its own aliases', async () => {
    const { sql } = compileGlmSums(coding, DIGITS, beta, DUCKDB_DIALECT);
    for (const name of ['select', 'Order_By', 'g0', 'eta', 'y']) expect(sql).toContain(`"${name}"`);
    const rand = prng(11);
    const rows = Array.from({ length: 150 }, () => ({
      select: ['锦江区', "O'Brien", 'level9876'][Math.floor(rand() * 3)] as string,
      Order_By: 1234567 + Math.floor(rand() * 6419755),
      g0: rand() < 0.5 ? '甲' : '乙',
      eta: Math.floor(rand() * 40),
      y: 3 + Math.floor(rand() * 95),
    }));
    await load('d', DIGITS, rows);
    const small = beta.map((b) => b / 40);
    expectSums(await sqlSums(coding, DIGITS, small), sumsOf(coding, rows, small));
  });

  it('compiles for PostgreSQL with its code type and the same placeholders', () => {
    const pg = compileGlmSums(coding, DIGITS, beta, POSTGRES_DIALECT);
    const duck = compileGlmSums(coding, DIGITS, beta, DUCKDB_DIALECT);
    expect(pg.sql).toContain('AS SMALLINT)');
    expect(pg.sql).not.toContain('USMALLINT');
    expect(pg.params).toEqual(duck.params);
    expect(pg.information).toEqual(duck.information);
  });

  it('refuses a β of the wrong length, a non-finite β, and a coding the schema does not match', () => {
    expect(() => compileGlmSums(coding, DIGITS, beta.slice(1), DUCKDB_DIALECT)).toThrow(RangeError);
    expect(() => compileGlmSums(coding, DIGITS, [Number.NaN, ...beta.slice(1)], DUCKDB_DIALECT)).toThrow(RangeError);
    const other = parseSchema(
      {
        datasets: {
          d: { columns: { eta: { type: 'integer', min: 0, max: 9 }, g0: { type: 'integer', min: 0, max: 1 } } },
        },
      },
      'other.json',
    ).datasets['d'] as DatasetSchema;
    expect(() => compileGlmSums(coding, other, beta, DUCKDB_DIALECT)).toThrow(FedstatError);
  });

  it('reads a driver row of bigints and decimal strings, and refuses a short one', () => {
    const c = compileGlmSums(code('yg ~ x', parseWide(), 'gaussian', 'w'), parseWide(), [0.5, 0.5], DUCKDB_DIALECT);
    // n, gradient (2), information (3), deviance.
    const s = toGlmSums([3n, '1.5', 2, 3, 4, 5, '6.25'], c);
    expect([s.n, ...s.gradient, ...s.information, s.deviance, s.saturated]).toEqual([3, 1.5, 2, 3, 4, 5, 6.25, 0]);
    expect(() => toGlmSums([3n, 1], c)).toThrow(FedstatError);
  });
});

function parseWide(): DatasetSchema {
  return parseSchema(
    {
      datasets: {
        w: { columns: { x: { type: 'integer', min: 0, max: 10 }, yg: { type: 'integer', min: -5, max: 5 } } },
      },
    },
    'w.json',
  ).datasets['w'] as DatasetSchema;
}
