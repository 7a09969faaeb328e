/**
 * A GLM round's sums over a live PostgreSQL table: equal to learn/sums.ts over the same records and
 * to the DuckDB store, to rounding, for random scenarios and the fixed shapes of glm-sums.test.ts;
 * out-of-domain rows skipped or refused as the dataset says; and the engine's float sum within its
 * documented error bound of the exact (rational) sum, for adversarial magnitudes. The database's
 * default `extra_float_digits` is 0 (15 digits), so the store's own setting is what keeps sums exact.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSchema, type DatasetSchema } from '../../src/federation/schema.js';
import { codeModel, type ModelCoding } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import type { FamilyName } from '../../src/learn/family.js';
import { parseFormula } from '../../src/learn/formula.js';
import { sumsOf } from '../../src/learn/pooled-fit.js';
import type { GlmSums } from '../../src/learn/sums.js';
import type { Predicate } from '../../src/query/plan.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { InvalidRowCensus } from '../../src/store/invalid-rows.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import { DUCKDB_DIALECT, POSTGRES_DIALECT } from '../../src/store/sql-dialect.js';
import type { AgencyStore, DuckDbAgencyStore } from '../../src/store/store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { fitScenarioArb, prng } from '../learn/arbitraries.js';
import { tempDir, writeCsv } from './helpers.js';
import { createLiveTable, type LiveRow } from './pg-tables.js';

const dir = tempDir('pg-glm');
let db: TestDatabase;
let pool: pg.Pool;
let duck: DuckDbAgencyStore;
let tables = 0;

beforeAll(async () => {
  db = await freshDatabase('pg glm sums');
  await db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET extra_float_digits = 0`);
  pool = new pg.Pool({ ...db.settings, max: 3 });
  duck = await openDuckDbStore(':memory:');
});
afterAll(async () => {
  await duck.close();
  await pool.end();
  await db.drop();
});

/** A live table of `rows` served as `dataset` by a store on the test's pool. */
async function liveStore(
  dataset: string,
  schema: DatasetSchema,
  rows: readonly LiveRow[],
  onInvalid: 'skip' | 'reject' = 'reject',
  onInvalidRows?: (c: InvalidRowCensus) => void,
): Promise<AgencyStore> {
  const table = await createLiveTable(db, { schema: 'public', name: `${dataset}_${++tables}` }, schema, rows);
  return openPostgresStore({
    pool,
    datasets: { [dataset]: { table, schema, onInvalid } },
    ...(onInvalidRows === undefined ? {} : { onInvalidRows }),
  });
}

function code(formula: string, schema: DatasetSchema, family: FamilyName, dataset: string): ModelCoding {
  return codeModel(parseFormula(formula, schema, dataset), schema, family, dataset);
}

