/**
 * End to end over real gRPC (mTLS on 127.0.0.1) with agencies that keep their records where they
 * already are: one answers from a live PostgreSQL table through a role that may only SELECT it,
 * one from Parquet files read in place, one from a CSV file loaded into DuckDB. Every encrypted
 * result equals the plaintext computed from the pooled valid rows; out-of-domain rows in the live
 * table are skipped and reported, or refused with a signed refusal the coordinator names.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgencyNode, type AgencyNode, type AgencyNodeOptions } from '../../src/agency/node.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { compareRows, referenceRows } from '../../src/demo/reference.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import type { InvalidRowCensus } from '../../src/store/invalid-rows.js';
import type { AuditEvent } from '../../src/transparency/events.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { residentsParquet, residentsTable } from '../helpers/live-tables.js';
import { freshDatabase, pgEnv, readonlyRole, type PgTestSettings, type TestDatabase } from '../helpers/postgres.js';
import { createTestFederation, makeRows, writeCsv, type Row, type TestFederation } from '../helpers/test-federation.js';

let tf: TestFederation;
let db: TestDatabase;
let ro: PgTestSettings;
let coordinator: Coordinator;
const nodes = new Map<string, AgencyNode>();
const savedEnv = { ...process.env };

/** Starts agency `id` in process from its files, waiting until the coordinator reaches it. */
async function start(id: string, extra: Partial<AgencyNodeOptions>, datasets: AgencyNodeOptions['datasets']) {
  nodes.set(
    id,
    await startAgencyNode({ federationFile: tf.federationFile, keyFile: tf.keyFiles[id]!, datasets, ...extra }),
  );
  for (let i = 0; i < 100; i++) {
    if ((await coordinator.discover()).described.some((d) => d.agencyId === id)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`coordinator cannot reach ${id}`);
}

async function stop(id: string): Promise<void> {
  await nodes.get(id)?.close();
  nodes.delete(id);
}

const fromPostgres = { residents: { kind: 'postgres', table: 'public.residents' } } as const;

/**
 * The query is exact against the pooled CSV files, plus `extra` (rows of the live table that are
 * out of domain only in columns the query does not read, given here with those cells in domain).
 */
async function expectExact(sql: string, extra: readonly Row[] = []): Promise<void> {
  const result = await coordinator.query(sql);
  const files = tf.ids.map((id) => tf.csvFiles[id]!);
  if (extra.length > 0) {
    const file = join(tf.dir, `extra-${extra.length}.csv`);
    writeCsv(file, extra);
    files.push(file);
  }
  const expected = await referenceRows(
    result.plan,
    datasetSchemaOf(tf.federation, 'residents'),
    files,
    tf.federation.policy,
  );
  expect(result.mode).toBe('encrypted');
  expect(result.agencies.answered).toEqual(['agency-1', 'agency-2', 'agency-3']);
  expect(compareRows(result.rows, expected.rows), sql).toBeNull();
}

beforeAll(async () => {
  tf = await createTestFederation({ agencies: 3, rowsPerAgency: 250, minAgencies: 2 });
  db = await freshDatabase('live_sources');
  // agency-1's rows (the federation's CSV of agency-1) live in PostgreSQL; the role may only read them.
  await residentsTable(db, 'residents', makeRows(250, 1000));
  ro = await readonlyRole(db, ['residents']);
  await residentsParquet(tf.csvFiles['agency-2']!, join(tf.dir, 'agency-2-2026'), 3);
  coordinator = await tf.coordinator();
  // Connected by a URL without a password; the password comes from PGPASSWORD, as an operator would.
  process.env.PGPASSWORD = ro.password;
  const url = `postgres://${ro.user}@${ro.host}:${ro.port}/${ro.database}`;
  await start('agency-1', { postgres: url }, fromPostgres);
  await start('agency-2', {}, { residents: { kind: 'parquet', files: join(tf.dir, 'agency-2-2026-*.parquet') } });
  await start('agency-3', {}, { residents: tf.csvFiles['agency-3']! });
});

afterAll(async () => {
  for (const id of [...nodes.keys()]) await stop(id);
  await coordinator?.close();
  await db?.drop();
  await tf?.close();
  process.env = savedEnv;
});

describe('PostgreSQL, Parquet and CSV agencies in one federation', () => {
  const queries = [
    'SELECT COUNT(*) FROM residents',
    'SELECT district, COUNT(*), SUM(income), AVG(age) FROM residents GROUP BY district',
    "SELECT district, sex, COUNT(*), SUM(balance) FROM residents WHERE age BETWEEN 18 AND 60 AND district <> '成华区' GROUP BY district, sex",
  ];
  for (const sql of queries) {
    it(`matches plaintext: ${sql}`, async () => {
      await expectExact(sql);
    });
  }
});

describe('a start that fails', () => {
  it('closes the PostgreSQL connections it opened before the failure', async () => {
    Object.assign(process.env, pgEnv(ro));
    const connections = async () =>
      Number(
        (await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1', [ro.user]))
          .rows[0]!.n,
      );
    const before = await connections();
    // A backend leaves pg_stat_activity a moment after its client closed the socket.
    const settled = async (): Promise<number> => {
      for (let i = 0; i < 100 && (await connections()) > before; i++) await new Promise((r) => setTimeout(r, 50));
      return connections();
    };
    // The table checks out and the stores open; then the port, agency-1's, is taken.
    const err = await fedstatRejectionOf(
      startAgencyNode({
        federationFile: tf.federationFile,
        keyFile: tf.keyFiles['agency-3']!,
        datasets: fromPostgres,
        port: nodes.get('agency-1')!.port,
      }),
    );
    expect(err.code).toBe('UNAVAILABLE');
    expect(await settled()).toBe(before);
    const missing = await fedstatRejectionOf(
      startAgencyNode({
        federationFile: tf.federationFile,
        keyFile: tf.keyFiles['agency-3']!,
        datasets: { residents: { kind: 'postgres', table: 'public.no_such_table' } },
      }),
    );
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toContain('"public"."no_such_table"');
    expect(await settled()).toBe(before);
  });
});

describe('out-of-domain rows in the live table', () => {
  beforeAll(async () => {
    const valid = makeRows(3, 77);
    await db.query(
      `INSERT INTO residents VALUES ($1, $2, $3, 130, $4, $5), ($6, '外地', $7, 40, $8, $9), ($10, $11, $12, NULL, 5, 99999)`,
      [
        'bad-age',
        valid[0]!.district,
        valid[0]!.sex,
        valid[0]!.income,
        valid[0]!.balance,
        'bad-district',
        valid[1]!.sex,
        valid[1]!.income,
        valid[1]!.balance,
        'bad-two',
        valid[2]!.district,
        valid[2]!.sex,
      ],
    );
  });

  it('skip: the answer leaves them out (still exact) and each statement reports them', async () => {
    const reports: InvalidRowCensus[] = [];
    await stop('agency-1');
    // This time through libpq's variables alone.
    delete process.env.PGPASSWORD;
    Object.assign(process.env, pgEnv(ro));
    await start('agency-1', { onInvalid: 'skip', onInvalidRows: (c) => reports.push(c) }, fromPostgres);
    // A statement judges rows by the columns it reads: this one reads all three bad cells' columns.
    await expectExact(
      'SELECT district, COUNT(*), SUM(income), SUM(balance), SUM(age) FROM residents GROUP BY district',
    );
    expect(reports).toEqual([{ dataset: 'residents', rows: 3, byColumn: { age: 2, district: 1, balance: 1 } }]);
    // One that reads neither age nor balance answers from the two rows out of domain only there.
    reports.length = 0;
    const valid = makeRows(3, 77);
    await expectExact('SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district', [
      { ...valid[0]!, person: 'bad-age', age: 40 },
      { ...valid[2]!, person: 'bad-two', age: 40, income: 5, balance: 0 },
    ]);
    expect(reports).toEqual([{ dataset: 'residents', rows: 1, byColumn: { district: 1 } }]);
  });

  it('reject: the agency refuses with a signed refusal naming the rows, and nothing is released', async () => {
    const events: AuditEvent[] = [];
    await stop('agency-1');
    await start('agency-1', { onEvent: { append: (e) => events.push(e) } }, fromPostgres);
    const sql = 'SELECT district, COUNT(*), SUM(income), SUM(balance), AVG(age) FROM residents GROUP BY district';
    const err = await fedstatRejectionOf(coordinator.query(sql, { requireAll: true }));
    expect(err.code).toBe('POLICY_REFUSED');
    expect(err.message).toContain('agency-1');
    expect(err.message).toContain("3 rows out of the schema's domains (age 2, balance 1, district 1)");
    expect(err.message).not.toMatch(/\b130\b/);
    const refusals = events.filter((e) => e.type === 'refusal');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ agencyId: 'agency-1' });
    expect(events.some((e) => e.type === 'contribution')).toBe(false);
    // Without requireAll too: with three agencies the secure-aggregation threshold is all three,
    // so the refusal stops the release, and the coordinator says why.
    const again = await fedstatRejectionOf(coordinator.query(sql));
    expect(again.code).toBe('UNAVAILABLE');
    expect(again.message).toContain("agency agency-1 refuses: dataset residents: 3 rows out of the schema's domains");
    expect(events.filter((e) => e.type === 'refusal')).toHaveLength(2);
  });
});
