import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import type { QueryPlan } from '../../src/query/plan.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import { ID1, ID2, ID3, PEOPLE_SCHEMA, tempDir, writeCsv } from './helpers.js';

const dir = tempDir('duckdb-store');
const HEADER = 'pid,district,age,balance';
const PEOPLE = [HEADER, `${ID1},锦江区,30,-100`, `${ID2},青羊区,45,2000`, `${ID3},锦江区,8,0`].join('\n') + '\n';

const byDistrict: QueryPlan = {
  dataset: 'people',
  groupBy: ['district'],
  select: [
    { kind: 'aggregate', fn: 'count', column: null, alias: 'n' },
    { kind: 'aggregate', fn: 'avg', column: 'age', alias: 'a' },
  ],
  where: null,
};

const BIG = 2 ** 52;
const bigSchema: DatasetSchema = parseSchema(
  {
    datasets: {
      big: { columns: { g: { type: 'category', values: ['p', 'q'] }, v: { type: 'integer', min: -BIG, max: BIG } } },
    },
  },
  't',
).datasets['big']!;

describe('openDuckDbStore', () => {
  it('a persistent file keeps its datasets across close and reopen', async () => {
    const path = join(dir, 'agency.duckdb');
    const other = parseSchema(
      {
        datasets: {
          rentals: {
            columns: {
              district: { type: 'category', values: ['武侯区', '成华区'] },
              rent: { type: 'integer', min: 0, max: 100000 },
            },
          },
        },
      },
      't',
    ).datasets['rentals']!;
    {
      await using store = await openDuckDbStore(path);
      expect(store.engine).toBe('duckdb');
      expect(await store.datasets()).toEqual([]);
      await store.loadCsv('people', PEOPLE_SCHEMA, writeCsv(dir, PEOPLE));
      await store.loadCsv('rentals', other, writeCsv(dir, 'district,rent\n成华区,3000\n成华区,2500\n'));
    }
    const store = await openDuckDbStore(path);
    try {
      expect(await store.datasets()).toEqual(['people', 'rentals']);
      expect(await store.rowCount('people')).toBe(3);
      expect([...(await store.aggregate(byDistrict, PEOPLE_SCHEMA)).groups]).toEqual([
        [0, [2n, 38n]],
        [1, [1n, 45n]],
      ]);
      const rent = await store.aggregate(
        {
          dataset: 'rentals',
          groupBy: ['district'],
          select: [{ kind: 'aggregate', fn: 'sum', column: 'rent', alias: 'r' }],
          where: null,
        },
        other,
      );
      expect([...rent.groups]).toEqual([[1, [2n, 5500n]]]);
    } finally {
      await store.close();
    }
  });

  it('stores codes as USMALLINT, integers as BIGINT and ids as VARCHAR', async () => {
    const path = join(dir, 'types.duckdb');
    {
      await using store = await openDuckDbStore(path);
      await store.loadCsv('people', PEOPLE_SCHEMA, writeCsv(dir, PEOPLE));
    }
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    try {
      const cols = (
        await conn.runAndReadAll(
          `SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'people' ORDER BY column_index`,
        )
      ).getRows();
      expect(cols).toEqual([
        ['pid', 'VARCHAR'],
        ['district', 'USMALLINT'],
        ['age', 'BIGINT'],
        ['balance', 'BIGINT'],
      ]);
      const codes = (await conn.runAndReadAll('SELECT district FROM people ORDER BY pid')).getRows().map((r) => r[0]);
      expect(codes).toEqual([0, 0, 1]); // ID3 and ID1 (锦江区), then ID2 (青羊区)
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });

  it('refuses to answer for a dataset loaded under a different schema', async () => {
    const path = join(dir, 'changed.duckdb');
    {
      await using store = await openDuckDbStore(path);
      await store.loadCsv('people', PEOPLE_SCHEMA, writeCsv(dir, PEOPLE));
    }
    await using store = await openDuckDbStore(path);
    const district = PEOPLE_SCHEMA.columns['district'];
    if (district?.type !== 'category') throw new Error('fixture');
    // The same values in another order would decode every stored code to the wrong district.
    const reordered: DatasetSchema = {
      ...PEOPLE_SCHEMA,
      columns: { ...PEOPLE_SCHEMA.columns, district: { type: 'category', values: [...district.values].reverse() } },
    };
    await expect(store.aggregate(byDistrict, reordered)).rejects.toMatchObject({
      code: 'DATA_INVALID',
      message: expect.stringMatching(/loaded under a different schema/) as unknown,
    });
    await expect(store.aggregate(byDistrict, { ...PEOPLE_SCHEMA, maxRows: 5 })).rejects.toMatchObject({
      code: 'DATA_INVALID',
    });
    expect((await store.aggregate(byDistrict, PEOPLE_SCHEMA)).groups.size).toBe(2);
  });

  it('NOT_FOUND for a dataset that is not loaded; QUERY_INVALID before touching the database', async () => {
    await using store = await openDuckDbStore(':memory:');
    await expect(store.aggregate(byDistrict, PEOPLE_SCHEMA)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/dataset people is not loaded/) as unknown,
    });
    await expect(store.rowCount('people')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.aggregate({ ...byDistrict, groupBy: ['nope'] }, PEOPLE_SCHEMA)).rejects.toMatchObject({
      code: 'QUERY_INVALID',
    });
    await expect(store.loadCsv('bad name', PEOPLE_SCHEMA, 'x.csv')).rejects.toThrow(RangeError);
  });

  it('closes once, then refuses work', async () => {
    const store = await openDuckDbStore(':memory:');
    await Promise.all([store.close(), store.close()]);
    await store[Symbol.asyncDispose]();
    await expect(store.datasets()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('an unusable path is an IO error', async () => {
    await expect(openDuckDbStore(join(dir, 'no', 'such', 'dir', 'x.duckdb'))).rejects.toMatchObject({ code: 'IO' });
  });

  it('keeps answering from the old table while a new file loads, then switches atomically', async () => {
    await using store = await openDuckDbStore(':memory:');
    const rows = (n: number, v: number): string =>
      ['g,v', ...Array.from({ length: n }, (_, i) => `${i % 2 === 0 ? 'p' : 'q'},${v}`)].join('\n') + '\n';
    await store.loadCsv('big', bigSchema, writeCsv(dir, rows(10, 1)));
    const plan: QueryPlan = {
      dataset: 'big',
      groupBy: [],
      select: [{ kind: 'aggregate', fn: 'sum', column: 'v', alias: 's' }],
      where: null,
    };
    const load = store.loadCsv('big', bigSchema, writeCsv(dir, rows(50_000, 2)));
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++)
      seen.add(
        JSON.stringify([...(await store.aggregate(plan, bigSchema)).groups].map(([k, v]) => [k, v.map(String)])),
      );
    await load;
    seen.add(JSON.stringify([...(await store.aggregate(plan, bigSchema)).groups].map(([k, v]) => [k, v.map(String)])));
    for (const s of seen)
      expect([JSON.stringify([[0, ['10', '10']]]), JSON.stringify([[0, ['50000', '100000']]])]).toContain(s);
    expect(seen.has(JSON.stringify([[0, ['50000', '100000']]]))).toBe(true);
  });
});

describe('exact sums', () => {
  it('SUM over values at the bounds (±2^52) far past 2^63 is exact', async () => {
    await using store = await openDuckDbStore(':memory:');
    const n = 5000;
    const lines = ['g,v'];
    for (let i = 0; i < n; i++) lines.push(`p,${BIG}`, `q,${-BIG}`, `q,${i % 2 === 0 ? BIG : BIG - 1}`);
    await store.loadCsv('big', bigSchema, writeCsv(dir, lines.join('\n') + '\n'));
    const agg = await store.aggregate(
      {
        dataset: 'big',
        groupBy: ['g'],
        select: [{ kind: 'aggregate', fn: 'sum', column: 'v', alias: 's' }],
        where: null,
      },
      bigSchema,
    );
    const big = BigInt(BIG);
    expect(BigInt(n) * big).toBeGreaterThan(2n ** 63n);
    expect([...agg.groups]).toEqual([
      [0, [BigInt(n), BigInt(n) * big]],
      [1, [BigInt(2 * n), -BigInt(n) * big + BigInt(n) * big - BigInt(n / 2)]],
    ]);
    const p = await store.aggregate(
      {
        dataset: 'big',
        groupBy: [],
        select: [{ kind: 'aggregate', fn: 'sum', column: 'v', alias: 's' }],
        where: { kind: 'compare', column: 'v', op: '=', value: BIG },
      },
      bigSchema,
    );
    expect([...p.groups]).toEqual([[0, [BigInt(n + n / 2), BigInt(n + n / 2) * big]]]);
  });
});
