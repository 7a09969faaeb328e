/**
 * One side of a linked query from the DuckDB store (CSV loaded and Parquet attached) and through a
 * routed store: ids the WHERE drops stay present with zero components, invalid GB 11643 ids are
 * invalid rows (refused naming their count, or left out), ids over maxRowsPerId are refused or
 * left out with all their rows, and every malformed spec is refused before anything is read.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { InvalidRowCensus } from '../../src/store/invalid-rows.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { LinkSideSpec } from '../../src/store/link-inputs.js';
import { routeStores } from '../../src/store/routed-store.js';
import type { DuckDbAgencyStore } from '../../src/store/store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { byId, LINK_SCHEMA, linkCsv, referenceLinkInputs, type LinkRow } from './link-reference.js';
import { ID1, ID2, ID3, PEOPLE_SCHEMA, citizenId, tempDir, writeCsv } from './helpers.js';

const dir = tempDir('link-inputs');
let store: DuckDbAgencyStore;
let writerDb: DuckDBInstance;
let writer: DuckDBConnection;

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

const ID4 = citizenId('11010519491001001');
/** ID4 with a wrong check character, and one with a birth date that does not exist. */
const BAD_CHECK = ID4.slice(0, 17) + (ID4.endsWith('0') ? '1' : '0');
const BAD_DATE = citizenId('51010419900230123');

const ROWS: LinkRow[] = [
  { pid: ID1, district: '锦江区', age: 34, balance: 1200 },
  { pid: ID1, district: '青羊区', age: 34, balance: -300 },
  { pid: ID1, district: '锦江区', age: 35, balance: 50 },
  { pid: ID2, district: '金牛区', age: 61, balance: 0 },
  { pid: ID3, district: '青羊区', age: 19, balance: 77 }, // the WHERE drops ID3's only row
  { pid: ID4, district: '锦江区', age: 40, balance: -50000 },
];

function csvOf(rows: readonly LinkRow[]): string {
  return ['pid,district,age,balance', ...rows.map((r) => `${r.pid},${r.district},${r.age},${r.balance}`)].join('\n');
}

async function parquetOf(rows: readonly LinkRow[], name: string): Promise<string> {
  const csv = writeCsv(dir, csvOf(rows) + '\n');
  const out = join(dir, name);
  await writer.run(
    `COPY (SELECT * FROM read_csv('${csv}', header = true, columns = {'pid': 'VARCHAR', 'district': 'VARCHAR', 'age': 'INTEGER', 'balance': 'BIGINT'})) TO '${out}' (FORMAT parquet)`,
  );
  return out;
}

const SPEC: LinkSideSpec = {
  dataset: 'people',
  id: 'pid',
  groupBy: ['district'],
  measures: ['age', 'balance'],
  where: { kind: 'compare', column: 'age', op: '>=', value: 30 },
  maxRowsPerId: 3,
};

