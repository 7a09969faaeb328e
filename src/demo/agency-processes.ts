/**
 * Starts agencies as separate `fedstat agency serve` processes on 127.0.0.1 and waits until each
 * reports that it listens; stops them with SIGTERM. Used by the demo, the benchmarks and the
 * end-to-end tests, so every one of them exercises the real CLI, the real store and real gRPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { FedstatError } from '../errors.js';
import type { LoadReport } from '../store/store.js';
import { packageRoot } from '../util/package-root.js';

export interface AgencyProcessSpec {
  readonly id: string;
  readonly federationFile: string;
  readonly keyFile: string;
  /** dataset → CSV file (or null with `db` to serve what the DuckDB file holds). */
  readonly datasets: Readonly<Record<string, string | null>>;
  readonly db?: string;
  readonly extraArgs?: readonly string[];
}

export interface AgencyProcess {
  readonly id: string;
  readonly pid: number;
  readonly port: number;
  /** The `loaded` events the agency printed: one load report per dataset. */
  readonly loads: readonly LoadReport[];
  /** Every later event line it printed (`contribution`, `refusal`, ...), as parsed JSON. */
  readonly events: readonly Readonly<Record<string, unknown>>[];
  /** Peak resident set size of the process so far, in bytes (Linux VmHWM; 0 elsewhere). */
  peakRssBytes(): number;
  stop(): Promise<void>;
  /** Kills the process without a graceful shutdown (simulates a crash). */
  kill(): void;
}

export function cliPath(): string {
  return join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
}

export async function startAgencyProcess(spec: AgencyProcessSpec, timeoutMs = 60_000): Promise<AgencyProcess> {
  const args = [cliPath(), 'agency', 'serve', '--json', '--federation', spec.federationFile, '--key', spec.keyFile];
  for (const [d, f] of Object.entries(spec.datasets)) args.push('--dataset', f === null ? d : `${d}=${f}`);
  if (spec.db !== undefined) args.push('--db', spec.db);
  args.push(...(spec.extraArgs ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const loads: LoadReport[] = [];
  const events: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new FedstatError('UNAVAILABLE', `agency ${spec.id} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      try {
        const ev = JSON.parse(line) as { event?: string; port?: number };
        if (ev.event === 'loaded') loads.push(ev as unknown as LoadReport);
        else if (ev.event !== 'listening') events.push(ev);
        if (ev.event === 'listening' && typeof ev.port === 'number') {
          clearTimeout(timer);
          resolve(ev.port);
        }
      } catch {
        // not an event line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      const last = stderr.trim().split('\n').pop() ?? '';
      reject(
        new FedstatError(
          'UNAVAILABLE',
          `agency ${spec.id} exited with code ${code ?? 'signal'} before listening: ${last}`,
        ),
      );
    });
  });
  return {
    id: spec.id,
    port,
    loads,
    events,
    pid: child.pid ?? 0,
    peakRssBytes: () => peakRss(child.pid ?? 0),
    stop: () => stopChild(child, exited),
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Starts several agencies concurrently; if one fails, the others are stopped. */
export async function startAgencyProcesses(specs: readonly AgencyProcessSpec[]): Promise<AgencyProcess[]> {
  const results = await Promise.allSettled(specs.map((s) => startAgencyProcess(s)));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((p) => p.stop()));
    throw failed.reason;
  }
  return started;
}

/** VmHWM of a Linux process in bytes; 0 when unavailable. */
function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}
