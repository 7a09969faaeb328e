/**
 * What goes wrong with a live PostgreSQL server, each giving its documented error and never a
 * number: a connection dropped mid-statement (pg_terminate_backend from an admin connection), a
 * statement timeout, a server restart between statements (a second server of this file's own), the
 * server down when the store opens, a table dropped or altered after the check at open, and server
 * messages that quote a cell (never echoed).
 */
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBinDir, runPg } from '../../scripts/pg-binaries.js';
import { startPgServer, type PgServer } from '../../scripts/pg-server.js';
import { freePorts } from '../../src/demo/free-port.js';
import { FedstatError } from '../../src/errors.js';
import { parseSchema, type DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import { parseFormula } from '../../src/learn/formula.js';
import type { QueryPlan } from '../../src/query/plan.js';
import { pgError } from '../../src/store/pg-errors.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import type { AgencyStore, LocalAggregate } from '../../src/store/store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';

const SCHEMA: DatasetSchema = parseSchema(
  {
    datasets: {
      people: {
        maxRows: 1000,
        columns: {
          district: { type: 'category', values: ['锦江区', '青羊区'] },
          age: { type: 'integer', min: 0, max: 120 },
        },
      },
    },
  },
  'people.json',
).datasets['people']!;

const PLAN: QueryPlan = {
  dataset: 'people',
  groupBy: ['district'],
  select: [
    { kind: 'aggregate', fn: 'count', column: null, alias: 'n' },
    { kind: 'aggregate', fn: 'sum', column: 'age', alias: 'a' },
  ],
  where: null,
};
const EXPECTED = { 0: [2, 70], 1: [1, 41] };

function plain(local: LocalAggregate): Record<number, number[]> {
  return Object.fromEntries([...local.groups].map(([k, v]) => [k, v.map(Number)]));
}

async function fill(query: (sql: string) => Promise<unknown>): Promise<void> {
  await query('CREATE TABLE people (district text, age integer)');
  await query("INSERT INTO people VALUES ('锦江区', 30), ('青羊区', 41), ('锦江区', 40)");
  // Each row takes 0.4 s to read: a statement over it runs long enough to be cut.
  await query(
    'CREATE VIEW slow AS SELECT p.* FROM people p CROSS JOIN LATERAL (SELECT pg_sleep(0.4 + 0 * p.age)) AS s',
  );
  // 3 s a row: a statement that is surely still running when the terminate lands.
  await query(
    'CREATE VIEW slower AS SELECT p.* FROM people p CROSS JOIN LATERAL (SELECT pg_sleep(3 + 0 * p.age)) AS s',
  );
}

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('pg failures');
  await fill((sql) => db.query(sql));
});
afterAll(async () => {
  await db.drop();
});

function open(table: string, extra: { statementTimeoutMs?: number; application_name?: string } = {}) {
  return openPostgresStore({
    connection: { ...db.settings, max: 2 },
    datasets: { people: { table, schema: SCHEMA } },
    ...(extra.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: extra.statementTimeoutMs }),
  });
}

/** Terminates every fedstat backend on the database reading the slow view, once one is in one of `states`. */
async function terminateWhenActive(states = ['active']): Promise<number> {
  for (let i = 0; i < 250; i++) {
    const r = await db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'fedstat-agency' AND state = ANY($1) AND query LIKE '%slow%'",
      [states],
    );
    if (r.rows.length > 0) {
      await db.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [r.rows.map((x) => x.pid)]);
      return r.rows.length;
    }
    await new Promise((done) => setTimeout(done, 20));
  }
  throw new Error('no statement became active');
}

/**
 * A TCP proxy to the server whose `cutAll` ends every upstream connection while leaving the
 * client's side open and silent: the client learns its connection is dead only when it next
 * writes (then the proxy resets it), as after a server restart no idle client heard of.
 */
