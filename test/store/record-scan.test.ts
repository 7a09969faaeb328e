/**
 * `AgencyStore.scanRecords` against the CSV it loaded: batches, order, WHERE (also random predicates
 * against query/evaluate.ts), errors, and a scan running beside queries, a reload and close.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { parseFormula } from '../../src/learn/formula.js';
import { sumsOf } from '../../src/learn/pooled-fit.js';
import { evaluatePredicate } from '../../src/query/evaluate.js';
import type { Predicate } from '../../src/query/plan.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { AgencyStore, DuckDbAgencyStore } from '../../src/store/store.js';
import { prng } from '../learn/arbitraries.js';
import { atomArb, predicateArb } from '../query/arbitraries.js';
import { citizenId, tempDir, writeCsv } from './helpers.js';

const dir = tempDir('record-scan');
const DISTRICTS = ['锦江区', '青羊区', '金牛区', 'a,"b"'];
const SCHEMA: DatasetSchema = parseSchema(
  {
    datasets: {
      people: {
        maxRows: 10_000,
        columns: {
          pid: { type: 'id', format: 'gb11643' },
          district: { type: 'category', values: DISTRICTS },
          age: { type: 'integer', min: 0, max: 120 },
          balance: { type: 'integer', min: -(2 ** 52), max: 2 ** 52 },
          insured: { type: 'category', values: ['否', '是'] },
        },
      },
    },
  },
  'people.json',
).datasets['people']!;
const COLUMNS = ['district', 'age', 'balance', 'insured'];
const ROWS = 50;

/** Deterministic records with ids, as the CSV holds them (values as a CSV reader gives them). */
function records(n: number, seed: number): Record<string, string | number>[] {
  const rand = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  return Array.from({ length: n }, (_, i) => ({
    pid: citizenId(`51010419900101${String(i % 1000).padStart(3, '0')}`),
    district: DISTRICTS[int(0, DISTRICTS.length - 1)]!,
    age: int(0, 120),
    balance: i === 0 ? 2 ** 52 : i === 1 ? -(2 ** 52) : int(-100_000, 100_000),
    insured: rand() < 0.4 ? '否' : '是',
  }));
}

function toCsv(rows: readonly Record<string, string | number>[]): string {
  const names = ['pid', ...COLUMNS];
  const cell = (v: string | number): string =>
    /[",]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v);
  return [names.join(','), ...rows.map((r) => names.map((c) => cell(r[c]!)).join(','))].join('\n') + '\n';
}

/** `rows` cut to `columns`, as plain objects. */
function project(rows: readonly Record<string, string | number>[], columns: readonly string[]): DataRecord[] {
  return rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c]!])));
}

async function scan(
  store: AgencyStore,
  columns: readonly string[],
  where: Predicate | null,
  batchRows: number,
): Promise<DataRecord[][]> {
  const batches: DataRecord[][] = [];
  for await (const batch of store.scanRecords('people', SCHEMA, columns, where, batchRows)) batches.push([...batch]);
  return batches;
}

async function failure(iterable: AsyncIterable<unknown>): Promise<unknown> {
  try {
    for await (const _ of iterable) void _;
  } catch (e) {
    return e;
  }
  return expect.fail('the scan did not fail');
}

const DATA = records(ROWS, 7);
let store: DuckDbAgencyStore;
beforeAll(async () => {
  store = await openDuckDbStore(':memory:');
  await store.loadCsv('people', SCHEMA, writeCsv(dir, toCsv(DATA)));
});
afterAll(async () => {
  await store.close();
});

