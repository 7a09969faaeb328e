/**
 * The check an agency runs on each live PostgreSQL table when the store opens (pg-schema-check.ts),
 * against a real server: missing and mistyped columns (every one named, with did-you-mean), views,
 * tables outside public, quoted mixed-case names, roles that may not read; and that a role with
 * only CONNECT, USAGE and SELECT is enough for every read the store makes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSchema, type DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import { parseFormula } from '../../src/learn/formula.js';
import { sumsOf } from '../../src/learn/pooled-fit.js';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres-store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { freshDatabase, readonlyRole, type PgTestSettings, type TestDatabase } from '../helpers/postgres.js';

const SCHEMA: DatasetSchema = parseSchema(
  {
    datasets: {
      rentals: {
        maxRows: 1000,
        columns: {
          pid: { type: 'id', format: 'text' },
          district: { type: 'category', values: ['锦江区', '青羊区'] },
          age: { type: 'integer', min: 0, max: 120 },
          rent: { type: 'integer', min: 0, max: 100_000 },
        },
      },
    },
  },
  'rentals.json',
).datasets['rentals']!;

const ROWS = [
  ['p1', '锦江区', 30, 2500],
  ['p2', '青羊区', 41, 1800],
  ['p3', '锦江区', 25, 3100],
  ['p4', '锦江区', 67, 900],
] as const;

let db: TestDatabase;
let admin: pg.Pool;

async function fill(table: string, columns = '(pid text, district text, age integer, rent integer)'): Promise<void> {
  await db.query(`CREATE TABLE ${table} ${columns}`);
  for (const r of ROWS) await db.query(`INSERT INTO ${table} VALUES ($1, $2, $3, $4)`, [...r]);
}

beforeAll(async () => {
  db = await freshDatabase('pg schema check');
  admin = new pg.Pool({ ...db.settings, max: 2 });
  await fill('rentals');
  await db.query('CREATE SCHEMA housing');
  await fill('housing.rentals');
  await db.query('CREATE SCHEMA "Housing"');
  await fill('"Housing"."Rentals"');
});
afterAll(async () => {
  await admin.end();
  await db.drop();
});

function open(table: string, as: PgTestSettings | pg.Pool = admin, extra: Partial<PostgresStoreOptions> = {}) {
  const connection = as instanceof pg.Pool ? { pool: as } : { connection: { ...as } };
  return openPostgresStore({ ...connection, datasets: { rentals: { table, schema: SCHEMA } }, ...extra });
}

const countPlan = {
  dataset: 'rentals',
  groupBy: ['district'],
  select: [
    { kind: 'aggregate' as const, fn: 'count' as const, column: null, alias: 'n' },
    { kind: 'aggregate' as const, fn: 'sum' as const, column: 'rent', alias: 'r' },
  ],
  where: null,
};

async function counts(table: string, as: PgTestSettings | pg.Pool = admin): Promise<unknown> {
  await using store = await open(table, as);
  const local = await store.aggregate(countPlan, SCHEMA);
  return Object.fromEntries([...local.groups].map(([k, v]) => [k, v.map(Number)]));
}

const EXPECTED = { 0: [3, 6500], 1: [1, 1800] };

describe('openPostgresStore checks each table against its schema', () => {
  it('names every missing column (with did-you-mean) and every mistyped one at once', async () => {
    await fill('drifted', '(pid text, districts text, age numeric, rent double precision)');
    const e = await fedstatRejectionOf(open('drifted'));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toContain('"public"."drifted" does not fit dataset rentals');
    expect(e.message).toContain('column district is missing (did you mean districts?)');
    expect(e.message).toContain('column age is numeric, expected smallint, integer or bigint for its integer type');
    expect(e.message).toContain('column rent is double precision, expected smallint, integer or bigint');
    expect(e.message).toMatch(/serve a view that casts and renames its columns$/);
    expect(e.details).toMatchObject({ dataset: 'rentals' });
    await db.query('CREATE TABLE wrong_category (pid text, district integer, age integer, rent integer)');
    expect((await fedstatRejectionOf(open('wrong_category'))).message).toContain(
      'column district is integer, expected text, varchar, char or an enum for its category type',
    );
  });

  it('serves a view that casts and renames, and refuses one that does not fit', async () => {
    await fill('legacy', '(person text, qu text, nianling numeric, zujin bigint)');
    await db.query(
      'CREATE VIEW fitted AS SELECT person AS pid, qu AS district, CAST(nianling AS integer) AS age, zujin AS rent FROM legacy',
    );
    expect(await counts('fitted')).toEqual(EXPECTED);
    await db.query(
      'CREATE VIEW unfitted AS SELECT person AS pid, qu AS district, nianling AS age, zujin AS rent FROM legacy',
    );
    expect((await fedstatRejectionOf(open('unfitted'))).message).toContain('column age is numeric');
    await db.query('CREATE MATERIALIZED VIEW frozen AS SELECT * FROM rentals');
    expect(await counts('frozen')).toEqual(EXPECTED);
  });

  it('finds tables outside public only by a qualified name, and keeps quoted names as written', async () => {
    await db.query('DROP TABLE IF EXISTS public.elsewhere');
    await db.query('CREATE SCHEMA IF NOT EXISTS other');
    await fill('other.elsewhere');
    expect(await counts('other.elsewhere')).toEqual(EXPECTED);
    const missing = await fedstatRejectionOf(open('elsewhere'));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toMatch(
      /"elsewhere" \(dataset rentals\) does not exist or is not on the search_path; name it as SCHEMA\.TABLE/,
    );
    expect(await counts('"Housing"."Rentals"')).toEqual(EXPECTED);
    expect(await counts('housing.rentals')).toEqual(EXPECTED);
    expect(await counts('HOUSING.Rentals')).toEqual(EXPECTED); // folds to housing.rentals, as psql would
    await db.query('DROP TABLE housing.rentals');
    const folded = await fedstatRejectionOf(open('Housing.Rentals'));
    expect(folded.code).toBe('NOT_FOUND');
    await fill('housing.rentals');
  });

  it('a malformed table name is CONFIG_INVALID before any connection', async () => {
    const e = await fedstatRejectionOf(
      openPostgresStore({
        connection: { host: '127.0.0.1', port: 1, user: 'nobody', database: 'none' },
        datasets: { rentals: { table: 'a.b.c', schema: SCHEMA } },
      }),
    );
    expect(e.code).toBe('CONFIG_INVALID');
  });
});

describe('roles', () => {
  it('CONNECT, USAGE and SELECT are enough for every read: aggregate, rowCount, glmSums, scanRecords', async () => {
    const ro = await readonlyRole(db, ['housing.rentals']);
    expect(await counts('housing.rentals', ro)).toEqual(EXPECTED);
    await using store = await open('housing.rentals', ro);
    expect(await store.rowCount('rentals')).toBe(ROWS.length);
    const coding = codeModel(parseFormula('rent ~ district + age', SCHEMA, 'rentals'), SCHEMA, 'gaussian', 'rentals');
    const beta = [1000, 200, 10];
    const records = ROWS.map(([, district, age, rent]) => ({ district, age, rent }));
    const sums = await store.glmSums(coding, SCHEMA, beta, null);
    const expected = sumsOf(coding, records, beta);
    expect(sums.n).toBe(ROWS.length);
    expect(sums.deviance).toBeCloseTo(expected.deviance, 6);
    const scanned = [];
    for await (const batch of store.scanRecords('rentals', SCHEMA, ['district', 'age'], null, 3))
      scanned.push(...batch);
    expect(scanned).toEqual(ROWS.map(([, district, age]) => ({ district, age })));
    // The role cannot write, so nothing the store runs could have.
    const client = new pg.Client({ ...ro });
    await client.connect();
    try {
      const e = await client.query("INSERT INTO housing.rentals VALUES ('x', '锦江区', 1, 1)").catch((x: unknown) => x);
      expect(e).toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
  });

  it('a role without SELECT gets CONFIG_INVALID with the GRANT to run', async () => {
    const ro = await readonlyRole(db, ['rentals']);
    await db.query(`REVOKE SELECT ON rentals FROM ${pg.escapeIdentifier(ro.user)}`);
    const e = await fedstatRejectionOf(open('rentals', ro));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('the role may not read district, age, rent');
    expect(e.message).toContain('GRANT SELECT ON "public"."rentals" TO');
    // Column privileges: only the columns the store reads need SELECT (never the id).
    await db.query(`GRANT SELECT (district, age) ON rentals TO ${pg.escapeIdentifier(ro.user)}`);
    expect((await fedstatRejectionOf(open('rentals', ro))).message).toContain('the role may not read rent;');
    await db.query(`GRANT SELECT (rent) ON rentals TO ${pg.escapeIdentifier(ro.user)}`);
    expect(await counts('rentals', ro)).toEqual(EXPECTED);
  });

  it('a role without USAGE on the schema gets CONFIG_INVALID naming the GRANT', async () => {
    const ro = await readonlyRole(db, ['rentals']);
    await db.query(`GRANT SELECT ON "Housing"."Rentals" TO ${pg.escapeIdentifier(ro.user)}`);
    const e = await fedstatRejectionOf(open('"Housing"."Rentals"', ro));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/USAGE on its schema/);
  });

  it('a database that does not exist is CONFIG_INVALID naming PGDATABASE', async () => {
    const e = await fedstatRejectionOf(open('rentals', { ...db.settings, database: 'no_such_db' }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/database "no_such_db" does not exist; check PGDATABASE/);
  });

  it('a wrong password is CONFIG_INVALID naming PGPASSWORD, never the password', async () => {
    const ro = await readonlyRole(db, ['rentals']);
    const e = await fedstatRejectionOf(open('rentals', { ...ro, password: 'not-the-password' }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/PGPASSWORD or ~\/\.pgpass/);
    expect(e.message).not.toContain('not-the-password');
  });
});
