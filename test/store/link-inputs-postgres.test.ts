/**
 * One side of a linked query from a live PostgreSQL table, read by a role with SELECT only: equals
 * the JavaScript reference (link-reference.ts) over random rows with NULL, empty and out-of-domain
 * cells (`skip` reports the exact census, `reject` refuses naming it), equals the DuckDB store on
 * clean rows, refuses GB 11643 ids with a wrong check character, and streams a large table.
 * FEDSTAT_LONG=1 runs 200 cases instead of 20.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { InvalidRowCensus } from '../../src/store/invalid-rows.js';
import type { LinkSideSpec } from '../../src/store/link-inputs.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import type { DuckDbAgencyStore } from '../../src/store/store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { freshDatabase, readonlyRole, type TestDatabase } from '../helpers/postgres.js';
import { citizenId, ID1, ID2, PEOPLE_SCHEMA, tempDir, writeCsv } from './helpers.js';
import {
  byId,
  cleanLinkRow,
  LINK_SCHEMA,
  linkCsv,
  linkSpecArb,
  rawLinkRowArb,
  referenceLinkInputs,
  referenceLiveLinkInputs,
  type LinkRow,
} from './link-reference.js';
import { createLiveTable } from './pg-tables.js';

const RUNS = process.env['FEDSTAT_LONG'] === '1' ? 200 : 20;
const dir = tempDir('link-pg');
let db: TestDatabase;
let role: string;
let pool: pg.Pool;
let duck: DuckDbAgencyStore;
let tableNo = 0;

beforeAll(async () => {
  db = await freshDatabase('pg link');
  const ro = await readonlyRole(db, []);
  role = ro.user;
  pool = new pg.Pool({ ...ro, max: 3 });
  duck = await openDuckDbStore(':memory:');
});
afterAll(async () => {
  await duck.close();
  await pool.end();
  await db.drop();
});

async function liveTable(schema: typeof LINK_SCHEMA, rows: readonly Record<string, string | number | null>[]) {
  const ref = await createLiveTable(db, { schema: 'public', name: `t${++tableNo}` }, schema, rows);
  await db.query(`GRANT SELECT ON ${ref} TO ${pg.escapeIdentifier(role)}`);
  return ref;
}

describe('linkInputs (PostgreSQL)', () => {
  it('equals the reference over rows with invalid cells, and the DuckDB store over clean ones', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rawLinkRowArb, { maxLength: 30 }), linkSpecArb, async (rows, side) => {
        const table = await liveTable(LINK_SCHEMA, rows);
        const reports: InvalidRowCensus[] = [];
        await using skip = await openPostgresStore({
          pool,
          datasets: { visits: { table, schema: LINK_SCHEMA, onInvalid: 'skip' } },
          onInvalidRows: (c) => reports.push(c),
        });
        await using reject = await openPostgresStore({ pool, datasets: { visits: { table, schema: LINK_SCHEMA } } });
        const spec: LinkSideSpec = { ...side, dataset: 'visits' };
        const want = referenceLiveLinkInputs(LINK_SCHEMA, spec, rows);
        expect(byId(await skip.linkInputs(spec, LINK_SCHEMA))).toEqual(want.inputs);
        const expected: InvalidRowCensus[] = [];
        if (want.census.rows > 0) expected.push({ dataset: 'visits', ...want.census });
        if (want.overIds > 0)
          expected.push({ dataset: 'visits', rows: want.overRows, byColumn: { person: want.overRows } });
        expect(reports).toEqual(expected);
        const refused = reject.linkInputs(spec, LINK_SCHEMA);
        if (want.census.rows > 0) {
          const e = await fedstatRejectionOf(refused);
          expect(e.code).toBe('DATA_INVALID');
          expect(e.details).toMatchObject({ rows: want.census.rows, byColumn: want.census.byColumn });
        } else if (want.overIds > 0) {
          expect((await fedstatRejectionOf(refused)).message).toContain('more than');
        } else {
          expect(byId(await refused)).toEqual(want.inputs);
        }
        if (rows.every((r) => cleanLinkRow(LINK_SCHEMA, r))) {
          await duck.loadCsv('visits', LINK_SCHEMA, writeCsv(dir, linkCsv(rows as LinkRow[])), {
            onInvalid: 'skip',
          });
          expect(byId(await duck.linkInputs(spec, LINK_SCHEMA))).toEqual(want.inputs);
        }
      }),
      { numRuns: RUNS },
    );
  });

  const ID4 = citizenId('11010519491001001');
  const BAD_CHECK = ID4.slice(0, 17) + (ID4.endsWith('0') ? '1' : '0');
  const PEOPLE: Record<string, string | number>[] = [
    { pid: ID1, district: '锦江区', age: 34, balance: 10 },
    { pid: ID2, district: '金牛区', age: 20, balance: -5 },
    { pid: ID2, district: '金牛区', age: 21, balance: 7 },
    { pid: BAD_CHECK, district: '锦江区', age: 50, balance: 1 },
    { pid: ID1.toLowerCase().replace(/X$/, 'x') + '0', district: '锦江区', age: 50, balance: 1 },
  ];
  const SPEC: LinkSideSpec = {
    dataset: 'people',
    id: 'pid',
    groupBy: ['district'],
    measures: ['balance'],
    where: { kind: 'compare', column: 'age', op: '>', value: 20 },
    maxRowsPerId: 2,
  };

  it('judges GB 11643 ids: a wrong check character is an invalid row', async () => {
    const table = await liveTable(PEOPLE_SCHEMA, PEOPLE);
    await using reject = await openPostgresStore({ pool, datasets: { people: { table, schema: PEOPLE_SCHEMA } } });
    const e = await fedstatRejectionOf(reject.linkInputs(SPEC, PEOPLE_SCHEMA));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toContain('dataset people: 2 rows out of the schema');
    expect(e.message).toContain('(pid 2)');
    expect(e.message).not.toContain(BAD_CHECK);
    const reports: InvalidRowCensus[] = [];
    await using skip = await openPostgresStore({
      pool,
      datasets: { people: { table, schema: PEOPLE_SCHEMA, onInvalid: 'skip' } },
      onInvalidRows: (c) => reports.push(c),
    });
    const got = byId(await skip.linkInputs(SPEC, PEOPLE_SCHEMA));
    expect(got).toEqual(referenceLinkInputs(PEOPLE_SCHEMA, SPEC, PEOPLE.slice(0, 3)).inputs);
    // ID2's rows: one the WHERE drops, one it keeps; all in 金牛区 (group 2).
    expect(got.get(ID2)).toEqual([0n, 0n, 0n, 0n, 1n, 7n]);
    expect(reports).toEqual([{ dataset: 'people', rows: 2, byColumn: { pid: 2 } }]);
    // Over the bound: ID2 (two rows) leaves with both of them.
    const bounded = byId(await skip.linkInputs({ ...SPEC, maxRowsPerId: 1 }, PEOPLE_SCHEMA));
    expect([...bounded.keys()]).toEqual([ID1]);
    expect(reports.at(-1)).toEqual({ dataset: 'people', rows: 2, byColumn: { pid: 2 } });
    expect((await fedstatRejectionOf(reject.linkInputs({ ...SPEC, maxRowsPerId: 1 }, PEOPLE_SCHEMA))).code).toBe(
      'DATA_INVALID',
    );
  });

  it('a sum beyond 64 bits is INTERNAL, never wrapped', async () => {
    const table = `public.huge${++tableNo}`;
    await db.query(
      `CREATE TABLE ${table} AS SELECT 'p1' AS person, '锦江区' AS district, '男' AS sex, 1 AS age, ${Number.MAX_SAFE_INTEGER}::bigint AS amount FROM generate_series(1, 1100)`,
    );
    await db.query(`GRANT SELECT ON ${table} TO ${pg.escapeIdentifier(role)}`);
    const schema = { ...LINK_SCHEMA, maxRows: 5000 };
    await using store = await openPostgresStore({ pool, datasets: { visits: { table, schema } } });
    const spec: LinkSideSpec = {
      dataset: 'visits',
      id: 'person',
      groupBy: [],
      measures: ['amount'],
      where: null,
      maxRowsPerId: 2000,
    };
    for (const groupBy of [[], ['sex']]) {
      const e = await fedstatRejectionOf(store.linkInputs({ ...spec, groupBy }, schema));
      expect(e.code).toBe('INTERNAL');
      expect(e.message).toContain('does not fit 64 bits');
    }
  });

  it('streams a table of many ids through a cursor', async () => {
    const rows = 30_000;
    const table = `public.big${++tableNo}`;
    await db.query(
      `CREATE TABLE ${table} AS SELECT 'p' || (i % 25000) AS person, (ARRAY['锦江区','青羊区','金牛区'])[1 + i % 3] AS district, (ARRAY['男','女'])[1 + i % 2] AS sex, i % 121 AS age, i AS amount FROM generate_series(1, ${rows}) AS i`,
    );
    await db.query(`GRANT SELECT ON ${table} TO ${pg.escapeIdentifier(role)}`);
    const schema = { ...LINK_SCHEMA, maxRows: rows };
    await using store = await openPostgresStore({ pool, datasets: { visits: { table, schema } } });
    const spec: LinkSideSpec = {
      dataset: 'visits',
      id: 'person',
      groupBy: ['sex'],
      measures: ['amount'],
      where: null,
      maxRowsPerId: 2,
    };
    const got = await store.linkInputs(spec, schema);
    expect(got.ids.length).toBe(25_000);
    const all = byId(got);
    // p1 holds i = 1 and i = 25001, both 女 (group 1).
    expect(all.get('p1')).toEqual([0n, 0n, 2n, 25_002n]);
    let total = 0n;
    for (let i = 0; i < got.comps.length; i += 2) total += got.comps[i] ?? 0n;
    expect(total).toBe(BigInt(rows));
  });
});
