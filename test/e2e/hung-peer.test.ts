/**
 * A hung peer, not a dead one: with an agency or the key authority stopped (SIGSTOP: its port
 * still accepts connections, it never answers), `fedstat query`, `query --dry-run` and `budget`
 * print their result or error after the deadline and then exit, within a small bound. And a
 * server stops on SIGTERM within its grace period even with hung clients connected to it.
 * Every party is a real process (built CLI, mTLS on 127.0.0.1, DuckDB, the transparency log).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { tlsMaterial } from '../../src/transport/credentials.js';
import { SHUTDOWN_GRACE_MS } from '../../src/transport/listen.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

/** The commands' --deadline: short, so that each case takes a few seconds. */
const DEADLINE_MS = 1_500;
/** A command's process must end within this after its last output. */
const EXIT_BOUND_MS = 2_000;
/** Hard stop of a command that does not exit (the bug): far beyond any bound asserted here. */
const KILL_AFTER_MS = 30_000;
const SQL = 'SELECT district, COUNT(*) AS n FROM residents GROUP BY district';

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly totalMs: number;
  /** From the last byte the command printed to its exit. */
  readonly exitAfterOutputMs: number;
}

/**
 * Runs the built CLI as its own process, with --verbose so that its exit guard says when it had
 * to end the process (src/cli/exit-guard.ts); SIGKILLs it after KILL_AFTER_MS.
 */
function fedstat(...args: string[]): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cliPath(), '--verbose', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let lastOutput = t0;
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    lastOutput = performance.now();
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    lastOutput = performance.now();
  });
  const kill = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      const end = performance.now();
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr, totalMs: end - t0, exitAfterOutputMs: end - lastOutput });
    });
  });
}

interface KeyAuthorityProcess {
  readonly pid: number;
  readonly port: number;
  /** SIGTERM; resolves with the exit code (SIGKILL after 10 s: null). */
  stop(): Promise<number | null>;
}

async function startKeyAuthorityProcess(federationFile: string, keyFile: string): Promise<KeyAuthorityProcess> {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    [cliPath(), 'key-authority', 'serve', '--federation', federationFile, '--key', keyFile, '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /"event":"listening".*"port":(\d+)/.exec(out);
      if (m !== null) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`key authority exited with ${code}: ${stderr}`)));
  });
  child.stdout.resume();
  return {
    pid: child.pid!,
    port,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(force);
      return code;
    },
  };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

let tf: TestFederation;
let fedFile: string;
const agencies = new Map<string, AgencyProcess>();
let keyAuthority: KeyAuthorityProcess | undefined;
/** How long a query takes with every peer up (this machine, now). */
let baselineMs: number;

const GUARD_FIRED = /exiting \d+ ms after the command finished; still open/;

/**
 * A stopped peer may cost a command its deadline (once per round it is asked in), never more, and
 * the process ends right after its output: by itself, having closed everything it opened, unless
 * `guard` (a connection grpc-js cannot close: then the exit guard ends it).
 */
function expectPromptExit(r: Run, deadlines = 1, guard = false): void {
  expect(r.signal, `killed after ${KILL_AFTER_MS} ms: the process never exited\n${r.stderr}`).toBeNull();
  expect(r.exitAfterOutputMs).toBeLessThan(EXIT_BOUND_MS);
  expect(r.totalMs).toBeLessThan(baselineMs + deadlines * DEADLINE_MS + 4_000);
  if (guard) expect(r.stderr).toMatch(GUARD_FIRED);
  else expect(r.stderr, 'something the command opened was left open').not.toMatch(GUARD_FIRED);
}

