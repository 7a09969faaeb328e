/**
 * The CLI exactly as documented, as separate processes, against CSV files the seeds did not
 * produce: init → agency serve → query (table and --json), and the error contract (one line, the
 * documented exit code).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { freePorts } from '../../src/demo/free-port.js';

const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function fedstat(...args: string[]): Promise<Run> {
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
    residents: {
      columns: {
        district: { type: 'category', values: ['锦江区', '青羊区'] },
        age: { type: 'integer', min: 0, max: 120 },
        income: { type: 'integer', min: 0, max: 2_000_000 },
      },
    },
  },
};

// Hand-written data: 锦江区 has 12+10+11 rows, 青羊区 has 3+4+2 (below minGroupSize 10 in total? no: 9).
function rows(jinjiang: number, qingyang: number, base: number): string {
  const out = ['age,district,income']; // columns in another order than the schema
  for (let i = 0; i < jinjiang; i++) out.push(`${20 + ((i + base) % 50)},锦江区,${1000 * (i + base)}`);
  for (let i = 0; i < qingyang; i++) out.push(`${30 + i},青羊区,${500 * (i + 1)}`);
  return `${out.join('\r\n')}\r\n`;
}

let dir: string;
let fed: string;
const agencies: AgencyProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-cli-'));
  writeFileSync(join(dir, 'schema.json'), JSON.stringify(SCHEMA));
  writeFileSync(join(dir, 'a.csv'), rows(12, 3, 0));
  writeFileSync(join(dir, 'b.csv'), rows(10, 4, 7));
  writeFileSync(join(dir, 'c.csv'), rows(11, 2, 3));
  const ports = await freePorts(3);
  const init = await fedstat(
    'init',
    '--out',
    join(dir, 'fed'),
    '--schema',
    join(dir, 'schema.json'),
    '--agency',
    `a=127.0.0.1:${ports[0]}`,
    '--agency',
    `b=127.0.0.1:${ports[1]}`,
    '--agency',
    `c=127.0.0.1:${ports[2]}`,
    '--min-agencies',
    '2',
    '--min-group-size',
    '10',
    '--exact-release',
  );
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  expect(init.stdout).toMatch(/key file \(0600, keep secret\)/);
  fed = join(dir, 'fed', 'federation.json');
  for (const id of ['a', 'b', 'c']) {
    agencies.push(
      await startAgencyProcess({
        id,
        federationFile: fed,
        keyFile: join(dir, 'fed', 'keys', `${id}.key`),
        datasets: { residents: join(dir, `${id}.csv`) },
      }),
    );
  }
});

afterAll(async () => {
  await Promise.all(agencies.map((a) => a.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('fedstat CLI', () => {
  it('query --json prints the documented document with exact totals and suppression', async () => {
    const r = await fedstat(
      'query',
      '--federation',
      fed,
      '--json',
      'SELECT district, COUNT(*), SUM(income), AVG(age) AS mean_age FROM residents GROUP BY district',
    );
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      queryId: string;
      rows: Record<string, unknown>[];
      agencies: { answered: string[]; failed: unknown[] };
      suppressed: number;
    };
    expect(doc.queryId).toMatch(/^[0-9a-f]{32}$/);
    expect(doc.agencies).toEqual({ answered: ['a', 'b', 'c'], failed: [] });
    // 青羊区 has 3 + 4 + 2 = 9 rows < minGroupSize 10: withheld and counted.
    expect(doc.suppressed).toBe(1);
    const sumIncome = [...Array(12).keys()]
      .map((i) => 1000 * i)
      .concat(
        [...Array(10).keys()].map((i) => 1000 * (i + 7)),
        [...Array(11).keys()].map((i) => 1000 * (i + 3)),
      )
      .reduce((a, b) => a + b, 0);
    const ages = [...Array(12).keys()]
      .map((i) => 20 + (i % 50))
      .concat(
        [...Array(10).keys()].map((i) => 20 + ((i + 7) % 50)),
        [...Array(11).keys()].map((i) => 20 + ((i + 3) % 50)),
      );
    expect(doc.rows).toEqual([
      { district: '锦江区', count: 33, sum_income: sumIncome, mean_age: ages.reduce((a, b) => a + b, 0) / 33 },
    ]);
  });

  it('query --json names an agency that is down in agencies.failed and reports secure aggregation; the key authority runs as its own service', async () => {
    // A second federation: four agencies (d never starts) and a key authority with an endpoint.
    const ports = await freePorts(5);
    const init = await fedstat(
      'init',
      '--out',
      join(dir, 'fed4'),
      '--schema',
      join(dir, 'schema.json'),
      ...['a', 'b', 'c', 'd'].flatMap((id, i) => ['--agency', `${id}=127.0.0.1:${ports[i]}`]),
      '--key-authority',
      `127.0.0.1:${ports[4]}`,
      '--min-agencies',
      '2',
      '--min-group-size',
      '1',
      '--exact-release',
      '--json',
    );
    expect(init.code).toBe(0);
    const fed4 = join(dir, 'fed4', 'federation.json');
    const keys = join(dir, 'fed4', 'keys');
    const started = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        startAgencyProcess({
          id: `${id}4`,
          federationFile: fed4,
          keyFile: join(keys, `${id}.key`),
          datasets: { residents: join(dir, `${id}.csv`) },
        }),
      ),
    );
    const ka = spawn(
      process.execPath,
      [cliPath(), 'key-authority', 'serve', '--federation', fed4, '--key', join(keys, 'key-authority.key'), '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        ka.stdout.on('data', (b: Buffer) => {
          if (b.toString().includes('listening')) resolve();
        });
        ka.once('exit', (code) => reject(new Error(`key authority exited with ${code}`)));
      });
      // Without the key authority's key file the coordinator can only use the remote service.
      rmSync(join(keys, 'key-authority.key'));
      const r = await fedstat('query', '--federation', fed4, '--json', 'SELECT COUNT(*) AS n FROM residents');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as {
        rows: { n: number }[];
        agencies: { answered: string[]; failed: { id: string; code: string }[] };
        secureAggregation: { threshold: number; survivors: string[]; dropped: string[] };
      };
      expect(doc.rows).toEqual([{ n: 15 + 14 + 13 }]);
      expect(doc.agencies.answered).toEqual(['a', 'b', 'c']);
      expect(doc.agencies.failed.map((f) => [f.id, f.code])).toEqual([['d', 'UNAVAILABLE']]);
      expect(doc.secureAggregation).toMatchObject({ threshold: 3, survivors: ['a', 'b', 'c'], dropped: [] });
    } finally {
      ka.kill('SIGTERM');
      await Promise.all(started.map((p) => p.stop()));
    }
  });

  it('differential privacy: agency --budget/--ledger, query --rho with intervals, budget, query --dry-run, and a policy that refuses exact queries', async () => {
    const ports = await freePorts(3);
    const init = await fedstat(
      'init',
      '--out',
      join(dir, 'feddp'),
      '--schema',
      join(dir, 'schema.json'),
      ...['a', 'b', 'c'].flatMap((id, i) => ['--agency', `${id}=127.0.0.1:${ports[i]}`]),
      '--min-agencies',
      '2',
      '--min-group-size',
      '5',
    );
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/differential privacy required/);
    const feddp = join(dir, 'feddp', 'federation.json');
    const keys = join(dir, 'feddp', 'keys');
    const started = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        startAgencyProcess({
          id: `${id}dp`,
          federationFile: feddp,
          keyFile: join(keys, `${id}.key`),
          datasets: { residents: join(dir, `${id}.csv`) },
          extraArgs: ['--budget', 'residents=0.5', '--ledger', join(dir, `${id}.ledger`)],
        }),
      ),
    );
    try {
      const exact = await fedstat('query', '--federation', feddp, 'SELECT COUNT(*) AS n FROM residents');
      expect(exact.code).toBe(6);
      expect(exact.stderr).toMatch(/requires differential privacy.*--rho/);

      const tlog = join(dir, 'dp.tlog');
      const r = await fedstat(
        'query',
        '--federation',
        feddp,
        '--json',
        '--rho',
        '0.2',
        '--transparency-log',
        tlog,
        'SELECT district, COUNT(*) AS n, AVG(age) AS mean_age FROM residents GROUP BY district',
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as {
        rows: { district: string; n: number; mean_age: number }[];
        uncertainty: Record<string, { stderr: number; ci95: [number, number] }>[];
        privacy: {
          rho: string;
          epsilon: number;
          delta: number;
          threshold: number;
          survivors: number;
          noise: { measure: string }[];
        };
        suppression: { minGroupSize: number; withheld: unknown[] };
      };
      expect(doc.privacy).toMatchObject({ rho: '0.2', delta: 1e-9, threshold: 3, survivors: 3 });
      expect(doc.privacy.noise.map((n) => n.measure)).toEqual(['count', 'age']);
      expect(doc.uncertainty).toHaveLength(doc.rows.length);
      doc.rows.forEach((row, i) => {
        for (const alias of ['n', 'mean_age']) {
          const u = doc.uncertainty[i]![alias]!;
          expect(u.stderr).toBeGreaterThan(0);
          expect(u.ci95[0]).toBeLessThanOrEqual(row[alias as 'n']);
          expect(u.ci95[1]).toBeGreaterThanOrEqual(row[alias as 'n']);
        }
      });
      expect(doc.rows.length + doc.suppression.withheld.length).toBe(2);

      const human = await fedstat(
        'query',
        '--federation',
        feddp,
        '--rho',
        '0.1',
        '--transparency-log',
        tlog,
        'SELECT COUNT(*) AS n FROM residents',
      );
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/n 95% CI/);
      expect(human.stdout).toMatch(/differential privacy: rho 0\.1 spent at each agency/);

      // The auditor's view of the two queries: everything signed, in the log, and within policy.
      const verify = await fedstat('audit', 'verify', tlog, '--federation', feddp, '--json');
      expect(verify.stderr).toBe('');
      expect(verify.code).toBe(0);
      expect(JSON.parse(verify.stdout)).toMatchObject({
        ok: true,
        counts: { query: 2, contribution: 6, budget: 6, release: 2 },
      });
      const shown = await fedstat('audit', 'show', tlog, '--federation', feddp, '--agency', 'a');
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/budget/);

      const budget = await fedstat('budget', '--federation', feddp, '--json');
      expect(budget.code).toBe(0);
      const b = JSON.parse(budget.stdout) as {
        agencies: {
          agency: string;
          budgets: { dataset: string; spent: string; remaining: string; charges: number }[];
        }[];
      };
      expect(b.agencies.map((a) => [a.agency, a.budgets])).toEqual(
        ['a', 'b', 'c'].map((id) => [
          id,
          [{ dataset: 'residents', budget: '0.5', spent: '0.3', remaining: '0.2', charges: 2 }],
        ]),
      );
      expect(JSON.parse(budget.stdout)).toMatchObject({
        agencies: ['a', 'b', 'c'].map((agency) => ({ agency, ledgerFault: null })),
      });
      const table = await fedstat('budget', '--federation', feddp);
      expect(table.stdout).toMatch(/agency\s+dataset\s+budget rho\s+spent\s+remaining\s+queries/);

      const dry = await fedstat(
        'query',
        '--federation',
        feddp,
        '--dry-run',
        '--rho',
        '0.25',
        'SELECT COUNT(*) AS n FROM residents',
      );
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/no: budget exhausted: requested rho 0\.25, remaining 0\.2/);
      expect(dry.stdout).toMatch(/the query would be refused/);
      // The dry run spent nothing; the real query is refused with remaining and requested.
      const over = await fedstat(
        'query',
        '--federation',
        feddp,
        '--rho',
        '0.25',
        '--transparency-log',
        tlog,
        'SELECT COUNT(*) AS n FROM residents',
      );
      expect(over.code).toBe(6);
      expect(over.stderr).toMatch(/requested.*0\.25.*remaining.*0\.2|remaining.*0\.2.*requested.*0\.25/);
      // The agencies hold heads of that log: a coordinator showing them another (fresh) log is refused by all.
      const forked = await fedstat(
        'query',
        '--federation',
        feddp,
        '--rho',
        '0.01',
        '--transparency-log',
        join(dir, 'another.tlog'),
        'SELECT COUNT(*) AS n FROM residents',
      );
      expect(forked.code).toBe(7); // BAD_MESSAGE from every agency: not a policy refusal, a log that is not the one they saw
      expect(forked.stderr).toMatch(/shown another log|forked/);
    } finally {
      await Promise.all(started.map((p) => p.stop()));
    }
  });

  it('--audit-log records the query, the survivor set, the decryption and the release, without record values', async () => {
    const log = join(dir, 'audit.jsonl');
    const r = await fedstat(
      'query',
      '--federation',
      fed,
      '--json',
      '--audit-log',
      log,
      'SELECT district, SUM(income) FROM residents GROUP BY district',
    );
    expect(r.code).toBe(0);
    const queryId = (JSON.parse(r.stdout) as { queryId: string }).queryId;
    const events = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; queryId: string; contributors?: string[] });
    expect(events.map((e) => e.type)).toEqual(['query', 'survivors', 'decryption', 'release']);
    expect(events.every((e) => e.queryId === queryId)).toBe(true);
    expect(events[1]).toMatchObject({ survivors: ['a', 'b', 'c'], dropped: [] });
    expect(events[2]!.contributors).toEqual(['a', 'b', 'c']);
    expect(statSync(log).mode & 0o777).toBe(0o600);
    expect(readFileSync(log, 'utf8')).not.toMatch(/sum_income"?:\s*\d/);
  });

  it('agencies report each contribution (ids only) on their event stream', async () => {
    const r = await fedstat('query', '--federation', fed, '--json', 'SELECT COUNT(*) FROM residents');
    const queryId = (JSON.parse(r.stdout) as { queryId: string }).queryId;
    for (const a of agencies) {
      await expect
        .poll(() => a.events.some((e) => e['event'] === 'contribution' && e['queryId'] === queryId), {
          timeout: 10_000,
        })
        .toBe(true);
    }
  });

  it('--explain shows the layout and the no-wrap proof without contacting agencies', async () => {
    const r = await fedstat(
      'query',
      '--federation',
      fed,
      '--explain',
      'SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/groups: 2; per group: COUNT\(\*\), SUM\(income\)/);
    expect(r.stdout).toMatch(
      /no-wrap proof: with up to 3 contributing agencies every slot total lies in a range of [\d,]+ .* < plain modulus/,
    );
    const noisy = await fedstat(
      'query',
      '--federation',
      fed,
      '--explain',
      '--rho',
      '0.1',
      'SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district',
    );
    expect(noisy.stdout).toMatch(/\(each adding noise within ±[\d,]+ per cell\)/);
    const j = JSON.parse(
      (await fedstat('query', '--federation', fed, '--explain', '--json', 'SELECT COUNT(*) FROM residents')).stdout,
    ) as { ciphertexts: number; worstSlotTotal: number; plainModulus: number };
    expect(j.ciphertexts).toBe(1);
    expect(j.worstSlotTotal).toBeLessThan(j.plainModulus);
  });

  it('prints a table for humans', async () => {
    const r = await fedstat('query', '--federation', fed, 'SELECT COUNT(*) AS residents FROM residents');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/residents\n─+\n\s*42\n/);
    expect(r.stdout).toMatch(/3 agencies/);
  });

  it('malformed SQL: one line with the position, exit 4', async () => {
    const r = await fedstat('query', '--federation', fed, 'SELECT COUNT(* FROM residents');
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/1:\d+/);
  });

  it('unknown column: names the valid ones, exit 4; --json also prints the error object', async () => {
    const r = await fedstat('query', '--federation', fed, '--json', 'SELECT SUM(salary) FROM residents');
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/income/);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('QUERY_INVALID');
  });

  it('a missing federation file is an IO error with the fix, exit 8', async () => {
    const r = await fedstat('query', '--federation', join(dir, 'nope.json'), 'SELECT COUNT(*) FROM residents');
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/cannot read federation file .*nope\.json/);
  });

  it("an agency's key file in place of the coordinator's is a key error with the fix, exit 3", async () => {
    const r = await fedstat(
      'query',
      '--federation',
      fed,
      '--key',
      join(dir, 'fed', 'keys', 'a.key'),
      'SELECT COUNT(*) FROM residents',
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not the coordinator's; pass the coordinator key with --key/);
  });

  it('an out-of-domain CSV value stops the agency with file, line, column and value, exit 5', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'district,age,income\n锦江区,30,100\n锦江区,130,100\n');
    const r = await fedstat(
      'agency',
      'serve',
      '--federation',
      fed,
      '--key',
      join(dir, 'fed', 'keys', 'a.key'),
      '--dataset',
      `residents=${bad}`,
      '--port',
      '0',
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/bad\.csv:3.*age.*130/);
  });

  it('--on-invalid skip loads the valid rows and reports the skipped ones', async () => {
    const bad = join(dir, 'skip.csv');
    writeFileSync(bad, 'district,age,income\n锦江区,30,100\n武侯区,31,100\n锦江区,32,100\n');
    const p = await startAgencyProcess({
      id: 'a-skip',
      federationFile: fed,
      keyFile: join(dir, 'fed', 'keys', 'a.key'),
      datasets: { residents: bad },
      extraArgs: ['--port', '0', '--on-invalid', 'skip'],
    });
    await p.stop();
    expect(p.port).toBeGreaterThan(0);
    expect(p.loads).toHaveLength(1);
    expect(p.loads[0]).toMatchObject({ dataset: 'residents', rowsLoaded: 2, rowsSkipped: 1 });
    expect(p.loads[0]!.invalid[0]).toMatchObject({ line: 3, column: 'district', value: '武侯区' });
  });

  it('seed writes the schema and one CSV per agency dataset, the same bytes for the same seed', async () => {
    const a = await fedstat(
      'seed',
      '--scenario',
      'sichuan',
      '--out',
      join(dir, 'seed-a'),
      '--rows',
      '200',
      '--seed',
      's',
      '--json',
    );
    const b = await fedstat(
      'seed',
      '--scenario',
      'sichuan',
      '--out',
      join(dir, 'seed-b'),
      '--rows',
      '200',
      '--seed',
      's',
    );
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const manifest = JSON.parse(a.stdout) as {
      schemaFile: string;
      agencies: { id: string; datasets: Record<string, { file: string; rows: number }> }[];
    };
    expect(manifest.agencies).toHaveLength(12);
    expect(b.stdout).toMatch(/cd-psb\s+成都市公安局\s+residence_registrations/);
    for (const agency of manifest.agencies) {
      for (const { file } of Object.values(agency.datasets)) {
        expect(readFileSync(join(dir, 'seed-a', file)).equals(readFileSync(join(dir, 'seed-b', file))), file).toBe(
          true,
        );
      }
    }
    expect(readFileSync(join(dir, 'seed-a', manifest.schemaFile), 'utf8')).toMatch(/residence_registrations/);
  });

  it('an unknown scenario names the valid ones, exit 4', async () => {
    const r = await fedstat('seed', '--scenario', 'atlantis', '--out', join(dir, 'seed-x'));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/unknown scenario "atlantis"; valid scenarios: sichuan/);
  });

  it('--help works everywhere', async () => {
    for (const args of [
      ['--help'],
      ['query', '--help'],
      ['agency', 'serve', '--help'],
      ['init', '--help'],
      ['seed', '--help'],
      ['demo', '--help'],
      ['budget', '--help'],
      ['audit', 'verify', '--help'],
      ['predict', '--help'],
    ]) {
      const r = await fedstat(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: fedstat/);
    }
  });

  it('an unknown option is a usage error, exit 2', async () => {
    const r = await fedstat('query', '--federaton', fed, 'SELECT COUNT(*) FROM residents');
    expect(r.code).toBe(2);
  });
});
