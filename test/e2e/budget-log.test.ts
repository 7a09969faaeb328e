/**
 * No budget spent without a log entry, with agencies as real `fedstat agency serve` processes
 * (ledgers, witness files, mTLS) and a federation that requires the transparency log:
 * - a query that fails after agencies charged (an agency killed in round 1, so the threshold is
 *   not reached) still logs every charge it received;
 * - a coordinator process killed in round 1 leaves charges that only the agencies know of: they
 *   keep them (with their signed entries) and hand them to the next coordinator, which logs them
 *   before its own query and returns receipts;
 * - a query bound to fail (--require-all with an agency down) is not sent, so nothing is spent;
 * - a ledger whose folder is removed under a running agency is reported, and charges nothing.
 * After each, the auditor's verification passes and every agency's ledger reconciles with the log.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCoordinator, defaultTransparencyLog } from '../../src/coordinator/connect.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { cliPath, startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { FedstatError } from '../../src/errors.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { openEntry } from '../../src/transparency/log-entry.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { hashLeaf } from '../../src/merkle/merkle-hash.js';
import { runCli, type CliRun } from '../helpers/run-cli.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

const SQL = 'SELECT district, COUNT(*) AS n FROM residents GROUP BY district';
const DP = { privacy: { rho: '0.1' } } as const;
let tf: TestFederation;
let log: string;
const processes = new Map<string, AgencyProcess>();
const ledger = (id: string): string => join(tf.dir, `ledgers-${id}`, `${id}.ledger`);
const witness = (id: string): string => join(tf.dir, `${id}.witness.json`);

async function launch(id: string): Promise<void> {
  mkdirSync(join(tf.dir, `ledgers-${id}`), { recursive: true });
  processes.set(
    id,
    await startAgencyProcess({
      id,
      federationFile: tf.federationFile,
      keyFile: tf.keyFiles[id]!,
      datasets: { residents: tf.csvFiles[id]! },
      extraArgs: ['--budget', 'residents=10', '--ledger', ledger(id), '--log-witness', witness(id)],
    }),
  );
}

function kill(id: string): void {
  processes.get(id)?.kill();
  processes.delete(id);
}

/** A coordinator of this test's federation; the caller closes it (which releases the log). */
async function coordinator(): Promise<Coordinator> {
  const c = await connectCoordinator({ federation: tf.federation });
  for (let i = 0; i < 100; i++) {
    // channels may still back off from an agency that was restarted
    const { described } = await c.discover();
    if (described.length === processes.size) return c;
    await new Promise((r) => setTimeout(r, 100));
  }
  await c.close();
  throw new Error('the agencies do not all answer Describe');
}

/** The auditor's verdict with every agency's ledger reconciled (`fedstat audit verify --ledger`). */
async function audit(): Promise<CliRun> {
  const ledgers = tf.ids.flatMap((id) => ['--ledger', `${id}=${ledger(id)}`]);
  const witnesses = tf.ids.filter((id) => existsSync(witness(id))).flatMap((id) => ['--since', witness(id)]);
  return runCli(['audit', 'verify', log, '--federation', tf.federationFile, ...witnesses, ...ledgers]);
}

/** Budget entries in the log: `${agency} ${queryId}` for each. */
async function loggedCharges(): Promise<string[]> {
  const store = await TransparencyLogStore.open(log, {
    logId: tf.federation.id,
    secretKey: loadKeyFile(tf.keyFiles['coordinator']!, tf.federation).signing.secretKey,
  });
  try {
    const out: string[] = [];
    for await (const { entry } of store.entries()) {
      const { event } = openEntry(entry, tf.federation);
      if (event.type === 'budget') out.push(`${event.agencyId} ${event.queryId}`);
    }
    return out;
  } finally {
    await store.close();
  }
}

/** Whether the log holds every one of `entries`. */
async function allInLog(entries: readonly Uint8Array[]): Promise<boolean> {
  const store = await TransparencyLogStore.open(log, {
    logId: tf.federation.id,
    secretKey: loadKeyFile(tf.keyFiles['coordinator']!, tf.federation).signing.secretKey,
  });
  try {
    return entries.every((e) => store.indexOf(hashLeaf(e)) >= 0);
  } finally {
    await store.close();
  }
}