/** Entry by entry within `rel` relative, or `rel` × the array's largest entry (near zero). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 1e-9): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i] as number));
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i] as number, expected[i] as number];
    if (!(Math.abs(a - e) <= rel * Math.max(Math.abs(e), scale * 1e-3)))
      expect.fail(`${what}[${i}]: PostgreSQL ${a}, expected ${e}`);
  }
}

function expectSums(actual: GlmSums, expected: GlmSums): void {
  expect(actual.n).toBe(expected.n);
  expectClose(actual.gradient, expected.gradient, 'gradient');
  expectClose(actual.information, expected.information, 'information');
  expectClose([actual.deviance], [expected.deviance], 'deviance');
  expectClose([actual.saturated], [expected.saturated], 'saturated');
}

describe('PostgreSQL glmSums = learn/sums.ts = the DuckDB store', () => {
  it('random schemas, formulas, families and β (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fitScenarioArb, fc.integer(), fc.constantFrom(0.5, 4, 80), async (s, seed, spread) => {
        const coding = code(s.formula, s.schema, s.family, 'd');
        const rand = prng(seed);
        const beta = coding.columns.map(() => (rand() - 0.5) * spread);
        await using store = await liveStore('d', s.schema, s.rows);
        expectSums(await store.glmSums(coding, s.schema, beta, null), sumsOf(coding, s.rows, beta));
      }),
      { numRuns: 15 },
    );
  }, 120_000);

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
  const COLS = Object.keys(WIDE.columns);

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

  const csv = (rows: readonly DataRecord[]): string =>
    [COLS, ...rows.map((r) => COLS.map((c) => String(r[c])))].map((f) => `${csvRecord(f)}\n`).join('');

  it('three-way interactions, indicator coding, offsets, every family, with and without WHERE', async () => {
    const rand = prng(2026);
    const rows = wideRows(500, rand);
    await duck.loadCsv('w', WIDE, writeCsv(dir, csv(rows)));
    await using store = await liveStore('w', WIDE, rows);
    const where: Predicate = {
      kind: 'and',
      args: [
        { kind: 'in', column: 'a', values: ['锦江区', "it's"] },
        { kind: 'between', column: 'x', low: -5, high: 20 },
        { kind: 'not', arg: { kind: 'compare', column: 'c', op: '=', value: 'C3' } },
      ],
    };
    const kept = rows.filter(
      (r) =>
        (r['a'] === '锦江区' || r['a'] === "it's") &&
        (r['x'] as number) >= -5 &&
        (r['x'] as number) <= 20 &&
        r['c'] !== 'C3',
    );
    const cases: [FamilyName, string][] = [
      ['binomial', 'yb ~ a + b + c + x + z'],
      ['binomial', "yc == '是' ~ a + b + a:b + x + x:a + z:x"],
      ['poisson', 'yp ~ a:b:c + x + offset(log(expo))'],
      ['poisson', 'yp ~ x:a + z + offset(expo)'],
      ['gaussian', 'yg ~ a + x + a:x + z + z:x:b - 1'],
      ['gaussian', 'yg ~ b + c + x:z + b:c + a:b:x'],
    ];
    for (const [family, formula] of cases) {
      const coding = code(formula, WIDE, family, 'w');
      const beta = coding.columns.map(() => (rand() - 0.5) * (family === 'poisson' ? 0.1 : 1));
      for (const [w, subset] of [
        [null, rows],
        [where, kept],
      ] as const) {
        const got = await store.glmSums(coding, WIDE, beta, w);
        expectSums(got, sumsOf(coding, subset, beta));
        expectSums(got, await duck.glmSums(coding, WIDE, beta, w));
      }
    }
  });

  it('an empty table gives zero sums and n = 0', async () => {
    await using store = await liveStore('w', WIDE, []);
    for (const [formula, family] of [
      ["yc == '是' ~ a + b:x", 'binomial'],
      ['yp ~ x + z + offset(log(expo))', 'poisson'],
      ['yg ~ x:z - 1', 'gaussian'],
    ] as const) {
      const coding = code(formula, WIDE, family, 'w');
      const got = await store.glmSums(
        coding,
        WIDE,
        coding.columns.map(() => 0.3),
        null,
      );
      expect(got.n).toBe(0);
      expect([...got.gradient, ...got.information, got.deviance, got.saturated].every((v) => v === 0)).toBe(true);
    }
  });

  it('the Poisson saturated term without LGAMMA: exact factorials below 64, Stirling beyond', async () => {
    const schema = parseSchema(
      { datasets: { p: { columns: { y: { type: 'integer', min: 0, max: 2 ** 40 } } } } },
      'p.json',
    ).datasets['p'] as DatasetSchema;
    const ys = [0, 1, 2, 3, 10, 62, 63, 64, 65, 200, 1000, 123_456, 10 ** 6, 2 ** 40];
    const rows = ys.map((y) => ({ y }));
    await using store = await liveStore('p', schema, rows);
    await duck.loadCsv('p', schema, writeCsv(dir, ['y', ...ys.map(String)].join('\n') + '\n'));
    const coding = code('y ~ 1', schema, 'poisson', 'p');
    for (const beta of [[0], [Math.log(100)]]) {
      const got = await store.glmSums(coding, schema, beta, null);
      const expected = sumsOf(coding, rows, beta);
      expect(Math.abs(got.saturated - expected.saturated)).toBeLessThanOrEqual(1e-13 * Math.abs(expected.saturated));
      expectSums(got, expected);
      expectSums(got, await duck.glmSums(coding, schema, beta, null));
    }
    // One row at a time: each y's own term, near the branch point too.
    for (const y of [2, 63, 64, 5000]) {
      await using one = await liveStore('p', schema, [{ y }]);
      const got = await one.glmSums(coding, schema, [0], null);
      const expected = sumsOf(coding, [{ y }], [0]).saturated;
      expect(Math.abs(got.saturated - expected)).toBeLessThanOrEqual(4e-16 * Math.abs(expected));
    }
  });

  it('skips out-of-domain rows (reported) or refuses them, never sums them', async () => {
    const rand = prng(77);
    const good = wideRows(120, rand);
    const bad: LiveRow[] = [
      { ...good[0]!, a: 'e\u0301' },
      { ...good[1]!, x: 31 },
      { ...good[2]!, yp: null },
      { ...good[3]!, expo: 0, c: null },
    ];
    const coding = code('yp ~ a + c + x + offset(log(expo))', WIDE, 'poisson', 'w');
    const beta = coding.columns.map(() => (rand() - 0.5) * 0.1);
    const reports: InvalidRowCensus[] = [];
    await using skip = await liveStore('w', WIDE, [...good, ...bad], 'skip', (c) => reports.push(c));
    expectSums(await skip.glmSums(coding, WIDE, beta, null), sumsOf(coding, good, beta));
    const census = { dataset: 'w', rows: 4, byColumn: { a: 1, x: 1, yp: 1, expo: 1, c: 1 } };
    expect(reports).toEqual([census]);
    await using reject = await liveStore('w', WIDE, [...good, ...bad]);
    const e = await fedstatRejectionOf(reject.glmSums(coding, WIDE, beta, null));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.details).toMatchObject({ rows: 4, byColumn: census.byColumn });
  });
});

/** A finite double as an exact integer multiple of 2^-1074. */
function scaled(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n === 1n ? -1n : 1n;
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  if (exp === 0x7ff) throw new RangeError('not finite');
  return sign * (exp === 0 ? frac : (frac | (1n << 52n)) << BigInt(exp - 1));
}