describe('linkInputs over a CSV-loaded table', () => {
  beforeAll(async () => {
    await store.loadCsv('people', PEOPLE_SCHEMA, writeCsv(dir, csvOf(ROWS)));
  });

  it('gives every id its groups, and ids the WHERE drops zero components', async () => {
    const got = await store.linkInputs(SPEC, PEOPLE_SCHEMA);
    expect(got.width).toBe(3 * 3);
    const ids = byId(got);
    expect(ids).toEqual(referenceLinkInputs(PEOPLE_SCHEMA, SPEC, ROWS).inputs);
    expect([...ids.keys()].sort()).toEqual([ID1, ID2, ID3, ID4].sort());
    expect(ids.get(ID3)).toEqual(new Array(9).fill(0n));
    // ID1: 锦江区 (group 0) twice (34 + 35, 1200 + 50), 青羊区 (group 1) once.
    expect(ids.get(ID1)).toEqual([2n, 69n, 1250n, 1n, 34n, -300n, 0n, 0n, 0n]);
  });

  it('without groupBy or measures counts the rows per id', async () => {
    const spec = { ...SPEC, groupBy: [], measures: [], where: null };
    const got = byId(await store.linkInputs(spec, PEOPLE_SCHEMA));
    expect(got).toEqual(
      new Map([
        [ID1, [3n]],
        [ID2, [1n]],
        [ID3, [1n]],
        [ID4, [1n]],
      ]),
    );
  });

  it('refuses ids over maxRowsPerId by default, naming how many', async () => {
    const e = await fedstatRejectionOf(store.linkInputs({ ...SPEC, maxRowsPerId: 2 }, PEOPLE_SCHEMA));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toBe("1 id has more than 2 rows in people; raise the query's maxRowsPerId or deduplicate");
    expect(e.message).not.toContain(ID1);
  });

  it('a table loaded with skip leaves out every row of an id over the bound, and says so', async () => {
    const reports: InvalidRowCensus[] = [];
    await store.loadCsv('people2', PEOPLE_SCHEMA, writeCsv(dir, csvOf(ROWS)), {
      onInvalid: 'skip',
      onInvalidRows: (c) => reports.push(c),
    });
    const spec = { ...SPEC, dataset: 'people2', maxRowsPerId: 2 };
    const got = byId(await store.linkInputs(spec, PEOPLE_SCHEMA));
    const want = referenceLinkInputs(PEOPLE_SCHEMA, spec, ROWS);
    expect(want.overIds).toBe(1);
    expect(got).toEqual(want.inputs);
    expect(got.has(ID1)).toBe(false);
    expect(reports).toEqual([{ dataset: 'people2', rows: 3, byColumn: { pid: 3 } }]);
  });

  it('refuses malformed specs before reading anything', async () => {
    const bad: [Partial<LinkSideSpec>, RegExp][] = [
      [{ id: 'district' }, /district is not an id column/],
      [{ id: 'nope' }, /unknown column "nope"/],
      [{ groupBy: ['age'] }, /GROUP BY age: not a category column/],
      [{ groupBy: ['district', 'district'] }, /GROUP BY district twice/],
      [{ groupBy: ['pid'] }, /not a category column/],
      [{ measures: ['district'] }, /SUM\(district\): not an integer column/],
      [{ measures: ['age', 'age'] }, /SUM\(age\) twice/],
      [{ maxRowsPerId: 0 }, /maxRowsPerId/],
      [{ maxRowsPerId: 1.5 }, /maxRowsPerId/],
      [{ where: { kind: 'compare', column: 'district', op: '=', value: '武侯区' } }, /not a value of category column/],
      [{ where: { kind: 'compare', column: 'pid', op: '=', value: ID1 } }, /pid is an id column/],
    ];
    for (const [change, message] of bad) {
      const e = await fedstatRejectionOf(store.linkInputs({ ...SPEC, ...change }, PEOPLE_SCHEMA));
      expect(e.code).toBe('QUERY_INVALID');
      expect(e.message).toMatch(message);
    }
  });

  it('NOT_FOUND for a dataset not loaded, DATA_INVALID under another schema', async () => {
    expect((await fedstatRejectionOf(store.linkInputs({ ...SPEC, dataset: 'nobody' }, PEOPLE_SCHEMA))).code).toBe(
      'NOT_FOUND',
    );
    const other = { ...PEOPLE_SCHEMA, maxRows: 5 };
    expect((await fedstatRejectionOf(store.linkInputs(SPEC, other))).code).toBe('DATA_INVALID');
  });
});