beforeAll(async () => {
  tf = await createTestFederation({
    agencies: 3,
    rowsPerAgency: 60,
    exactRelease: false,
    transparencyLog: true,
    remoteKeyAuthority: true,
  });
  fedFile = tf.federationFile;
  const [started, ka] = await Promise.all([
    Promise.all(
      tf.ids.map((id) =>
        startAgencyProcess({
          id,
          federationFile: fedFile,
          keyFile: tf.keyFiles[id]!,
          datasets: { residents: tf.csvFiles[id]! },
          extraArgs: ['--budget', 'residents=100', '--ledger', join(tf.dir, `${id}.ledger`)],
        }),
      ),
    ),
    startKeyAuthorityProcess(fedFile, tf.keyFiles['key-authority']!),
  ]);
  for (const a of started) agencies.set(a.id, a);
  keyAuthority = ka;
  // With every peer up: the query works, and its duration is the baseline of the bounds below.
  const r = await fedstat(
    'query',
    '--federation',
    fedFile,
    '--rho',
    '0.1',
    '--deadline',
    String(DEADLINE_MS),
    '--json',
    SQL,
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  baselineMs = r.totalMs;
}, 120_000);

afterAll(async () => {
  // Stopped processes first get SIGCONT, or SIGTERM would wait for them forever.
  for (const a of agencies.values()) signal(a.pid, 'SIGCONT');
  if (keyAuthority !== undefined) signal(keyAuthority.pid, 'SIGCONT');
  await Promise.all([...[...agencies.values()].map((a) => a.stop()), keyAuthority?.stop()]);
  await tf?.close();
}, 60_000);

describe('an agency stopped with SIGSTOP', () => {
  const stopped = 'agency-3';
  beforeAll(() => {
    signal(agencies.get(stopped)!.pid, 'SIGSTOP');
  });
  afterAll(() => {
    signal(agencies.get(stopped)!.pid, 'SIGCONT');
  });

  it('query releases over the other agencies, names the stopped one, and exits', async () => {
    const r = await fedstat(
      'query',
      '--federation',
      fedFile,
      '--rho',
      '0.1',
      '--deadline',
      String(DEADLINE_MS),
      '--json',
      SQL,
    );
    expectPromptExit(r);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { agencies: { answered: string[]; failed: { id: string; code: string }[] } };
    expect(doc.agencies.answered).toEqual(['agency-1', 'agency-2']);
    expect(doc.agencies.failed.map((f) => [f.id, f.code])).toEqual([[stopped, 'UNAVAILABLE']]);
  });

  it('query --dry-run shows it unreachable and exits', async () => {
    const r = await fedstat(
      'query',
      '--federation',
      fedFile,
      '--rho',
      '0.1',
      '--deadline',
      String(DEADLINE_MS),
      '--dry-run',
      SQL,
    );
    expectPromptExit(r);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/agency-3\s+no: unreachable: agency agency-3 did not answer before the deadline/);
    expect(r.stdout).toMatch(/2 agencies would answer/);
  });

  it('budget lists it as unreachable and exits', async () => {
    const r = await fedstat('budget', '--federation', fedFile, '--deadline', String(DEADLINE_MS), '--json');
    expectPromptExit(r);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { agencies: { agency: string }[]; unreachable: { id: string; code: string }[] };
    expect(doc.agencies.map((a) => a.agency)).toEqual(['agency-1', 'agency-2']);
    expect(doc.unreachable.map((u) => [u.id, u.code])).toEqual([[stopped, 'UNAVAILABLE']]);
  });
});

describe('the key authority (its own service) stopped with SIGSTOP', () => {
  beforeAll(() => {
    signal(keyAuthority!.pid, 'SIGSTOP');
  });
  afterAll(() => {
    signal(keyAuthority!.pid, 'SIGCONT');
  });

  it('query fails with the network exit code naming the key authority, and exits', async () => {
    const r = await fedstat('query', '--federation', fedFile, '--rho', '0.1', '--deadline', String(DEADLINE_MS), SQL);
    // Asked at most twice (before round 1, and to decrypt), each time within the deadline: never its 60 s default.
    expectPromptExit(r, 2);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^fedstat: .*key authority/m);
  });

  it('query --dry-run and budget, which never ask it, are not held by it', async () => {
    const dry = await fedstat(
      'query',
      '--federation',
      fedFile,
      '--rho',
      '0.1',
      '--deadline',
      String(DEADLINE_MS),
      '--dry-run',
      SQL,
    );
    expectPromptExit(dry, 0);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/3 agencies would answer/);
    const budget = await fedstat('budget', '--federation', fedFile, '--deadline', String(DEADLINE_MS));
    expectPromptExit(budget, 0);
    expect(budget.code).toBe(0);
  });
});

