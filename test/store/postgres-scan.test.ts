/**
 * Record scans (training at the agency) and maxRows over a live PostgreSQL table: batches, the
 * same order on every call and as the DuckDB store gives it, WHERE, out-of-domain rows refused
 * before the first batch or skipped, early breaks that give the client back, a store closing
 * mid-scan; and the schema's maxRows enforced on every answer.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSchema, type DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { parseFormula } from '../../src/learn/formula.js';
import type { Predicate, QueryPlan } from '../../src/query/plan.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { InvalidRowCensus } from '../../src/store/invalid-rows.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import type { AgencyStore } from '../../src/store/store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { prng } from '../learn/arbitraries.js';
import { tempDir, writeCsv } from './helpers.js';
import { createLiveTable, type LiveRow } from './pg-tables.js';

const dir = tempDir('pg-scan');
const SCHEMA: DatasetSchema = parseSchema(
  {
    datasets: {
      people: {
        maxRows: 5000,
        columns: {
          pid: { type: 'id', format: 'text' },
          district: { type: 'category', values: ['锦江区', '青羊区', '金牛区'] },
          age: { type: 'integer', min: 0, max: 120 },
          income: { type: 'integer', min: -50_000, max: 50_000 },
        },
      },
    },
  },
  'people.json',
).datasets['people']!;

function people(n: number, seed: number): DataRecord[] {
  const rand = prng(seed);
  return Array.from({ length: n }, (_, i) => ({
    pid: `p${i}`,
    district: ['锦江区', '青羊区', '金牛区'][Math.floor(rand() * 3)]!,
    age: Math.floor(rand() * 121),
    income: Math.floor(rand() * 100_001) - 50_000,
  }));
}

let db: TestDatabase;
let pool: pg.Pool;
const ROWS = people(1234, 7);

beforeAll(async () => {
  db = await freshDatabase('pg scan');
  pool = new pg.Pool({ ...db.settings, max: 2 });
  await createLiveTable(db, { schema: 'public', name: 'people' }, SCHEMA, ROWS);
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

async function collect(
  scan: AsyncIterable<readonly DataRecord[]>,
): Promise<{ sizes: number[]; records: DataRecord[] }> {
  const sizes: number[] = [];
  const records: DataRecord[] = [];
  for await (const batch of scan) {
    sizes.push(batch.length);
    records.push(...batch);
  }
  return { sizes, records };
}

const pick = (rows: readonly DataRecord[], cols: readonly string[]): DataRecord[] =>
  rows.map((r) => Object.fromEntries(cols.map((c) => [c, r[c]!])));

describe('scanRecords over a live table', () => {
  it('batches of batchRows (the last shorter, none empty), in one order every call, as the DuckDB store gives it', async () => {
    await using store = await openPostgresStore({ pool, datasets: { people: { table: 'people', schema: SCHEMA } } });
    const cols = ['age', 'district'];
    const first = await collect(store.scanRecords('people', SCHEMA, cols, null, 100));
    expect(first.sizes).toEqual([...Array.from({ length: 12 }, () => 100), 34]);
    expect(first.records).toEqual(pick(ROWS, cols));
    // Interleaved scans on two clients, and a batch size that divides the rows evenly.
    const a = store.scanRecords('people', SCHEMA, cols, null, 617)[Symbol.asyncIterator]();
    const b = store.scanRecords('people', SCHEMA, ['income'], null, 1234)[Symbol.asyncIterator]();
    const [a1, b1] = await Promise.all([a.next(), b.next()]);
    const [a2, b2, a3] = [await a.next(), await b.next(), await a.next()];
    expect([a1.value, a2.value].flat()).toEqual(first.records);
    expect(b1.value).toEqual(pick(ROWS, ['income']));
    expect([b2.done, a3.done]).toEqual([true, true]);
    const csvText = [
      'pid,district,age,income',
      ...ROWS.map((r) => csvRecord([r.pid, r.district, r.age, r.income].map(String))),
    ];
    await using duck = await openDuckDbStore(':memory:');
    await duck.loadCsv('people', SCHEMA, writeCsv(dir, csvText.join('\n') + '\n'));
    expect((await collect(duck.scanRecords('people', SCHEMA, cols, null, 100))).records).toEqual(first.records);
  });

  it('keeps only the rows WHERE keeps, and reads only the named columns', async () => {
    await using store = await openPostgresStore({ pool, datasets: { people: { table: 'people', schema: SCHEMA } } });
    const where: Predicate = {
      kind: 'or',
      args: [
        { kind: 'compare', column: 'district', op: '=', value: '金牛区' },
        { kind: 'between', column: 'age', low: 18, high: 30 },
      ],
    };
    const got = await collect(store.scanRecords('people', SCHEMA, ['income', 'age', 'income'], where, 64));
    const kept = ROWS.filter((r) => r.district === '金牛区' || ((r.age as number) >= 18 && (r.age as number) <= 30));
    expect(kept.length).toBeGreaterThan(100);
    expect(got.records).toEqual(pick(kept, ['income', 'age']));
    expect(got.records.every((r) => Object.keys(r).join() === 'income,age')).toBe(true);
    const id = await fedstatRejectionOf(collect(store.scanRecords('people', SCHEMA, ['pid'], null, 10)));
    expect(id.code).toBe('QUERY_INVALID');
  });

  it('reject refuses before the first batch; skip scans the valid rows and reports the rest', async () => {
    const dirty: LiveRow[] = [...ROWS.slice(0, 50), { ...ROWS[50]!, age: 121 }, { ...ROWS[51]!, district: null }];
    const table = await createLiveTable(db, { schema: 'public', name: 'dirty' }, SCHEMA, dirty);
    await using reject = await openPostgresStore({ pool, datasets: { people: { table, schema: SCHEMA } } });
    const it = reject.scanRecords('people', SCHEMA, ['age'], null, 1)[Symbol.asyncIterator]();
    const e = await fedstatRejectionOf(it.next());
    expect(e.code).toBe('DATA_INVALID');
    expect(e.details).toMatchObject({ rows: 2, byColumn: { age: 1, district: 1 } });
    const reports: InvalidRowCensus[] = [];
    await using skip = await openPostgresStore({
      pool,
      datasets: { people: { table, schema: SCHEMA, onInvalid: 'skip' } },
      onInvalidRows: (c) => reports.push(c),
    });
    const got = await collect(skip.scanRecords('people', SCHEMA, ['district', 'age'], null, 7));
    expect(got.records).toEqual(pick(ROWS.slice(0, 50), ['district', 'age']));
    expect(reports).toEqual([{ dataset: 'people', rows: 2, byColumn: { age: 1, district: 1 } }]);
    expect(pool.waitingCount).toBe(0);
  });

  it('an early break gives the client back: 60 broken scans on a pool of 2, then every path still answers', async () => {
    await using store = await openPostgresStore({ pool, datasets: { people: { table: 'people', schema: SCHEMA } } });
    for (let i = 0; i < 60; i++) {
      for await (const batch of store.scanRecords('people', SCHEMA, ['age'], null, 10)) {
        expect(batch).toHaveLength(10);
        break;
      }
      // A consumer that throws mid-scan releases its client too.
      if (i % 10 === 0) {
        const boom = new Error('consumer failed');
        const thrown = await (async () => {
          for await (const _ of store.scanRecords('people', SCHEMA, ['age'], null, 10)) throw boom;
        })().catch((x: unknown) => x);
        expect(thrown).toBe(boom);
      }
    }
    expect(pool.totalCount).toBeLessThanOrEqual(2);
    expect(pool.idleCount).toBe(pool.totalCount);
    expect(pool.waitingCount).toBe(0);
    const plan: QueryPlan = {
      dataset: 'people',
      groupBy: [],
      select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'n' }],
      where: null,
    };
    expect([...(await store.aggregate(plan, SCHEMA)).groups.values()]).toEqual([[BigInt(ROWS.length)]]);
    // No transaction was left open on the server by the broken scans.
    const open = await db.query<{ n: string }>(
      "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    );
    expect(Number(open.rows[0]?.n)).toBe(0);
  });

  it('a store closing mid-scan stops the scan with UNAVAILABLE and releases its client', async () => {
    const own = new pg.Pool({ ...db.settings, max: 1 });
    const store: AgencyStore = await openPostgresStore({
      pool: own,
      datasets: { people: { table: 'people', schema: SCHEMA } },
    });
    const it = store.scanRecords('people', SCHEMA, ['age'], null, 100)[Symbol.asyncIterator]();
    expect((await it.next()).value).toHaveLength(100);
    const closed = store.close();
    const e = await fedstatRejectionOf(it.next());
    expect(e.code).toBe('UNAVAILABLE');
    await closed;
    expect(own.idleCount).toBe(own.totalCount);
    await own.end();
  });
});

describe('maxRows on a live table', () => {
  const SMALL: DatasetSchema = { ...SCHEMA, maxRows: 1000 };
  const count: QueryPlan = {
    dataset: 'people',
    groupBy: ['district'],
    select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'n' }],
    where: null,
  };

  it('DATA_INVALID once more rows match than maxRows, for aggregates and GLM rounds; narrower reads answer', async () => {
    await using store = await openPostgresStore({ pool, datasets: { people: { table: 'people', schema: SMALL } } });
    const e = await fedstatRejectionOf(store.aggregate(count, SMALL));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toContain("more rows match than the schema's maxRows (1000)");
    const coding = codeModel(parseFormula('income ~ age', SMALL, 'people'), SMALL, 'gaussian', 'people');
    const g = await fedstatRejectionOf(store.glmSums(coding, SMALL, [0, 0], null));
    expect(g.message).toBe(e.message);
    const narrow: Predicate = { kind: 'compare', column: 'district', op: '<>', value: '锦江区' };
    const kept = ROWS.filter((r) => r.district !== '锦江区').length;
    expect(kept).toBeLessThanOrEqual(1000);
    const local = await store.aggregate({ ...count, where: narrow }, SMALL);
    expect([...local.groups.values()].reduce((s, [n]) => s + Number(n), 0)).toBe(kept);
    expect((await store.glmSums(coding, SMALL, [0, 0], narrow)).n).toBe(kept);
  });

  it('a record scan refuses once it has read more rows than maxRows; a narrower scan reads them all', async () => {
    await using store = await openPostgresStore({ pool, datasets: { people: { table: 'people', schema: SMALL } } });
    let read = 0;
    const e = await fedstatRejectionOf(
      (async () => {
        for await (const batch of store.scanRecords('people', SMALL, ['age'], null, 300)) read += batch.length;
      })(),
    );
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toContain("more rows match than the schema's maxRows (1000)");
    expect(read).toBeLessThanOrEqual(1000);
    const narrow: Predicate = { kind: 'compare', column: 'district', op: '<>', value: '锦江区' };
    let kept = 0;
    for await (const batch of store.scanRecords('people', SMALL, ['age'], narrow, 300)) kept += batch.length;
    expect(kept).toBe(ROWS.filter((r) => r.district !== '锦江区').length);
  });
});
