/**
 * One ρ through the built CLI: `--budget` and `--rho` take the same grammar (decimals and
 * fractions both), a ρ written as 1/40 or as 0.025 is the same charge, stored as the same
 * canonical "1/40" in every agency's ledger and in the log, and shown as 0.025; a bad ρ is one
 * line naming the flag, the problem and the fix.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { freePorts } from '../../src/demo/free-port.js';
import { runCli } from '../helpers/run-cli.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function fedstat(...args: string[]): Promise<Run> {
  const r = await runCli(args);
  return { code: r.code, stdout: r.out, stderr: r.err };
}

const SCHEMA = {
  datasets: {
    residents: {
      columns: {
        district: { type: 'category', values: ['锦江区', '青羊区'] },
        age: { type: 'integer', min: 0, max: 120 },
      },
    },
  },
};
const csv = (n: number): string =>
  `district,age\n${Array.from({ length: n }, (_, i) => `${i % 3 === 0 ? '青羊区' : '锦江区'},${20 + i}`).join('\n')}\n`;

let dir: string;
let fed: string;
const agencies: AgencyProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-rho-cli-'));
  writeFileSync(join(dir, 'schema.json'), JSON.stringify(SCHEMA));
  const ports = await freePorts(3);
  const init = await fedstat(
    'init',
    '--out',
    join(dir, 'fed'),
    '--schema',
    join(dir, 'schema.json'),
    ...['a', 'b', 'c'].flatMap((id, i) => ['--agency', `${id}=127.0.0.1:${ports[i]}`]),
    '--min-agencies',
    '2',
    '--min-group-size',
    '5',
  );
  expect(init.code).toBe(0);
  fed = join(dir, 'fed', 'federation.json');
  for (const [i, id] of ['a', 'b', 'c'].entries()) {
    writeFileSync(join(dir, `${id}.csv`), csv(20 + i));
    agencies.push(
      await startAgencyProcess({
        id,
        federationFile: fed,
        keyFile: join(dir, 'fed', 'keys', `${id}.key`),
        datasets: { residents: join(dir, `${id}.csv`) },
        // Each agency writes its budget its own way: the same value.
        extraArgs: ['--budget', `residents=${['1/4', '0.25', '25e-2'][i]}`, '--ledger', join(dir, `${id}.ledger`)],
      }),
    );
  }
});

afterAll(async () => {
  await Promise.all(agencies.map((a) => a.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('one ρ through the CLI', () => {
  it('query --rho 1/40 spends the same ρ as --rho 0.025: "1/40" in the ledgers and the log, 0.025 on screen', async () => {
    const tlog = join(dir, 'rho.tlog');
    const r = await fedstat(
      'query',
      '--federation',
      fed,
      '--json',
      '--rho',
      '1/40',
      '--transparency-log',
      tlog,
      'SELECT COUNT(*) AS n FROM residents',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { privacy: { rho: string } }).privacy.rho).toBe('0.025');
    const human = await fedstat(
      'query',
      '--federation',
      fed,
      '--rho',
      '0.025',
      '--transparency-log',
      tlog,
      'SELECT COUNT(*) AS n FROM residents',
    );
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/differential privacy: rho 0\.025 spent at each agency/);

    const budget = JSON.parse((await fedstat('budget', '--federation', fed, '--json')).stdout) as {
      agencies: { budgets: unknown[] }[];
    };
    for (const a of budget.agencies)
      expect(a.budgets).toEqual([
        { dataset: 'residents', budget: '0.25', spent: '0.05', remaining: '0.2', charges: 2 },
      ]);
    for (const id of ['a', 'b', 'c']) {
      const charges = readFileSync(join(dir, `${id}.ledger`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { rho?: string })
        .filter((e) => e.rho !== undefined);
      expect(charges.map((c) => c.rho)).toEqual(['1/40', '1/40']);
    }
    const verify = await fedstat('audit', 'verify', tlog, '--federation', fed, '--json');
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, counts: { budget: 6 } });
    const shown = await fedstat('audit', 'show', tlog, '--federation', fed, '--agency', 'a');
    expect(shown.stdout).toMatch(/charged rho 0\.025 on residents: spent 0\.05 of 0\.25/);
  });

  it('a bad --rho or --budget is one line naming the flag, the problem and the fix', async () => {
    const bad: [string[], number, RegExp][] = [
      [
        ['query', '--federation', fed, '--rho', '1/3', 'SELECT COUNT(*) FROM residents'],
        4,
        /^fedstat: --rho 1\/3 is not a decimal of at most 12 places; give a fraction whose denominator divides 10\^12, such as --rho 1\/40$/,
      ],
      [
        ['query', '--federation', fed, '--rho', '1/0', 'SELECT COUNT(*) FROM residents'],
        4,
        /^fedstat: --rho has a zero denominator; write a fraction like --rho 1\/40$/,
      ],
      [
        ['query', '--federation', fed, '--rho', 'abc', 'SELECT COUNT(*) FROM residents'],
        4,
        /^fedstat: --rho is not a decimal number; write it like --rho 0\.05$/,
      ],
      [
        [
          'agency',
          'serve',
          '--federation',
          fed,
          '--key',
          join(dir, 'fed', 'keys', 'a.key'),
          '--dataset',
          `residents=${join(dir, 'a.csv')}`,
          '--budget',
          'residents=1/0',
          '--ledger',
          join(dir, 'never.ledger'),
        ],
        3,
        /^fedstat: --budget residents has a zero denominator; write a fraction like --budget residents=1\/40$/,
      ],
    ];
    for (const [args, code, message] of bad) {
      const r = await fedstat(...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr.trim()).toMatch(message);
    }
  });
});
