/**
 * PostgreSQL for tests: the server of the run (test/setup/postgres.ts, or FEDSTAT_TEST_PG), one
 * fresh database per test file so files running in parallel never share a table, and read-only
 * roles that hold only CONNECT, USAGE and SELECT, to prove that SELECT is all fedstat needs.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** libpq's settings; `password` absent means PGPASSWORD or PGPASSFILE supplies it, as in libpq. */
export interface PgTestSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  readonly database: string;
}

/** The run's server, as its admin role (may create databases and roles). */
export function pgTestSettings(): PgTestSettings {
  const raw = process.env.FEDSTAT_TEST_PG;
  if (raw === undefined || raw === '')
    throw new Error('FEDSTAT_TEST_PG is unset: run the tests through vitest (test/setup/postgres.ts sets it)');
  const url = new URL(raw);
  const password = url.password !== '' ? decodeURIComponent(url.password) : process.env.PGPASSWORD;
  return {
    host: decodeURIComponent(url.hostname) || '127.0.0.1',
    port: url.port === '' ? 5432 : Number(url.port),
    user: decodeURIComponent(url.username) || 'postgres',
    ...(password !== undefined && password !== '' ? { password } : {}),
    database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
  };
}

/** The PG* variables that make a child process (the CLI, psql) connect with `s`. */
export function pgEnv(s: PgTestSettings): Record<string, string> {
  return {
    PGHOST: s.host,
    PGPORT: String(s.port),
    PGUSER: s.user,
    PGDATABASE: s.database,
    ...(s.password !== undefined ? { PGPASSWORD: s.password } : {}),
  };
}

/** A database of its own for one test file; `drop()` (or `await using`) removes it and its roles. */
export interface TestDatabase extends AsyncDisposable {
  readonly name: string;
  /** The admin role, connected to this database. */
  readonly settings: PgTestSettings;
  /** Runs one statement as the admin role in this database (setup: CREATE TABLE, COPY, INSERT). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

async function asAdmin<T>(database: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...pgTestSettings(), database });
  await client.connect();
  try {
    return await f(client);
  } finally {
    await client.end();
  }
}

const roles = new Map<string, string[]>();

/** CREATE DATABASE t_<label>_<random>: nothing else connects to it. */
export async function freshDatabase(label: string): Promise<TestDatabase> {
  const admin = pgTestSettings();
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 40);
  const name = `t_${slug}_${randomBytes(4).toString('hex')}`;
  await asAdmin(admin.database, async (c) => {
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    // Private to the admin: roles reach it only through what readonlyRole grants.
    await c.query(`REVOKE ALL ON DATABASE ${pg.escapeIdentifier(name)} FROM PUBLIC`);
  });
  roles.set(name, []);
  const settings: PgTestSettings = { ...admin, database: name };
  const pool = new pg.Pool({ ...settings, max: 2 });
  let dropped: Promise<void> | undefined;
  const drop = (): Promise<void> =>
    (dropped ??= (async () => {
      await pool.end();
      await asAdmin(admin.database, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
        for (const role of roles.get(name) ?? []) await c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
      });
      roles.delete(name);
    })());
  return {
    name,
    settings,
    query: (sql, values) => pool.query(sql, values),
    drop,
    [Symbol.asyncDispose]: drop,
  };
}

function qualified(table: string): { schema: string; ref: string } {
  const [a, b] = table.split('.');
  const [schema, name] = b === undefined ? ['public', a ?? ''] : [a ?? '', b];
  return { schema, ref: `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}` };
}

/**
 * A login role that can only connect to `db`, use the tables' schemas and SELECT from `tables`
 * ("table" or "schema.table"). PUBLIC has no CONNECT or TEMP on a fresh database and no CREATE
 * on public (PostgreSQL 15's default, made explicit for older servers), so nothing else is granted.
 */
export async function readonlyRole(db: TestDatabase, tables: readonly string[]): Promise<PgTestSettings> {
  const role = `ro_${randomBytes(6).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const r = pg.escapeIdentifier(role);
  const d = pg.escapeIdentifier(db.name);
  roles.get(db.name)?.push(role);
  await db.query(`CREATE ROLE ${r} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
  await db.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  await db.query(`GRANT CONNECT ON DATABASE ${d} TO ${r}`);
  const targets = tables.map(qualified);
  for (const schema of new Set(targets.map((t) => t.schema)))
    await db.query(`GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(schema)} TO ${r}`);
  for (const t of targets) await db.query(`GRANT SELECT ON ${t.ref} TO ${r}`);
  return { ...db.settings, user: role, password };
}
