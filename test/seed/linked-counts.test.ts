/**
 * The seed scenario's linked persons give the documented counts (docs/demo.md, "Linked records"):
 * for the demo's default seed, the anti-join (registered migrants with no social-insurance record,
 * by district) and the inner join (insured workers with a rental filing and their rent, by sector)
 * computed from the generated CSV files by the demo's plain JavaScript pass (src/demo/join-reference.ts)
 * equal DuckDB's SQL over the same files, and both equal the tables in the docs. Also: no id
 * repeats within one agency's file (so the demo's default maxRowsPerId of 1 holds), and the
 * anti-join is exactly the registrations of people not employed (the HR bureaus record the employed).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSchemaFile } from '../../src/federation/init.js';
import type { Schema } from '../../src/federation/schema.js';
import { DEFAULT_DEMO_ROWS } from '../../src/demo/run-demo.js';
import { joinReferenceRows, type JoinFiles } from '../../src/demo/join-reference.js';
import { DEMO_ANTI_JOIN_SQL, DEMO_INNER_JOIN_SQL } from '../../src/demo/linkage-showcase.js';
import { parseJoinQuery } from '../../src/query/parse-join.js';
import { generateScenario, type ScenarioManifest } from '../../src/seed/generate.js';
import { loadScenario, scenarioAgencies } from '../../src/seed/scenario-registry.js';
import { packageRoot } from '../../src/util/package-root.js';

/** The demo's defaults (`fedstat demo` with no options). */
const ROWS = DEFAULT_DEMO_ROWS;
const SEED = 'fedstat-demo';
const DATASETS = ['residence_registrations', 'social_insurance', 'rental_filings'];

let dir: string;
let manifest: ScenarioManifest;
let schema: Schema;
let db: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-linked-'));
  // Only the agencies of the joined datasets: a subset's files are those of the full run.
  const agencies = scenarioAgencies((await loadScenario('sichuan')).scenario)
    .filter((a) => DATASETS.includes(a.department.dataset))
    .map((a) => a.id);
  manifest = await generateScenario({
    scenario: 'sichuan',
    outDir: join(dir, 'data'),
    rows: ROWS,
    seed: SEED,
    agencies,
  });
  schema = readSchemaFile(join(dir, 'data', manifest.schemaFile));
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
}, 120_000);