async function cuttingProxy(target: number): Promise<{
  readonly port: number;
  resets: number;
  cutAll(): number;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((down) => {
    const up = new Socket();
    up.connect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    down.pipe(up).pipe(down);
    const drop = (): void => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on('error', drop);
    up.on('error', drop);
    down.on('close', drop);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const proxy = {
    port: address.port,
    resets: 0,
    cutAll(): number {
      let n = 0;
      for (const pair of [...pairs]) {
        const [down, up] = pair;
        pairs.delete(pair);
        down.unpipe(up);
        up.unpipe(down);
        up.removeAllListeners('error');
        up.on('error', () => undefined);
        up.destroy();
        down.removeAllListeners('close');
        down.once('data', () => {
          proxy.resets++;
          down.resetAndDestroy();
        });
        down.resume(); // unpipe paused it
        n++;
      }
      return n;
    },
    async [Symbol.asyncDispose](): Promise<void> {
      for (const [down, up] of pairs) {
        down.destroy();
        up.destroy();
      }
      await new Promise((done) => server.close(done));
    },
  };
  return proxy;
}

describe('a live PostgreSQL store under failure', () => {
  it('a connection dropped mid-statement: UNAVAILABLE, no number; the next statement answers', async () => {
    // The same store serves the fast table too: its pool must still answer after the kills.
    await using store = await openPostgresStore({
      connection: { ...db.settings, max: 2 },
      datasets: { people: { table: 'slower', schema: SCHEMA }, quick: { table: 'people', schema: SCHEMA } },
    });
    for (const read of [
      () => store.aggregate(PLAN, SCHEMA),
      () =>
        store.glmSums(
          codeModel(parseFormula('age ~ district', SCHEMA, 'people'), SCHEMA, 'gaussian', 'people'),
          SCHEMA,
          [1, 1],
          null,
        ),
      async () => {
        for await (const _ of store.scanRecords('people', SCHEMA, ['age'], null, 10));
      },
    ]) {
      const [e, killed] = await Promise.all([fedstatRejectionOf(read()), terminateWhenActive()]);
      expect(killed).toBe(1);
      expect(e.code).toBe('UNAVAILABLE');
      expect(e.message).toMatch(
        /PostgreSQL table "slower" \(dataset people\): the PostgreSQL server is unreachable or closed the connection/,
      );
      expect(e.message).toMatch(/nothing was answered, retry when it is back$/);
    }
    expect(plain(await store.aggregate({ ...PLAN, dataset: 'quick' }, SCHEMA))).toEqual(EXPECTED);
  }, 30_000);

  it('a connection dropped between the batches of a scan: the next batch fails UNAVAILABLE, a break returns', async () => {
    const pool = new pg.Pool({ ...db.settings, max: 1, application_name: 'fedstat-agency' });
    await using store = await openPostgresStore({ pool, datasets: { people: { table: 'slow', schema: SCHEMA } } });
    for (const then of ['read on', 'break'] as const) {
      const it = store.scanRecords('people', SCHEMA, ['age'], null, 1)[Symbol.asyncIterator]();
      expect((await it.next()).value).toEqual([{ age: 30 }]);
      // The cursor waits, suspended, in its open transaction (no Sync yet: pg_stat_activity may say active).
      expect(await terminateWhenActive(['active', 'idle in transaction'])).toBe(1);
      await new Promise((done) => setTimeout(done, 100)); // the client hears of it
      if (then === 'read on') expect((await fedstatRejectionOf(it.next())).code).toBe('UNAVAILABLE');
      else expect(await it.return?.()).toEqual({ done: true, value: undefined });
    }
    // The pool's one client was replaced, not leaked.
    expect(plain(await store.aggregate(PLAN, SCHEMA))).toEqual(EXPECTED);
    expect(pool.waitingCount).toBe(0);
    await pool.end();
  }, 30_000);

  it('pooled connections found dead at BEGIN are destroyed and the next tried: a restart costs no answer', async () => {
    await using proxy = await cuttingProxy(db.settings.port);
    const pool = new pg.Pool({ ...db.settings, port: proxy.port, max: 3 });
    await using store = await openPostgresStore({ pool, datasets: { people: { table: 'people', schema: SCHEMA } } });
    for (let i = 0; i < 5; i++) {
      await Promise.all([1, 2, 3].map(() => store.aggregate(PLAN, SCHEMA))); // idle clients in the pool
      // The pool cannot know: each connection fails only when its client next writes.
      const cut = proxy.cutAll();
      expect(cut).toBeGreaterThan(0);
      // Every idle client is dead: each is found so at BEGIN, destroyed, and the next one tried.
      if (i % 2 === 0) expect(plain(await store.aggregate(PLAN, SCHEMA))).toEqual(EXPECTED);
      else {
        const ages: unknown[] = [];
        for await (const batch of store.scanRecords('people', SCHEMA, ['age'], null, 2)) ages.push(...batch);
        expect(ages).toEqual([{ age: 30 }, { age: 41 }, { age: 40 }]);
      }
      expect(proxy.resets).toBe(cut);
      proxy.resets = 0;
    }
    expect(pool.waitingCount).toBe(0);
    await pool.end();
  }, 20_000);

  it('a statement timeout: UNAVAILABLE naming the timeout, no number', async () => {
    await using store = await open('slow', { statementTimeoutMs: 300 });
    const e = await fedstatRejectionOf(store.aggregate(PLAN, SCHEMA));
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toContain('the statement ran past the statement timeout and was cancelled; nothing was answered');
    expect(e.message).toContain('raise --statement-timeout');
    expect(e.details).toMatchObject({ sqlState: '57014' });
    const scan = await fedstatRejectionOf(
      (async () => {
        for await (const _ of store.scanRecords('people', SCHEMA, ['age'], null, 1));
      })(),
    );
    expect(scan.code).toBe('UNAVAILABLE');
    // The timeout is the store's own, per statement: a fast table answers on the same store.
    await using fast = await open('people', { statementTimeoutMs: 300 });
    expect(plain(await fast.aggregate(PLAN, SCHEMA))).toEqual(EXPECTED);
  });

  it('a table dropped or altered after open: DATA_INVALID asking for a restart', async () => {
    await db.query('CREATE TABLE doomed AS SELECT * FROM people');
    await db.query('CREATE TABLE altered AS SELECT * FROM people');
    await using doomed = await open('doomed');
    await using altered = await open('altered');
    expect(plain(await doomed.aggregate(PLAN, SCHEMA))).toEqual(EXPECTED);
    await db.query('DROP TABLE doomed');
    await db.query('ALTER TABLE altered ALTER COLUMN age TYPE text');
    for (const store of [doomed, altered]) {
      const e = await fedstatRejectionOf(store.aggregate(PLAN, SCHEMA));
      expect(e.code).toBe('DATA_INVALID');
      expect(e.message).toContain('the table no longer fits what the agency checked at start');
      expect(e.message).toMatch(/restart the agency to check it again$/);
    }
  });

  it('a server message that quotes a cell is reduced to its SQLSTATE', async () => {
    await db.query('CREATE TABLE raw (district text, age_text text)');
    await db.query("INSERT INTO raw VALUES ('锦江区', '30'), ('青羊区', 'secret-张三-110101')");
    await db.query('CREATE VIEW casting AS SELECT district, CAST(age_text AS integer) AS age FROM raw');
    await using store = await open('casting');
    const e = await fedstatRejectionOf(store.aggregate(PLAN, SCHEMA));
    expect(e.code).toBe('IO');
    expect(e.message).toBe('PostgreSQL table "casting" (dataset people): PostgreSQL failed (SQLSTATE 22P02)');
    expect(String((e.cause as Error).message)).toContain('secret-张三-110101'); // the server did quote it
    // Object names and settings (class 42, 08, 57 …) are kept: they hold no row value.
    const named = pgError(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }), 'T');
    expect(named.message).toContain('relation "x" does not exist');
    for (const [code, message] of [
      ['22003', 'value "99999999999" is out of range for type integer'],
      ['22012', 'division by zero'],
      ['23505', 'duplicate key value violates unique constraint "k"'],
      ['XX000', 'internal error on value secret'],
    ] as const) {
      const mapped = pgError(Object.assign(new Error(message), { code }), 'T');
      expect(mapped).toBeInstanceOf(FedstatError);
      expect(mapped.message).toBe(`T: PostgreSQL failed (SQLSTATE ${code})`);
    }
  });

  it('the server down when the store opens: UNAVAILABLE, and nothing is left open', async () => {
    const [port] = await freePorts(1);
    const e = await fedstatRejectionOf(
      openPostgresStore({
        connection: { host: '127.0.0.1', port: port!, user: 'nobody', database: 'none', connectionTimeoutMillis: 5000 },
        datasets: { people: { table: 'people', schema: SCHEMA } },
      }),
    );
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(
      /the PostgreSQL server is unreachable or closed the connection \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/,
    );
  });
});