const abs = (v: bigint): bigint => (v < 0n ? -v : v);

/**
 * The documented bound (sql-dialect.ts `floatSum`): |sum − exact| ≤ (2u + n·u²)·Σ|x|, u = 2^-53,
 * plus (n + 1) half-ulps of the subnormal range (a subnormal's rounding error is absolute, 2^-1075).
 */
function withinBound(got: number, xs: readonly number[]): boolean {
  const exact = xs.reduce((s, x) => s + scaled(x), 0n);
  const mass = xs.reduce((s, x) => s + abs(scaled(x)), 0n);
  const n = BigInt(xs.length);
  return abs(scaled(got) - exact) * 2n ** 106n <= (2n ** 54n + n + 1n) * mass + (n + 1n) * 2n ** 105n;
}

const adversarial = fc.oneof(
  fc.constantFrom(1e16, -1e16, 1, -1, 2 ** 53, -(2 ** 53), 0.1, -0.1, 1e300, -1e300, 5e-324, -0, 3.14159, 1e-300),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }),
  fc.integer().map((k) => k * 2 ** 40),
);

describe('the float sum of each dialect is within its error bound of the exact sum', () => {
  it('PostgreSQL (exact NUMERIC through the shortest text) and DuckDB (Kahan)', async () => {
    const client = await pool.connect();
    try {
      await client.query('SET extra_float_digits = 3'); // as the store pins it; the database default is 0
      const samples: (readonly number[])[] = [
        [1e16, 1, -1e16],
        [1, 1e100, 1, -1e100],
        [2 ** 53, 1, 1, 1, 1, -(2 ** 53)],
        Array.from({ length: 1000 }, () => 0.1),
        [5e-324, 5e-324, 5e-324],
      ];
      await fc.assert(
        fc.asyncProperty(fc.array(adversarial, { minLength: 1, maxLength: 60 }), async (xs) => {
          const text = `SELECT ${POSTGRES_DIALECT.floatSum('x')} AS s FROM unnest($1::double precision[]) AS t(x)`;
          const got = (await client.query<{ s: number }>(text, [xs])).rows[0]?.s;
          if (typeof got !== 'number') expect.fail('the sum is not a number');
          if (!withinBound(got, xs)) expect.fail(`PostgreSQL sum ${got} of ${JSON.stringify(xs)} is out of bounds`);
        }),
        { numRuns: 200, examples: samples.map((s) => [s]) },
      );
      // The naive double sum misses these by far more than the bound; the NUMERIC sum is exact.
      const one = await client.query({
        text: `SELECT ${POSTGRES_DIALECT.floatSum('x')} FROM unnest($1::double precision[]) WITH ORDINALITY AS t(x, i)`,
        values: [[1e16, 1, -1e16]],
        rowMode: 'array',
      });
      expect(Number((one.rows[0] as unknown[])[0])).toBe(1);
      expect(1e16 + 1 - 1e16).toBe(0);
    } finally {
      client.release();
    }
    expect(DUCKDB_DIALECT.floatSum('x')).toBe('kahan_sum(x)');
  });

  it('through glmSums: Σy and Σy² of a gaussian round at β = 0 over ±(2^53 − 1) and small values', async () => {
    const schema = parseSchema(
      {
        datasets: {
          g: { columns: { y: { type: 'integer', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER } } },
        },
      },
      'g.json',
    ).datasets['g'] as DatasetSchema;
    const big = Number.MAX_SAFE_INTEGER;
    const rows = [big, 1, 3, -big, 7, big, -big, -5, 2 ** 40, -(2 ** 40) + 1].map((y) => ({ y }));
    await using store = await liveStore('g', schema, rows);
    await duck.loadCsv('g', schema, writeCsv(dir, ['y', ...rows.map((r) => String(r.y))].join('\n') + '\n'));
    const coding = code('y ~ 1', schema, 'gaussian', 'g');
    const ys = rows.map((r) => r.y);
    const squares = ys.map((y) => y * y); // each row's term, rounded as the engine rounds it
    for (const s of [store, duck]) {
      const got = await s.glmSums(coding, schema, [0], null);
      expect(got.n).toBe(rows.length);
      expect(withinBound(got.gradient[0]!, ys)).toBe(true);
      expect(withinBound(got.deviance, squares)).toBe(true);
      expect(got.gradient[0]).toBe(7); // Σy exactly: naive left-to-right double addition gives 6
    }
    expect(ys.reduce((a, b) => a + b, 0)).not.toBe(7);
  });
});