/** The number of charges in an agency's ledger file (read without its lock: the agency holds it). */
function ledgerCharges(id: string): number {
  return readFileSync(ledger(id), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"seq":')).length;
}

beforeAll(async () => {
  tf = await createTestFederation({
    agencies: 3,
    rowsPerAgency: 60,
    exactRelease: false,
    transparencyLog: true,
    minAgencies: 2,
  });
  log = defaultTransparencyLog(tf.federationFile);
  for (const id of tf.ids) await launch(id);
}, 120_000);

afterAll(async () => {
  for (const p of processes.values()) process.kill(p.pid, 'SIGCONT');
  await Promise.all([...processes.values()].map((p) => p.stop()));
  await tf?.close();
});

describe('every budget charge reaches the transparency log', () => {
  it('a query that fails after agencies charged logs their charges anyway', async () => {
    // Three agencies: the threshold is 3, so one killed in round 1 fails the query after the others charged.
    const c = await coordinator();
    let queryId: string;
    try {
      const e = await c
        .query(SQL, {
          ...DP,
          onProgress: (p) => {
            if (p.phase === 'asked') kill('agency-3');
          },
        })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(FedstatError);
      expect((e as FedstatError).code).toBe('UNAVAILABLE');
      queryId = String((e as FedstatError).details['queryId']);
    } finally {
      await c.close();
    }
    const charged = await loggedCharges();
    expect(charged).toEqual(expect.arrayContaining([`agency-1 ${queryId}`, `agency-2 ${queryId}`]));
    await launch('agency-3');
    const verdict = await audit();
    expect(verdict.err).toBe('');
    expect(verdict.code).toBe(0);
  }, 120_000);

  it('a coordinator killed in round 1: the agencies hand their charges to the next one, which logs them first', async () => {
    const charges = (): number => tf.ids.reduce((n, id) => n + ledgerCharges(id), 0);
    let exercised = false;
    // Kill `fedstat query` the moment the agencies' ledgers show the new charges, before their
    // answers reach it (a race: retried until the agencies are left holding unlogged charges).
    for (let attempt = 0; attempt < 4 && !exercised; attempt++) {
      const before = charges();
      const sizes = (): number => tf.ids.reduce((n, id) => n + statSync(ledger(id)).size, 0);
      const start = sizes();
      const child = spawn(
        process.execPath,
        [cliPath(), 'query', '--federation', tf.federationFile, '--rho', '0.1', '--json', SQL],
        { stdio: 'ignore' },
      );
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      for (let i = 0; i < 20_000 && child.exitCode === null; i++) {
        if (sizes() > start && charges() >= before + 2) break;
        await new Promise((r) => setTimeout(r, 1));
      }
      child.kill('SIGKILL');
      await exited;
      const c = await connectCoordinator({ federation: tf.federation, transparencyLog: false });
      try {
        const { described } = await c.discover();
        exercised = described.some((d) => (d.unloggedEntries ?? []).length > 0);
      } finally {
        await c.close();
      }
    }
    expect(exercised).toBe(true);

    // The next coordinator logs the held charges before its own query, and each agency gets
    // receipts for them; what an agency still holds is that query's own charge, logged after its
    // answer (its receipt comes with the next query).
    const c = await coordinator();
    let held: Uint8Array[];
    try {
      await c.query(SQL, DP);
      const { described } = await c.discover();
      for (const d of described) expect((d.unloggedEntries ?? []).length, d.agencyId).toBeLessThanOrEqual(1);
      held = described.flatMap((d) => d.unloggedEntries ?? []);
    } finally {
      await c.close();
    }
    expect(await allInLog(held)).toBe(true);
    const logged = await loggedCharges();
    expect(logged).toHaveLength(charges());
    expect(new Set(logged).size).toBe(logged.length); // each charge once
    const verdict = await audit();
    expect(verdict.err).toBe('');
    expect(verdict.code).toBe(0);
  }, 180_000);

  it('a query bound to fail is not sent: --require-all with an agency down spends nothing', async () => {
    const before = tf.ids.map(ledgerCharges);
    process.kill(processes.get('agency-2')!.pid, 'SIGSTOP'); // hung, not dead
    const c = await connectCoordinator({ federation: tf.federation, describeDeadlineMs: 1_000 });
    try {
      const e = await c.query(SQL, { ...DP, requireAll: true }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(FedstatError);
      expect((e as FedstatError).message).toMatch(/not sent, nothing spent: --require-all, but agency-2/);
    } finally {
      await c.close();
      process.kill(processes.get('agency-2')!.pid, 'SIGCONT');
    }
    expect(tf.ids.map(ledgerCharges)).toEqual(before);
  }, 60_000);

  it('a ledger whose folder is removed under a running agency is reported, and charges nothing', async () => {
    rmSync(join(tf.dir, 'ledgers-agency-1'), { recursive: true, force: true });
    const c = await coordinator();
    try {
      const { described } = await c.discover();
      expect(described.find((d) => d.agencyId === 'agency-1')?.ledgerFault).toMatch(
        /was removed while the agency was running/,
      );
      const dry = await c.dryRun(SQL, DP);
      expect(dry.prediction.agencies.find((a) => a.id === 'agency-1')?.refusal).toMatch(
        /its budget ledger cannot charge: .*restart the agency/,
      );
      const e = await c.query(SQL, DP).catch((x: unknown) => x);
      expect((e as FedstatError).message).toMatch(
        /not sent, nothing spent: 2 agencies would answer, the policy needs at least 3; agency-1 \(its budget ledger cannot charge/,
      );
    } finally {
      await c.close();
    }
    // `fedstat budget` shows the fault, in its table and in --json.
    const table = await runCli(['budget', '--federation', tf.federationFile]);
    expect(table.out).toMatch(
      /fault: agency agency-1 cannot charge its budget: budget ledger .* was removed while the agency was running/,
    );
    const json = JSON.parse((await runCli(['budget', '--federation', tf.federationFile, '--json'])).out) as {
      agencies: { agency: string; ledgerFault: string | null }[];
    };
    expect(json.agencies.map((a) => [a.agency, a.ledgerFault !== null])).toEqual([
      ['agency-1', true],
      ['agency-2', false],
      ['agency-3', false],
    ]);
  }, 60_000);
});
