/**
 * Parquet files attached to the DuckDB store and read in place: aggregates equal a plain JS
 * reference over the valid rows (fast-check), out-of-domain rows are refused or skipped with exact
 * counts, GLM sums and record scans equal those of the same valid rows loaded from CSV, and files
 * that do not fit the schema or do not exist are refused with every problem named.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import { parseFormula } from '../../src/learn/formula.js';
import { evaluatePredicate } from '../../src/query/evaluate.js';
import type { Predicate, QueryPlan } from '../../src/query/plan.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { InvalidRowCensus } from '../../src/store/invalid-rows.js';
import type { DuckDbAgencyStore } from '../../src/store/store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { PEOPLE_SCHEMA, tempDir, writeCsv } from './helpers.js';

const DISTRICTS = ['锦江区', '青羊区', '金牛区'];

async function expectFedstatError(promise: Promise<unknown>, code: string) {
  const e = await fedstatRejectionOf(promise);
  expect(e.code).toBe(code);
  return e;
}
const dir = tempDir('parquet');
let store: DuckDbAgencyStore;
let writer: DuckDBConnection;
let writerDb: DuckDBInstance;
let fileNo = 0;

beforeAll(async () => {
  store = await openDuckDbStore(':memory:');
  writerDb = await DuckDBInstance.create(':memory:');
  writer = await writerDb.connect();
});
afterAll(async () => {
  await store.close();
  writer.closeSync();
  writerDb.closeSync();
});

/** A row as written to Parquet: a district outside the domain, an age out of bounds or NULL are all possible. */
interface RawRow {
  readonly pid: string;
  readonly district: string | null;
  readonly age: number | null;
  readonly balance: number;
}

function valid(r: RawRow): boolean {
  return r.district !== null && DISTRICTS.includes(r.district) && r.age !== null && r.age >= 0 && r.age <= 120;
}

/** Writes `rows` to a new Parquet file (through a CSV that DuckDB types explicitly) and returns its path. */
async function writeParquet(
  rows: readonly RawRow[],
  name = `p${++fileNo}.parquet`,
  types = DEFAULT_TYPES,
): Promise<string> {
  const csv = writeCsv(
    dir,
    ['pid,district,age,balance', ...rows.map((r) => `${r.pid},${r.district ?? ''},${r.age ?? ''},${r.balance}`)].join(
      '\n',
    ) + '\n',
  );
  const out = join(dir, name);
  await writer.run(
    `COPY (SELECT * FROM read_csv('${csv}', header = true, columns = ${types})) TO '${out}' (FORMAT parquet)`,
  );
  return out;
}
const DEFAULT_TYPES = "{'pid': 'VARCHAR', 'district': 'VARCHAR', 'age': 'INTEGER', 'balance': 'BIGINT'}";

const rowArb: fc.Arbitrary<RawRow> = fc.record({
  pid: fc.constant('x'),
  district: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...DISTRICTS) },
    { weight: 1, arbitrary: fc.constantFrom('武侯区', 'jinjiang', null) },
  ),
  age: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 120 }) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 121, 5000, null) },
  ),
  balance: fc.integer({ min: -50_000, max: 50_000 }),
});

/** COUNT, SUM(age), SUM(balance) per district over the valid rows the predicate keeps (JS). */
function reference(rows: readonly RawRow[], where: Predicate | null): Map<number, bigint[]> {
  const out = new Map<number, bigint[]>();
  for (const r of rows.filter(valid)) {
    if (!evaluatePredicate(where, r as unknown as Record<string, string | number>)) continue;
    const g = DISTRICTS.indexOf(r.district!);
    const m = out.get(g) ?? [0n, 0n, 0n];
    m[0]! += 1n;
    m[1]! += BigInt(r.age!);
    m[2]! += BigInt(r.balance);
    out.set(g, m);
  }
  return out;
}

function plan(where: Predicate | null): QueryPlan {
  return {
    dataset: 'people',
    groupBy: ['district'],
    select: [
      { kind: 'group', column: 'district', alias: 'district' },
      { kind: 'aggregate', fn: 'count', column: null, alias: 'n' },
      { kind: 'aggregate', fn: 'sum', column: 'age', alias: 'a' },
      { kind: 'aggregate', fn: 'sum', column: 'balance', alias: 'b' },
    ],
    where,
  };
}

