/**
 * `fedstat agency serve --dataset NAME=SOURCE`: the forms of SOURCE, the PostgreSQL connection
 * settings (libpq's variables and password file, a URL without a password), and a served
 * federation of a PostgreSQL agency and a Parquet agency answering an encrypted query exactly,
 * the skipped out-of-domain rows reported on the agency's stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDatasetSources } from '../../src/cli/dataset-source.js';
import { cliPath } from '../../src/demo/agency-processes.js';
import { compareRows, referenceRows } from '../../src/demo/reference.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { pgPoolConfig } from '../../src/store/pg-connection.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import { fedstatErrorOf, fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { residentsParquet, residentsTable } from '../helpers/live-tables.js';
import { freshDatabase, pgEnv, readonlyRole, type PgTestSettings } from '../helpers/postgres.js';
import { runCli } from '../helpers/run-cli.js';
import { createTestFederation, makeRows, TEST_SCHEMA } from '../helpers/test-federation.js';

const dir = mkdtempSync(join(tmpdir(), 'fedstat-serve-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function urlOf(s: PgTestSettings): string {
  return `postgres://${encodeURIComponent(s.user)}@${s.host}:${s.port}/${encodeURIComponent(s.database)}`;
}

describe('--dataset NAME=SOURCE', () => {
  it('reads every form', () => {
    expect(
      parseDatasetSources([
        'a=data/a.csv',
        'b',
        'c=postgres:housing.rentals',
        'd=postgres:rentals',
        'e=data/2026-*.parquet',
        'f=x.PARQUET',
      ]),
    ).toEqual({
      a: { kind: 'csv', file: 'data/a.csv' },
      b: { kind: 'stored' },
      c: { kind: 'postgres', table: 'housing.rentals' },
      d: { kind: 'postgres', table: 'rentals' },
      e: { kind: 'parquet', files: 'data/2026-*.parquet' },
      f: { kind: 'parquet', files: 'x.PARQUET' },
    });
  });

  it('refuses an empty source, a table-less postgres: and a repeated name', () => {
    expect(fedstatErrorOf(() => parseDatasetSources(['a='])).message).toMatch(/names no source/);
    expect(fedstatErrorOf(() => parseDatasetSources(['a=postgres:'])).message).toMatch(/postgres:SCHEMA\.TABLE/);
    expect(fedstatErrorOf(() => parseDatasetSources(['a=x.csv', 'a=y.csv'])).message).toMatch(/each dataset once/);
    expect(fedstatErrorOf(() => parseDatasetSources(['=x.csv'])).code).toBe('CONFIG_INVALID');
  });
});

describe('PostgreSQL connection settings', () => {
  it('takes host, port, user, database and sslmode from a URL, never a password', () => {
    const c = pgPoolConfig('postgres://fedstat_ro@db.internal:6432/housing?sslmode=disable', {});
    expect(c).toMatchObject({ host: 'db.internal', port: 6432, user: 'fedstat_ro', database: 'housing', ssl: false });
    for (const url of ['postgres://u:secret@h/db', 'postgresql://u@h/db?password=secret']) {
      const e = fedstatErrorOf(() => pgPoolConfig(url, {}));
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message).toContain('visible to every user of the machine: put it in PGPASSWORD or ~/.pgpass');
      expect(e.message).not.toContain('secret');
    }
    expect(fedstatErrorOf(() => pgPoolConfig('mysql://u@h/db', {})).message).toMatch(/not a postgres:\/\/ URL/);
    expect(fedstatErrorOf(() => pgPoolConfig('postgres://u@h/db?options=-c', {})).message).toMatch(/not supported/);
  });

  it('follows sslmode without falling back to plain text', () => {
    expect(pgPoolConfig(undefined, {}).ssl).toBeUndefined();
    expect(pgPoolConfig(undefined, { PGSSLMODE: 'disable' }).ssl).toBe(false);
    const full = pgPoolConfig(undefined, { PGSSLMODE: 'verify-full' }).ssl as { checkServerIdentity?: unknown };
    expect(full.checkServerIdentity).toBeUndefined();
    const ca = pgPoolConfig(undefined, { PGSSLMODE: 'verify-ca' }).ssl as { checkServerIdentity?: unknown };
    expect(typeof ca.checkServerIdentity).toBe('function');
    expect(fedstatErrorOf(() => pgPoolConfig(undefined, { PGSSLMODE: 'prefer' })).message).toMatch(/unencrypted/);
    expect(fedstatErrorOf(() => pgPoolConfig('postgres://u@h/d?sslmode=allow', {})).code).toBe('CONFIG_INVALID');
  });

  it('reads the password from the password file when PGPASSWORD is unset, refuses a file others can read, honours PGSSLMODE', async () => {
    await using db = await freshDatabase('pgpass');
    await residentsTable(db, 'residents', makeRows(20, 7));
    const ro = await readonlyRole(db, ['residents']);
    const passfile = join(dir, 'pgpass');
    writeFileSync(
      passfile,
      `# comment\notherhost:*:*:*:wrong\n${ro.host}:${ro.port}:${ro.database}:${ro.user}:${ro.password}\n`,
      {
        mode: 0o600,
      },
    );
    const schema = TEST_SCHEMA.datasets['residents']!;
    const open = (env: NodeJS.ProcessEnv) =>
      openPostgresStore({
        datasets: { residents: { table: 'residents', schema } },
        connection: pgPoolConfig(urlOf(ro), env),
      });
    const store = await open({ PGPASSFILE: passfile });
    expect(await store.rowCount('residents')).toBe(20);
    await store.close();
    chmodSync(passfile, 0o644);
    // Without PGPASSWORD or a line for this server, the driver's call for a password says where to put one.
    const none = pgPoolConfig(urlOf(ro), { PGPASSFILE: join(dir, 'absent') }).password as () => string;
    expect(fedstatErrorOf(none).message).toMatch(
      /asks user ro_\w+ for a password; set PGPASSWORD or add a line to ~\/\.pgpass/,
    );
    // Refused before connecting (libpq would ignore the file and fail the login).
    const open644 = fedstatErrorOf(() => pgPoolConfig(urlOf(ro), { PGPASSFILE: passfile }));
    expect(open644.code).toBe('CONFIG_INVALID');
    expect(open644.message).toContain(`chmod 600 ${passfile}`);
    // PGSSLMODE=require is honoured: this server speaks no TLS, so the connection is refused.
    const tls = await fedstatRejectionOf(open({ PGPASSFILE: passfile, PGSSLMODE: 'require', PGPASSWORD: ro.password }));
    expect(tls.message).toMatch(/SSL/i);
  });
});

/** `fedstat agency serve --json` with extra environment; resolves once it listens. */
function serve(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; err: () => string }> {
  const child = spawn(process.execPath, [cliPath(), 'agency', 'serve', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"listening"')) resolve({ child, err: () => err });
    });
    child.once('exit', (code) => reject(new Error(`agency exited with ${code}: ${err}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('fedstat agency serve over PostgreSQL and Parquet', () => {
  it('refuses --postgres with a password before anything starts, without echoing it', async () => {
    const r = await runCli([
      'agency',
      'serve',
      '--federation',
      join(dir, 'absent.json'),
      '--key',
      join(dir, 'absent.key'),
      '--dataset',
      'residents=postgres:public.residents',
      '--postgres',
      'postgres://u:secret@h/db',
    ]);
    expect(r.code).toBe(3);
    expect(r.err).toContain('put it in PGPASSWORD or ~/.pgpass');
    expect(r.err + r.out).not.toContain('secret');
  });

  it('answers an encrypted query exactly, reporting the skipped rows on stderr', async () => {
    const tf = await createTestFederation({ agencies: 2, rowsPerAgency: 120, minAgencies: 2 });
    await using db = await freshDatabase('serve');
    const valid = makeRows(120, 1000);
    const bad = [
      { ...valid[0]!, person: 'bad-1', age: 130 },
      { ...valid[1]!, person: 'bad-2', district: '外地' },
    ];
    await residentsTable(db, 'residents', [...valid, ...bad]);
    const ro = await readonlyRole(db, ['residents']);
    await residentsParquet(tf.csvFiles['agency-2']!, join(tf.dir, 'a2'), 2);
    const common = (id: string) => ['--federation', tf.federationFile, '--key', tf.keyFiles[id]!];
    const a1 = await serve(
      [...common('agency-1'), '--dataset', 'residents=postgres:public.residents', '--on-invalid', 'skip'],
      pgEnv(ro),
    );
    try {
      const a2 = await serve([...common('agency-2'), '--dataset', `residents=${join(tf.dir, 'a2-*.parquet')}`], {});
      try {
        await using coordinator = await tf.coordinator();
        const result = await coordinator.query(
          'SELECT district, COUNT(*), SUM(income), AVG(age) FROM residents GROUP BY district',
        );
        const expected = await referenceRows(
          result.plan,
          datasetSchemaOf(tf.federation, 'residents'),
          [tf.csvFiles['agency-1']!, tf.csvFiles['agency-2']!],
          tf.federation.policy,
        );
        expect(result.agencies.answered).toEqual(['agency-1', 'agency-2']);
        expect(compareRows(result.rows, expected.rows)).toBeNull();
      } finally {
        await stop(a2.child);
      }
      const skipped = a1
        .err()
        .split('\n')
        .filter((l) => l.includes('"skipped"'));
      expect(skipped.map((l) => JSON.parse(l) as unknown)).toEqual([
        { event: 'skipped', dataset: 'residents', rows: 2, byColumn: { age: 1, district: 1 } },
      ]);
      expect(a1.err()).not.toMatch(/\b130\b/);
    } finally {
      await stop(a1.child);
      await tf.close();
    }
  });
});