describe('linkInputs over attached Parquet files', () => {
  const withBadIds: LinkRow[] = [
    ...ROWS,
    { pid: BAD_CHECK, district: '锦江区', age: 50, balance: 1 },
    { pid: BAD_CHECK, district: '金牛区', age: 51, balance: 2 },
    { pid: BAD_DATE, district: '锦江区', age: 52, balance: 3 },
  ];

  it('equals the same rows loaded from CSV', async () => {
    await store.attachParquet('pq', PEOPLE_SCHEMA, await parquetOf(ROWS, 'clean.parquet'));
    const spec = { ...SPEC, dataset: 'pq' };
    expect(byId(await store.linkInputs(spec, PEOPLE_SCHEMA))).toEqual(
      byId(await store.linkInputs(SPEC, PEOPLE_SCHEMA)),
    );
  });

  it('refuses rows whose id fails GB 11643, naming how many, never an id', async () => {
    await store.attachParquet('pqbad', PEOPLE_SCHEMA, await parquetOf(withBadIds, 'bad-ids.parquet'));
    const e = await fedstatRejectionOf(store.linkInputs({ ...SPEC, dataset: 'pqbad' }, PEOPLE_SCHEMA));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toContain('dataset pqbad: 3 rows out of the schema');
    expect(e.message).toContain('(pid 3)');
    expect(e.message).not.toContain(BAD_CHECK);
  });

  it('skip leaves rows with invalid ids out, and reports them', async () => {
    const reports: InvalidRowCensus[] = [];
    await store.attachParquet('pqskip', PEOPLE_SCHEMA, await parquetOf(withBadIds, 'bad-ids-skip.parquet'), {
      onInvalid: 'skip',
      onInvalidRows: (c) => reports.push(c),
    });
    const spec = { ...SPEC, dataset: 'pqskip' };
    const got = byId(await store.linkInputs(spec, PEOPLE_SCHEMA));
    expect(got).toEqual(referenceLinkInputs(PEOPLE_SCHEMA, spec, ROWS).inputs);
    expect(got.has(BAD_CHECK)).toBe(false);
    expect(reports).toEqual([{ dataset: 'pqskip', rows: 3, byColumn: { pid: 3 } }]);
  });
});

describe('exact components', () => {
  it('a sum beyond 64 bits is INTERNAL, never wrapped', async () => {
    // 1100 rows of 2^53 − 1 under one id: a schema that allowed this many rows per id would be
    // refused by the planner; the store must still never hand back a wrapped sum.
    const schema = { ...LINK_SCHEMA, maxRows: 5000 };
    const rows: LinkRow[] = Array.from({ length: 1100 }, () => ({
      person: 'p1',
      district: '锦江区',
      sex: '男',
      age: 1,
      amount: Number.MAX_SAFE_INTEGER,
    }));
    await store.loadCsv('huge', schema, writeCsv(dir, linkCsv(rows)));
    const spec: LinkSideSpec = {
      ...SPEC,
      dataset: 'huge',
      id: 'person',
      groupBy: [],
      measures: ['amount'],
      where: null,
    };
    const e = await fedstatRejectionOf(store.linkInputs({ ...spec, maxRowsPerId: 2000 }, schema));
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toContain('does not fit 64 bits');
    const grouped = await fedstatRejectionOf(
      store.linkInputs({ ...spec, groupBy: ['sex'], maxRowsPerId: 2000 }, schema),
    );
    expect(grouped.code).toBe('INTERNAL');
    // 1024 rows still fit: 1024 · (2^53 − 1) < 2^63, exactly.
    await store.loadCsv('edge', schema, writeCsv(dir, linkCsv(rows.slice(0, 1024))));
    const fits = await store.linkInputs({ ...spec, dataset: 'edge', maxRowsPerId: 2000 }, schema);
    expect([...fits.comps]).toEqual([1024n, 1024n * BigInt(Number.MAX_SAFE_INTEGER)]);
  });
});

describe('a routed store', () => {
  it('routes linkInputs by dataset', async () => {
    const other = await openDuckDbStore(':memory:');
    const fallback = await openDuckDbStore(':memory:');
    await other.loadCsv('people', PEOPLE_SCHEMA, writeCsv(dir, csvOf(ROWS.slice(0, 2))));
    await fallback.loadCsv('people', PEOPLE_SCHEMA, writeCsv(dir, csvOf(ROWS)));
    await fallback.loadCsv('visits', PEOPLE_SCHEMA, writeCsv(dir, csvOf(ROWS.slice(3))));
    const routed = await routeStores(new Map([['people', other]]), fallback);
    try {
      expect(byId(await routed.linkInputs(SPEC, PEOPLE_SCHEMA))).toEqual(
        referenceLinkInputs(PEOPLE_SCHEMA, SPEC, ROWS.slice(0, 2)).inputs,
      );
      const visits = { ...SPEC, dataset: 'visits' };
      expect(byId(await routed.linkInputs(visits, PEOPLE_SCHEMA))).toEqual(
        referenceLinkInputs(PEOPLE_SCHEMA, visits, ROWS.slice(3)).inputs,
      );
    } finally {
      await routed.close();
    }
    expect((await fedstatRejectionOf(routed.linkInputs(SPEC, PEOPLE_SCHEMA))).code).toBe('UNAVAILABLE');
  });
});
