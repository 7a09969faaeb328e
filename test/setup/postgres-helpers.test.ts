import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, pgEnv, pgTestSettings, readonlyRole, type TestDatabase } from '../helpers/postgres.js';

async function as<T>(s: ReturnType<typeof pgTestSettings>, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(s);
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

describe('PostgreSQL test helpers', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('helpers');
    await db.query('CREATE TABLE people (id text, district text, income integer)');
    await db.query('CREATE TABLE secrets (id text)');
    await db.query("INSERT INTO people VALUES ('a', 'x', 10), ('b', 'x', 20), ('c', 'y', 5)");
  });
  afterAll(() => db.drop());

  it('reaches the run server from a worker through FEDSTAT_TEST_PG (set by globalSetup)', async () => {
    const s = pgTestSettings();
    expect(s.host).toBe('127.0.0.1');
    expect(pgEnv(s)).toMatchObject({ PGHOST: '127.0.0.1', PGPORT: String(s.port), PGUSER: s.user });
    const me = await as(s, async (c) => (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u);
    expect(me).toBe(s.user);
  });

  it('gives each file its own database', async () => {
    const other = await freshDatabase('helpers');
    try {
      expect(other.name).not.toBe(db.name);
      await expect(other.query('SELECT * FROM people')).rejects.toThrow(/relation "people" does not exist/);
    } finally {
      await other.drop();
    }
    const left = await as(pgTestSettings(), (c) =>
      c.query('SELECT 1 FROM pg_database WHERE datname = $1', [other.name]),
    );
    expect(left.rowCount).toBe(0);
  });

  it('a read-only role can SELECT and GROUP BY its table, and nothing else', async () => {
    const ro = await readonlyRole(db, ['people']);
    expect(ro.user).not.toBe(pgTestSettings().user);
    await as(ro, async (c) => {
      const r = await c.query<{ district: string; n: string; total: string }>(
        'SELECT district, COUNT(*) AS n, SUM(income) AS total FROM people GROUP BY district ORDER BY district',
      );
      expect(r.rows).toEqual([
        { district: 'x', n: '2', total: '30' },
        { district: 'y', n: '1', total: '5' },
      ]);
      await expect(c.query('SELECT * FROM secrets')).rejects.toThrow(/permission denied for table secrets/);
      await expect(c.query("INSERT INTO people VALUES ('d', 'y', 1)")).rejects.toThrow(/permission denied/);
      await expect(c.query('CREATE TABLE mine (x int)')).rejects.toThrow(/permission denied for schema public/);
      await expect(c.query('CREATE TEMP TABLE mine (x int)')).rejects.toThrow(/permission denied/);
    });
    const other = await freshDatabase('helpers-other');
    try {
      await expect(as({ ...ro, database: other.name }, () => Promise.resolve())).rejects.toThrow(
        /permission denied for database/,
      );
    } finally {
      await other.drop();
    }
  });
});