afterAll(() => {
  conn.closeSync();
  db.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

/** The files of `dataset`, one list per agency. */
function agencyFiles(dataset: string): string[][] {
  return manifest.agencies.flatMap((a) => {
    const f = a.datasets[dataset];
    return f === undefined ? [] : [[join(dir, 'data', f.file)]];
  });
}

function filesOf(sql: string): JoinFiles {
  const plan = parseJoinQuery(sql, schema);
  return { left: agencyFiles(plan.left.dataset), right: agencyFiles(plan.right.dataset) };
}

/** A DuckDB relation over one dataset's CSV files, every column read as text. */
function csv(dataset: string): string {
  const list = agencyFiles(dataset)
    .flat()
    .map((f) => `'${f.replaceAll("'", "''")}'`)
    .join(', ');
  return `read_csv([${list}], header = true, all_varchar = true)`;
}

async function duck(sql: string): Promise<unknown[][]> {
  return (await conn.runAndReadAll(sql)).getRows();
}

/** The rows of the markdown table after `<!-- name -->` in docs/demo.md, cells trimmed. */
function docsTable(name: string): string[][] {
  const text = readFileSync(join(packageRoot(), 'docs', 'demo.md'), 'utf8');
  const at = text.indexOf(`<!-- ${name} -->`);
  if (at < 0) throw new Error(`docs/demo.md has no table marked <!-- ${name} -->`);
  const lines = text.slice(at).split('\n').slice(1);
  const table = lines.slice(
    0,
    lines.findIndex((l) => !l.startsWith('|')),
  );
  return table.slice(2).map((l) =>
    l
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim()),
  );
}

const int = (text: string): bigint => BigInt(text.replaceAll(',', ''));

describe('the seed scenario’s linked persons (default demo seed)', () => {
  it('no citizen id repeats within one agency’s file', async () => {
    for (const d of DATASETS)
      for (const [file] of agencyFiles(d)) {
        const rows = await duck(
          `SELECT COALESCE(MAX(n), 0) FROM (SELECT citizen_id, COUNT(*) AS n FROM read_csv('${file}', header = true, all_varchar = true) GROUP BY citizen_id)`,
        );
        expect(Number(rows[0]?.[0]), file).toBe(1);
      }
  });

  it('registered migrants with no social-insurance record, by district: JavaScript = DuckDB = docs', async () => {
    const plan = parseJoinQuery(DEMO_ANTI_JOIN_SQL, schema);
    const policy = { minAgencies: 1, minGroupSize: 1, exactRelease: true, transparencyLog: false };
    const js = await joinReferenceRows(plan, schema, filesOf(DEMO_ANTI_JOIN_SQL), policy);
    expect(js.maxRowsPerId).toBe(1);
    const counted = new Map(js.rows.map((r) => [String(r['district']), r['without_insurance_record']]));
    const sql = await duck(
      `SELECT r.district, COUNT(*) FROM ${csv('residence_registrations')} r WHERE NOT EXISTS (SELECT 1 FROM ${csv('social_insurance')} s WHERE s.citizen_id = r.citizen_id) GROUP BY r.district`,
    );
    expect(new Map(sql.map(([d, n]) => [String(d), BigInt(n as bigint)]))).toEqual(counted);
    // The HR bureaus hold exactly the employed, so the unmatched registrations are the not employed.
    const notEmployed = await duck(
      `SELECT district, COUNT(*) FROM ${csv('residence_registrations')} WHERE sector = '未就业' GROUP BY district`,
    );
    expect(new Map(notEmployed.map(([d, n]) => [String(d), BigInt(n as bigint)]))).toEqual(counted);
    const documented = docsTable('linked-anti-join');
    expect(documented.map(([d, n]) => [d, int(n ?? '')])).toEqual(
      js.rows.map((r) => [r['district'], r['without_insurance_record']]),
    );
  });

  it('insured workers with a rental filing and their average rent, by sector: JavaScript = DuckDB = docs', async () => {
    const plan = parseJoinQuery(DEMO_INNER_JOIN_SQL, schema);
    const policy = { minAgencies: 1, minGroupSize: 1, exactRelease: true, transparencyLog: false };
    const js = await joinReferenceRows(plan, schema, filesOf(DEMO_INNER_JOIN_SQL), policy);
    expect(js.maxRowsPerId).toBe(1);
    const sql = await duck(
      `SELECT s.sector, COUNT(*), SUM(CAST(r.monthly_rent AS BIGINT)) FROM ${csv('social_insurance')} s JOIN ${csv('rental_filings')} r ON s.citizen_id = r.citizen_id WHERE s.insured = '是' GROUP BY s.sector`,
    );
    const bySector = new Map(
      sql.map(([s, n, sum]) => [String(s), { n: BigInt(n as bigint), sum: BigInt(sum as bigint) }]),
    );
    expect(js.rows.length).toBe(bySector.size);
    for (const r of js.rows) {
      const d = bySector.get(String(r['sector']));
      expect(r['insured_renters']).toBe(d?.n);
      expect(r['avg_monthly_rent']).toBeCloseTo(Number(d?.sum ?? 0n) / Number(d?.n ?? 1n), 9);
    }
    const documented = docsTable('linked-inner-join');
    expect(documented.map(([s, n, avg]) => [s, int(n ?? ''), avg])).toEqual(
      js.rows.map((r) => [r['sector'], r['insured_renters'], (r['avg_monthly_rent'] as number).toFixed(2)]),
    );
  });
});
