/**
 * `fedstat query` on linked records, through the built CLI against agency processes (two per
 * dataset, each serving one): --explain of a join, a join released as JSON and as a table, equal
 * to the plaintext join of the agencies' files, and the join refusals and flags as exit codes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { freePorts } from '../../src/demo/free-port.js';
import { joinReferenceRows } from '../../src/demo/join-reference.js';
import type { ResultRow } from '../../src/coordinator/release.js';
import { loadFederation } from '../../src/federation/federation.js';
import { parseJoinQuery } from '../../src/query/parse-join.js';

const exec = promisify(execFile);

async function fedstat(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cliPath(), ...args], { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const SCHEMA = {
  datasets: {
    registrations: {
      columns: {
        citizen_id: { type: 'id', format: 'text' },
        district: { type: 'category', values: ['锦江区', '青羊区'] },
      },
    },
    insurance: {
      columns: {
        citizen_id: { type: 'id', format: 'text' },
        income: { type: 'integer', min: 0, max: 10000 },
      },
    },
  },
};
const AGENCIES = { r1: 'registrations', r2: 'registrations', s1: 'insurance', s2: 'insurance' } as const;
const ANTI =
  'SELECT r.district, COUNT(*) AS uninsured FROM registrations r WHERE NOT EXISTS (SELECT 1 FROM insurance s WHERE s.citizen_id = r.citizen_id) GROUP BY r.district';
const INNER =
  'SELECT r.district, COUNT(*) AS n, AVG(s.income) AS income FROM registrations r JOIN insurance s ON r.citizen_id = s.citizen_id GROUP BY r.district';

let dir: string;
let fed: string;
const files: Record<string, string> = {};
const agencies: AgencyProcess[] = [];

function csv(id: keyof typeof AGENCIES, i: number): string {
  const lines = AGENCIES[id] === 'registrations' ? ['citizen_id,district'] : ['citizen_id,income'];
  for (let k = 0; k < 30; k++) {
    const person = i * 20 + k + (AGENCIES[id] === 'insurance' ? 10 : 0);
    lines.push(
      AGENCIES[id] === 'registrations'
        ? `p${person},${person % 3 === 0 ? '锦江区' : '青羊区'}`
        : `p${person},${(person * 37) % 10000}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-cli-join-'));
  writeFileSync(join(dir, 'schema.json'), JSON.stringify(SCHEMA));
  const ids = Object.keys(AGENCIES) as (keyof typeof AGENCIES)[];
  const ports = await freePorts(ids.length);
  const init = await fedstat(
    'init',
    '--out',
    join(dir, 'fed'),
    '--schema',
    join(dir, 'schema.json'),
    ...ids.flatMap((id, i) => ['--agency', `${id}=127.0.0.1:${ports[i]}`]),
    '--min-agencies',
    '1',
    '--min-group-size',
    '1',
    '--exact-release',
  );
  expect(init.code).toBe(0);
  fed = join(dir, 'fed', 'federation.json');
  for (const [i, id] of ids.entries()) {
    files[id] = join(dir, `${id}.csv`);
    writeFileSync(files[id], csv(id, i % 2));
  }
  for (const id of ids)
    agencies.push(
      await startAgencyProcess({
        id,
        federationFile: fed,
        keyFile: join(dir, 'fed', 'keys', `${id}.key`),
        datasets: { [AGENCIES[id]]: files[id] ?? '' },
      }),
    );
}, 120_000);

afterAll(async () => {
  await Promise.all(agencies.map((a) => a.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function expected(sql: string): Promise<ResultRow[]> {
  const federation = loadFederation(fed);
  const ref = await joinReferenceRows(
    parseJoinQuery(sql, federation.schema),
    federation.schema,
    { left: [[files['r1'] ?? ''], [files['r2'] ?? '']], right: [[files['s1'] ?? ''], [files['s2'] ?? '']] },
    federation.policy,
  );
  return ref.rows;
}

describe('fedstat query on linked records', () => {
  it('--explain shows the join plan, its costs and sensitivity without contacting agencies', async () => {
    const r = await fedstat('query', '--federation', fed, '--explain', '--rho', '0.1', ANTI);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/join: anti-join \(NOT EXISTS\) of registrations and insurance/);
    expect(r.stdout).toMatch(/per id linked: 1 hash, 2 scalar multiplications/);
    // The federation lets every agency serve either dataset: without discovery all four count.
    expect(r.stdout).toMatch(/sensitivity: one record is part of at most 4 joined records/);
    const j = JSON.parse((await fedstat('query', '--federation', fed, '--explain', '--json', INNER)).stdout) as {
      join: { kind: string; multiplying: string; components: Record<string, number> };
    };
    expect(j.join.kind).toBe('inner');
    expect(j.join.components).toEqual({ left: 2, right: 2 });
  });

  it('a join released as JSON and as a table equals the plaintext join of the files', async () => {
    const r = await fedstat('query', '--federation', fed, '--json', INNER);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { rows: ResultRow[]; linkage: { sides: Record<string, { linked: string[] }> } };
    expect(doc.linkage.sides['left']?.linked).toEqual(['r1', 'r2']);
    expect(doc.linkage.sides['right']?.linked).toEqual(['s1', 's2']);
    // JSON numbers against the reference's bigints and numbers: compare their decimal text.
    const text = (rows: readonly ResultRow[]): string[][] =>
      rows.map((row) =>
        Object.entries(row).map(
          ([k, v]) => `${k}=${typeof v === 'number' ? String(Number(v.toPrecision(12))) : String(v)}`,
        ),
      );
    expect(text(doc.rows)).toEqual(text(await expected(INNER)));
    const table = await fedstat('query', '--federation', fed, ANTI);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/linked records: registrations 2 agencies ⋈ insurance 2 agencies/);
    for (const row of await expected(ANTI)) expect(table.stdout).toContain(String(row['district']));
  }, 120_000);

  it('refuses other join spellings and bad flags with the fix', async () => {
    const anti = await fedstat(
      'query',
      '--federation',
      fed,
      'SELECT COUNT(*) FROM registrations r LEFT ANTI JOIN insurance s ON r.citizen_id = s.citizen_id',
    );
    expect(anti.code).toBe(4);
    expect(anti.stderr).toMatch(/NOT EXISTS \(SELECT 1 FROM/);
    const flag = await fedstat('query', '--federation', fed, '--max-rows-per-id', '0', INNER);
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toMatch(/--max-rows-per-id must be an integer from 1 to 64/);
  });
});