describe('an agency whose accept queue is full (a hung peer that the kernel stops answering: SYNs dropped)', () => {
  // grpc-js opens the TCP connection with no timeout and nothing can close it: the commands' exit
  // guard (src/cli/exit-guard.ts) ends the process once the command is done.
  const id = 'agency-3';
  let hung: ChildProcessByStdio<null, Readable, Readable> | undefined;
  const fillers: Socket[] = [];

  beforeAll(async () => {
    const port = Number(tf.federation.parties.find((p) => p.id === id)!.endpoint!.split(':')[1]);
    await agencies.get(id)!.stop();
    agencies.delete(id);
    hung = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer().listen({ host: '127.0.0.1', port: ${port}, backlog: 1 }, () => { console.log('listening'); process.kill(process.pid, 'SIGSTOP'); })`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      hung!.stdout.once('data', () => resolve());
      hung!.once('exit', (code) => reject(new Error(`the hung listener exited with ${code}`)));
    });
    // Fill its accept queue until a connection attempt no longer completes.
    for (let i = 0; i < 16; i++) {
      const s = tcpConnect(port, '127.0.0.1');
      s.on('error', () => undefined);
      fillers.push(s);
      const connected = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 300);
        s.once('connect', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!connected) return;
    }
    throw new Error('the accept queue of the hung listener never filled');
  });

  afterAll(() => {
    for (const s of fillers) s.destroy();
    if (hung?.pid !== undefined) {
      signal(hung.pid, 'SIGCONT');
      signal(hung.pid, 'SIGKILL');
    }
  });

  it('budget lists it as unreachable and exits', async () => {
    const r = await fedstat('budget', '--federation', fedFile, '--deadline', String(DEADLINE_MS), '--json');
    expectPromptExit(r, 1, true);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { unreachable: { id: string; code: string }[] };
    expect(doc.unreachable.map((u) => [u.id, u.code])).toEqual([[id, 'UNAVAILABLE']]);
  });
});

describe('servers with hung clients connected', () => {
  /** A client that connects and says nothing, and one that completes the mTLS handshake (as the coordinator) and then says nothing. */
  async function hungClients(port: number): Promise<Socket[]> {
    const raw = tcpConnect(port, '127.0.0.1');
    const m = tlsMaterial(tf.federation, loadKeyFile(tf.keyFiles['coordinator']!, tf.federation));
    const handshaken = tlsConnect({
      port,
      host: '127.0.0.1',
      ca: m.caPem,
      cert: m.certificatePem,
      key: m.privateKeyPem,
      servername: 'x',
      checkServerIdentity: () => undefined,
      ALPNProtocols: ['h2'],
    });
    for (const s of [raw, handshaken]) s.on('error', () => undefined);
    await Promise.all([
      new Promise((resolve) => raw.once('connect', resolve)),
      new Promise((resolve) => handshaken.once('secureConnect', resolve)),
    ]);
    for (const s of [raw, handshaken]) s.resume();
    return [raw, handshaken];
  }

  it('agency serve and key-authority serve stop on SIGTERM within the grace period', async () => {
    const agency = agencies.get('agency-1')!;
    const clients = [...(await hungClients(agency.port)), ...(await hungClients(keyAuthority!.port))];
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(clients.map((s) => s.closed)).toEqual([false, false, false, false]);
      const t0 = performance.now();
      const [, kaCode] = await Promise.all([agency.stop(), keyAuthority!.stop()]);
      const ms = performance.now() - t0;
      expect(ms).toBeLessThan(SHUTDOWN_GRACE_MS + 2_500);
      expect(kaCode).toBe(0);
      // The agency said it stopped: its store and ledger were closed, it was not killed.
      expect(agency.events.some((e) => e['event'] === 'stopped')).toBe(true);
    } finally {
      for (const s of clients) s.destroy();
    }
  });
});
