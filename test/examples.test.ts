/**
 * The examples run as users would run them: compiled, as separate processes, against a small
 * federation of three public-security bureaus seeded from the sichuan scenario.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../src/demo/free-port.js';
import { referenceRows } from '../src/demo/reference.js';
import { datasetSchemaOf } from '../src/federation/federation.js';
import { initFederation, readSchemaFile, type InitResult } from '../src/federation/init.js';
import { isNetworkDocument, parseTrainedModel, scoreTrained } from '../src/learn/trained-model.js';
import { parseQuery } from '../src/query/parse.js';
import { generateScenario } from '../src/seed/generate.js';
import { packageRoot } from '../src/util/package-root.js';

const run = promisify(execFile);
const example = (name: string): string => join(packageRoot(), 'dist', 'examples', `${name}.js`);
const BUREAUS = ['cd-psb', 'my-psb', 'dy-psb'];

let dir: string;
let init: InitResult;
let csv: Record<string, string>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-examples-'));
  const manifest = await generateScenario({
    scenario: 'sichuan',
    outDir: join(dir, 'data'),
    rows: 400,
    seed: 'examples',
    agencies: BUREAUS,
  });
  csv = Object.fromEntries(
    manifest.agencies.map((a) => [a.id, join(dir, 'data', a.datasets['residence_registrations']!.file)]),
  );
  const ports = await freePorts(BUREAUS.length);
  init = await initFederation({
    outDir: join(dir, 'fed'),
    schema: readSchemaFile(join(dir, 'data', manifest.schemaFile)),
    agencies: BUREAUS.map((id, i) => ({ id, endpoint: `127.0.0.1:${ports[i]}` })),
    policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true },
  });
  await Promise.all(
    BUREAUS.map(
      (id) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              example('embedded-agency'),
              '--federation',
              init.federationFile,
              '--key',
              init.keyFiles[id]!,
              '--data',
              `residence_registrations=${csv[id]}`,
              '--db',
              join(dir, `${id}.duckdb`),
              '--budget',
              'residence_registrations=1',
              '--ledger',
              join(dir, `${id}.ledger`),
            ],
            { stdio: ['ignore', 'pipe', 'inherit'] },
          );
          children.push(child);
          child.once('exit', (code) => reject(new Error(`embedded agency ${id} exited with ${code}`)));
          createInterface({ input: child.stdout }).on('line', (line) => {
            if (line.includes('"event":"ready"')) resolve();
          });
        }),
    ),
  );
});

afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('examples', () => {
  it('the embedded agencies answer and the coordinator script prints the cross-region result', async () => {
    const { stdout } = await run(process.execPath, [
      example('cross-region-query'),
      '--federation',
      init.federationFile,
    ]);
    expect(stdout).toMatch(/3 bureaus answered \(cd-psb, dy-psb, my-psb\)/);
    const sql =
      'SELECT city, COUNT(*) AS long_term, AVG(age) AS avg_age FROM residence_registrations WHERE months_resident >= 6 GROUP BY city';
    const plan = parseQuery(sql, init.federation.schema);
    const expected = await referenceRows(
      plan,
      datasetSchemaOf(init.federation, plan.dataset),
      BUREAUS.map((id) => csv[id]!),
      init.federation.policy,
    );
    for (const row of expected.rows) {
      expect(stdout).toContain(
        `${String(row['city'])}\t${String(row['long_term'])}\t${Number(row['avg_age']).toFixed(1)}`,
      );
    }
    expect(stdout).toMatch(/province: \d+ of \d+ registered migrants/);
    // The private table: one line per city, each released count inside its own 95 % interval.
    expect(stdout).toMatch(/privacy: rho 0\.05 per bureau, \([\d.]+, 1e-9\)-DP/);
    const noisy = [...stdout.matchAll(/^(.+)\t(\d+)\t\[(\d+), (\d+)\]$/gmu)];
    expect(noisy.map((m) => m[1]).sort()).toEqual(expected.rows.map((r) => String(r['city'])).sort());
    for (const m of noisy) expect(Number(m[3]) <= Number(m[2]) && Number(m[2]) <= Number(m[4])).toBe(true);
  });

  it('the federated-learning script prints both learning curves, ε rising, and writes a MODEL.json predict reads', async () => {
    const out = join(dir, 'model.json');
    const { stdout } = await run(process.execPath, [
      example('federated-learning'),
      '--federation',
      init.federationFile,
      '--out',
      out,
    ]);
    const [exact = '', dp = ''] = stdout.split(/^private: .*$/mu);
    // One line per round: 6 training rounds and the evaluation round, numbered 1..7.
    const rows = (text: string): string[][] =>
      [...text.matchAll(/^ *(\d+) +(\S+) +(\S+) +(\S+) +(\S+)$/gmu)].map((m) => m.slice(1));
    expect(rows(exact).map((r) => r[0])).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    for (const r of rows(exact)) expect(r[4]).toBe('—');
    expect(stdout).toMatch(/^private: rho 0\.5 per bureau over 7 rounds, \([\d.]+, 1e-9\)-DP$/mu);
    const epsilons = rows(dp).map((r) => Number(r[4]));
    expect(rows(dp).map((r) => r[0])).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    for (let i = 1; i < epsilons.length; i++) expect(epsilons[i]).toBeGreaterThan(epsilons[i - 1]!);
    const model = parseTrainedModel(readFileSync(out, 'utf8'), out);
    if (!isNetworkDocument(model)) throw new Error('expected a network MODEL.json');
    expect(model.dataset).toBe('residence_registrations');
    expect(model.privacy?.rounds).toBe(7);
    expect(Number(model.privacy?.epsilon.toFixed(2))).toBe(epsilons.at(-1));
    // fedstat predict scores a record with it: a probability.
    const p = scoreTrained(model, { sector: '制造业', age: 30, sex: '男', months_resident: 12 }).fitted;
    expect(p > 0 && p < 1).toBe(true);
  });
});