describe('AgencyStore.scanRecords (DuckDB)', () => {
  it.each([1, 7, 50, 1000])('gives the CSV records in file order, %i at a time', async (batchRows) => {
    const batches = await scan(store, COLUMNS, null, batchRows);
    expect(batches.flat()).toEqual(project(DATA, COLUMNS));
    // Full batches, then one shorter (never an empty one).
    const sizes = batches.map((b) => b.length);
    expect(sizes.slice(0, -1).every((s) => s === batchRows)).toBe(true);
    expect(sizes.at(-1)).toBe(ROWS - batchRows * (sizes.length - 1));
    expect(sizes.length).toBe(Math.ceil(ROWS / batchRows));
  });

  it('category values as strings, integers as numbers, only the named columns', async () => {
    const rows = (await scan(store, ['balance', 'district'], null, 64)).flat();
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(['balance', 'district']);
      expect(typeof r['balance']).toBe('number');
      expect(DISTRICTS).toContain(r['district']);
    }
    expect(rows[0]!['balance']).toBe(2 ** 52);
    expect(rows[1]!['balance']).toBe(-(2 ** 52));
  });

  it('keeps the rows WHERE keeps, in order', async () => {
    const where: Predicate = {
      kind: 'or',
      args: [
        { kind: 'compare', column: 'district', op: '=', value: 'a,"b"' },
        { kind: 'between', column: 'age', low: 18, high: 40 },
      ],
    };
    const want = project(
      DATA.filter((r) => evaluatePredicate(where, r)),
      COLUMNS,
    );
    expect(want.length).toBeGreaterThan(5);
    expect(want.length).toBeLessThan(ROWS);
    expect((await scan(store, COLUMNS, where, 3)).flat()).toEqual(want);
    const none: Predicate = { kind: 'compare', column: 'age', op: '>', value: 120 };
    expect(await scan(store, COLUMNS, none, 3)).toEqual([]);
  });

  it('the same sequence every call', async () => {
    const a = await scan(store, COLUMNS, null, 7);
    const b = await scan(store, COLUMNS, null, 7);
    expect(b).toEqual(a);
  });

  it('records feed a model as the CSV records do: the same sums', async () => {
    const coding = codeModel(
      parseFormula("insured == '是' ~ district + age", SCHEMA, 'people'),
      SCHEMA,
      'binomial',
      'people',
    );
    const beta = coding.columns.map((_, j) => 0.01 * (j + 1));
    const scanned = (await scan(store, ['district', 'age', 'insured'], null, 9)).flat();
    expect(sumsOf(coding, scanned, beta)).toEqual(sumsOf(coding, DATA, beta));
  });

  it('NOT_FOUND when the dataset is not loaded, with the message aggregate() gives', async () => {
    await using empty = await openDuckDbStore(':memory:');
    const plan = {
      dataset: 'people',
      groupBy: [],
      where: null,
      select: [{ kind: 'aggregate' as const, fn: 'count' as const, column: null, alias: 'n' }],
    };
    const expected = await empty.aggregate(plan, SCHEMA).catch((e: unknown) => e);
    const got = await failure(empty.scanRecords('people', SCHEMA, COLUMNS, null, 10));
    expect(got).toMatchObject({ code: 'NOT_FOUND', message: (expected as Error).message });
  });

  it('DATA_INVALID when the dataset was loaded under a different schema', async () => {
    const reordered: DatasetSchema = {
      ...SCHEMA,
      columns: { ...SCHEMA.columns, district: { type: 'category', values: [...DISTRICTS].reverse() } },
    };
    for (const other of [reordered, { ...SCHEMA, maxRows: 5 }]) {
      const got = await failure(store.scanRecords('people', other, COLUMNS, null, 10));
      expect(got).toMatchObject({
        code: 'DATA_INVALID',
        message: expect.stringMatching(/people was loaded under a different schema/) as unknown,
      });
    }
  });

  it('QUERY_INVALID for an unknown column (with a suggestion), an id column, or none', async () => {
    const unknown = await failure(store.scanRecords('people', SCHEMA, ['district', 'agee'], null, 10));
    expect(unknown).toMatchObject({
      code: 'QUERY_INVALID',
      message: expect.stringMatching(
        /unknown column "agee" in people; valid columns: .*\(did you mean age\?\)$/,
      ) as unknown,
    });
    const id = await failure(store.scanRecords('people', SCHEMA, ['pid'], null, 10));
    expect(id).toMatchObject({
      code: 'QUERY_INVALID',
      message: expect.stringMatching(/pid of people is an identifier/) as unknown,
    });
    expect(await failure(store.scanRecords('people', SCHEMA, [], null, 10))).toMatchObject({ code: 'QUERY_INVALID' });
    const badWhere: Predicate = { kind: 'compare', column: 'district', op: '=', value: '武侯区' };
    expect(await failure(store.scanRecords('people', SCHEMA, COLUMNS, badWhere, 10))).toMatchObject({
      code: 'QUERY_INVALID',
    });
  });

  it('RangeError for a batch size that is not a positive whole number', async () => {
    for (const n of [0, -1, 1.5, Number.NaN])
      expect(await failure(store.scanRecords('people', SCHEMA, COLUMNS, null, n))).toBeInstanceOf(RangeError);
  });

  it('reads one version of the table while queries run and a load replaces it', async () => {
    await using own = await openDuckDbStore(':memory:');
    const before = records(5000, 11);
    const after = records(3, 12);
    await own.loadCsv('people', SCHEMA, writeCsv(dir, toCsv(before)));
    const got: DataRecord[] = [];
    let swapped = false;
    for await (const batch of own.scanRecords('people', SCHEMA, COLUMNS, null, 100)) {
      got.push(...batch);
      if (!swapped) {
        swapped = true;
        // Neither waits for the scan: it holds no queue.
        await own.loadCsv('people', SCHEMA, writeCsv(dir, toCsv(after)));
        expect(await own.rowCount('people')).toBe(3);
      }
    }
    expect(got).toEqual(project(before, COLUMNS));
    expect((await scan(own, COLUMNS, null, 100)).flat()).toEqual(project(after, COLUMNS));
  });

  it('a scan left early frees its connection; a scan open at close says the store closed', async () => {
    const own = await openDuckDbStore(':memory:');
    await own.loadCsv('people', SCHEMA, writeCsv(dir, toCsv(records(5000, 13))));
    for (let i = 0; i < 20; i++) {
      for await (const batch of own.scanRecords('people', SCHEMA, COLUMNS, null, 10)) {
        expect(batch).toHaveLength(10);
        break;
      }
    }
    const open = own.scanRecords('people', SCHEMA, COLUMNS, null, 10)[Symbol.asyncIterator]();
    expect((await open.next()).value).toHaveLength(10);
    await own.close();
    await expect(open.next()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await failure(own.scanRecords('people', SCHEMA, COLUMNS, null, 10))).toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('scanRecords equals a plaintext filter of the CSV records', () => {
  it('for random predicates and batch sizes', async () => {
    const queryable: DatasetSchema = {
      ...SCHEMA,
      columns: Object.fromEntries(Object.entries(SCHEMA.columns).filter(([, c]) => c.type !== 'id')),
    };
    await fc.assert(
      fc.asyncProperty(
        fc.option(predicateArb(atomArb(queryable), 3), { nil: null }),
        fc.integer({ min: 1, max: 60 }),
        fc.shuffledSubarray(COLUMNS, { minLength: 1 }),
        async (where, batchRows, columns) => {
          const want = project(
            DATA.filter((r) => evaluatePredicate(where, r)),
            columns,
          );
          const batches = await scan(store, columns, where, batchRows);
          expect(batches.flat()).toEqual(want);
          expect(batches.every((b) => b.length > 0 && b.length <= batchRows)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