describe('a server restart between statements', () => {
  let server: PgServer;
  let store: AgencyStore;
  beforeAll(async () => {
    server = await startPgServer();
    const admin = new pg.Client({ ...server.settings });
    await admin.connect();
    try {
      await fill((sql) => admin.query(sql));
    } finally {
      await admin.end();
    }
    store = await openPostgresStore({
      connection: { ...server.settings, max: 3 },
      datasets: { people: { table: 'people', schema: SCHEMA } },
    });
  }, 60_000);
  afterAll(async () => {
    await store.close();
    await server.stop();
  });

  async function pgCtl(...args: string[]): Promise<void> {
    const r = await runPg(
      server.runAs,
      join(findPgBinDir(), 'pg_ctl'),
      [...args, '-D', join(server.dir, 'data'), '-w', '-s'],
      server.dir,
    );
    expect(r.status, r.output).toBe(0);
  }

  it('after a restart (fast or immediate) the next statement answers, or fails UNAVAILABLE; never a wrong number', async () => {
    // Warm the pool: several idle clients that the restart will cut.
    await Promise.all([1, 2, 3].map(() => store.aggregate(PLAN, SCHEMA)));
    for (const mode of ['fast', 'immediate']) {
      await pgCtl('restart', '-m', mode, '-l', join(server.dir, 'log'));
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) {
        try {
          expect(plain(await store.aggregate(PLAN, SCHEMA))).toEqual(EXPECTED);
          outcomes.push('answered');
        } catch (e) {
          expect(e).toBeInstanceOf(FedstatError);
          expect((e as FedstatError).code).toBe('UNAVAILABLE');
          outcomes.push('unavailable');
        }
      }
      // The retry on a new client means the restart costs no answer once the server is back.
      expect(outcomes, mode).toEqual(['answered', 'answered', 'answered', 'answered']);
    }
  }, 60_000);

  it('while the server is stopped: UNAVAILABLE; once it is back, answers again', async () => {
    await pgCtl('stop', '-m', 'fast');
    try {
      const e = await fedstatRejectionOf(store.aggregate(PLAN, SCHEMA));
      expect(e.code).toBe('UNAVAILABLE');
      const open = await fedstatRejectionOf(
        openPostgresStore({
          connection: { ...server.settings },
          datasets: { people: { table: 'people', schema: SCHEMA } },
        }),
      );
      expect(open.code).toBe('UNAVAILABLE');
    } finally {
      await pgCtl('start', '-l', join(server.dir, 'log'), '-o', `-p ${server.settings.port}`);
    }
    expect(plain(await store.aggregate(PLAN, SCHEMA))).toEqual(EXPECTED);
  }, 60_000);
});