describe('Parquet files read in place', () => {
  it('aggregates equal the plaintext over the valid rows, and skip reports the others exactly (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 0, maxLength: 60 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 0, max: 120 }),
        async (rows, a, b) => {
          const file = await writeParquet(rows);
          const reports: InvalidRowCensus[] = [];
          await store.attachParquet('people', PEOPLE_SCHEMA, file, {
            onInvalid: 'skip',
            onInvalidRows: (c) => reports.push(c),
          });
          const where: Predicate = { kind: 'between', column: 'age', low: Math.min(a, b), high: Math.max(a, b) };
          for (const w of [null, where]) {
            const got = await store.aggregate(plan(w), PEOPLE_SCHEMA);
            expect(new Map([...got.groups].map(([k, v]) => [k, [...v]]))).toEqual(reference(rows, w));
          }
          // A statement judges rows by the columns it reads (district, age; balance is never out of
          // domain here): a row out of domain in age is counted whatever the WHERE says; one out of
          // domain only in district (its GROUP BY column) when the WHERE keeps it.
          const expected = [null, where].flatMap((w) => {
            const badAge = (r: RawRow) => r.age === null || r.age < 0 || r.age > 120;
            const badDistrict = (r: RawRow) => r.district === null || !DISTRICTS.includes(r.district);
            const counted = rows.filter(
              (r) =>
                badAge(r) || (badDistrict(r) && evaluatePredicate(w, r as unknown as Record<string, string | number>)),
            );
            const nDistrict = counted.filter(badDistrict).length;
            const nAge = counted.filter(badAge).length;
            if (counted.length === 0) return [];
            return [
              {
                dataset: 'people',
                rows: counted.length,
                byColumn: { ...(nDistrict > 0 ? { district: nDistrict } : {}), ...(nAge > 0 ? { age: nAge } : {}) },
              },
            ];
          });
          // Every statement that skipped rows reports them.
          expect(reports).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('reject refuses a statement over out-of-domain rows, naming how many of which column', async () => {
    const file = await writeParquet([
      { pid: 'a', district: '锦江区', age: 30, balance: 1 },
      { pid: 'b', district: '武侯区', age: 130, balance: 2 },
      { pid: 'c', district: '青羊区', age: 200, balance: 3 },
    ]);
    await store.attachParquet('people', PEOPLE_SCHEMA, file);
    const err = await expectFedstatError(store.aggregate(plan(null), PEOPLE_SCHEMA), 'DATA_INVALID');
    expect(err.message).toContain('dataset people: 2 rows out of the schema');
    expect(err.message).toContain('(age 2, district 1)');
    expect(err.message).not.toMatch(/\b130\b/);
    expect(err.details).toMatchObject({ rows: 2, byColumn: { age: 2, district: 1 } });
  });

  it('reads a glob of several files as one dataset', async () => {
    const parts = [
      [{ pid: 'a', district: '锦江区', age: 30, balance: 10 }],
      [
        { pid: 'b', district: '青羊区', age: 40, balance: 20 },
        { pid: 'c', district: '锦江区', age: 50, balance: -5 },
      ],
      [{ pid: 'd', district: '金牛区', age: 60, balance: 7 }],
    ];
    for (const [i, rows] of parts.entries()) await writeParquet(rows, `glob-2026-0${i + 1}.parquet`);
    await writeParquet([{ pid: 'z', district: '金牛区', age: 1, balance: 1 }], 'glob-2025-12.parquet');
    await store.attachParquet('people', PEOPLE_SCHEMA, join(dir, 'glob-2026-*.parquet'));
    const got = await store.aggregate(plan(null), PEOPLE_SCHEMA);
    expect(got.groups).toEqual(reference(parts.flat(), null));
    expect(await store.rowCount('people')).toBe(4);
    expect(await store.datasets()).toContain('people');
  });

  it('refuses aggregates and record scans over more rows than maxRows', async () => {
    const rows = [0, 1, 2, 3, 4].map((i) => ({ pid: `m${i}`, district: '锦江区', age: 20 + i, balance: i }));
    const small = { ...PEOPLE_SCHEMA, maxRows: 3 };
    await store.attachParquet('people', small, await writeParquet(rows));
    const agg = await expectFedstatError(store.aggregate(plan(null), small), 'DATA_INVALID');
    expect(agg.message).toContain("more rows match than the schema's maxRows (3)");
    let read = 0;
    const scan = await expectFedstatError(
      (async () => {
        for await (const batch of store.scanRecords('people', small, ['age'], null, 2)) read += batch.length;
      })(),
      'DATA_INVALID',
    );
    expect(scan.message).toBe(agg.message);
    expect(read).toBeLessThanOrEqual(3);
  });

  it('refuses a pattern that matches no file, naming it', async () => {
    const missing = join(dir, 'nothing-*.parquet');
    const err = await expectFedstatError(store.attachParquet('other', PEOPLE_SCHEMA, missing), 'NOT_FOUND');
    expect(err.message).toContain(missing);
    await expect(store.attachParquet('other', PEOPLE_SCHEMA, 'a\u0000b.parquet')).rejects.toThrow(RangeError);
    expect(await store.datasets()).not.toContain('other');
  });

  it('names every column that is missing or of the wrong type', async () => {
    const file = await writeParquet(
      [{ pid: '1', district: '锦江区', age: 3, balance: 4 }],
      'typed.parquet',
      "{'pid': 'BIGINT', 'district': 'VARCHAR', 'age': 'DOUBLE', 'balance': 'VARCHAR'}",
    );
    const err = await expectFedstatError(store.attachParquet('typed', PEOPLE_SCHEMA, file), 'DATA_INVALID');
    expect(err.message).toContain('column pid is BIGINT, expected VARCHAR (a Parquet string) for its id type');
    expect(err.message).toContain('column age is DOUBLE, expected an integer type for its integer type');
    expect(err.message).toContain('column balance is VARCHAR, expected an integer type for its integer type');
    const narrow = join(dir, 'narrow.parquet');
    await writer.run(
      `COPY (SELECT 'a' AS pid, 'x' AS distrct, 1 AS age, 2 AS balance) TO '${narrow}' (FORMAT parquet)`,
    );
    const missing = await expectFedstatError(store.attachParquet('narrow', PEOPLE_SCHEMA, narrow), 'DATA_INVALID');
    expect(missing.message).toContain('column district is missing (did you mean distrct?)');
  });

  it('GLM sums and record scans equal those of the same valid rows loaded from CSV', async () => {
    const rows: RawRow[] = Array.from({ length: 200 }, (_, i) => ({
      pid: `p${i}`,
      district: i % 17 === 0 ? '外地' : DISTRICTS[i % 3]!,
      age: i % 23 === 0 ? 999 : (i * 7) % 100,
      balance: ((i * 131) % 1000) - 500,
    }));
    const file = await writeParquet(rows);
    const csv = writeCsv(
      dir,
      ['district,age,balance', ...rows.filter(valid).map((r) => `${r.district},${r.age},${r.balance}`)].join('\n') +
        '\n',
    );
    const skipped: InvalidRowCensus[] = [];
    await store.attachParquet('people', PEOPLE_SCHEMA, file, {
      onInvalid: 'skip',
      onInvalidRows: (c) => skipped.push(c),
    });
    await using loaded = await openDuckDbStore(':memory:');
    // pid is an id: the CSV loader checks GB 11643 ids, so the reference loads a schema without it.
    const noId: DatasetSchema = {
      ...PEOPLE_SCHEMA,
      columns: {
        district: PEOPLE_SCHEMA.columns['district']!,
        age: PEOPLE_SCHEMA.columns['age']!,
        balance: PEOPLE_SCHEMA.columns['balance']!,
      },
    };
    await loaded.loadCsv('people', noId, csv);
    const coding = codeModel(
      parseFormula('balance ~ district + age', PEOPLE_SCHEMA, 'people'),
      PEOPLE_SCHEMA,
      'gaussian',
      'people',
    );
    const codingNoId = codeModel(parseFormula('balance ~ district + age', noId, 'people'), noId, 'gaussian', 'people');
    const beta = [1, 0.5, -0.25, 0.01];
    const fromParquet = await store.glmSums(coding, PEOPLE_SCHEMA, beta, null);
    const fromCsv = await loaded.glmSums(codingNoId, noId, beta, null);
    expect(fromParquet.n).toBe(fromCsv.n);
    fromCsv.gradient.forEach((g, i) => expect(fromParquet.gradient[i]).toBeCloseTo(g, 6));
    fromCsv.information.forEach((g, i) => expect(fromParquet.information[i]).toBeCloseTo(g, 6));
    const scan = async (s: DuckDbAgencyStore, schema: DatasetSchema) => {
      const out: unknown[] = [];
      for await (const batch of s.scanRecords('people', schema, ['district', 'age'], null, 64)) out.push(...batch);
      return out;
    };
    expect(await scan(store, PEOPLE_SCHEMA)).toEqual(await scan(loaded, noId));
    const invalid = rows.length - rows.filter(valid).length;
    expect(skipped.map((c) => c.rows)).toEqual([invalid, invalid]);
    await store.attachParquet('people', PEOPLE_SCHEMA, file);
    await expectFedstatError(store.glmSums(coding, PEOPLE_SCHEMA, beta, null), 'DATA_INVALID');
    await expectFedstatError(scan(store, PEOPLE_SCHEMA), 'DATA_INVALID');
  });
});
