/**
 * Where a `bench query` run's time goes: the coordinator's phase timings of each query (its
 * QueryResult.timings) as medians per mode, and the CPU every process of the federation spent on
 * each query, so that a ratio can be read against how busy the machine was (2 cores: a query
 * whose CPU time is twice its wall time had nothing left to overlap).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { formatMs, renderTable } from '../../src/cli/table.js';
import type { QueryResult } from '../../src/coordinator/coordinator.js';
import { median } from './stats.js';

/** Clock ticks per second of /proc/PID/stat on Linux (USER_HZ; 100 on every mainstream kernel). */
const USER_HZ = 100;

/** CPU milliseconds (user + system, every thread) spent so far by `pids` and by this process. */
function cpuMsNow(pids: readonly number[]): number {
  const self = process.cpuUsage();
  let ms = (self.user + self.system) / 1000;
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
    } catch {
      // not Linux, or the process is gone: its CPU is not counted
    }
  }
  return ms;
}

/** One query of a run, with the CPU the whole federation spent on it. */
export interface TimedQuery {
  readonly result: QueryResult;
  readonly cpuMs: number;
}

/** Runs `query` and measures the CPU all of `pids` and this process spent meanwhile. */
export async function timedQuery(pids: readonly number[], query: () => Promise<QueryResult>): Promise<TimedQuery> {
  const before = cpuMsNow(pids);
  const result = await query();
  return { result, cpuMs: cpuMsNow(pids) - before };
}

/** Medians of one mode's phases (QueryTimings) and CPU, in milliseconds. */
export interface StageMedians {
  readonly planMs: number;
  readonly discoverMs: number;
  readonly gatherMs: number;
  readonly unmaskMs: number;
  readonly correctionMs: number;
  readonly decryptMs: number;
  readonly releaseMs: number;
  readonly totalMs: number;
  /** CPU of every process per query (agencies, coordinator with its SEAL workers and key authority). */
  readonly cpuMs: number;
}

export function stageMedians(runs: readonly TimedQuery[]): StageMedians {
  const m = (f: (r: QueryResult) => number): number => median(runs.map((x) => f(x.result)));
  return {
    planMs: m((r) => r.timings.planMs),
    discoverMs: m((r) => r.timings.discoverMs),
    gatherMs: m((r) => r.timings.gatherMs),
    unmaskMs: m((r) => r.timings.unmaskMs),
    correctionMs: m((r) => r.secureAggregation?.correctionMs ?? 0),
    decryptMs: m((r) => r.timings.decryptMs),
    releaseMs: m((r) => r.timings.releaseMs),
    totalMs: m((r) => r.timings.totalMs),
    cpuMs: median(runs.map((x) => x.cpuMs)),
  };
}

/** The per-stage table: one line per size and mode, the phases in the order a query runs them. */
export function renderStages(sizes: readonly { rows: number; stages: Record<string, StageMedians> }[]): string {
  const cores = availableParallelism();
  const lines = sizes.flatMap((size) =>
    Object.entries(size.stages).map(([mode, s]) => [
      size.rows.toLocaleString('en-US'),
      mode,
      formatMs(s.planMs + s.discoverMs),
      formatMs(s.gatherMs),
      mode === 'plaintext' ? '—' : formatMs(s.unmaskMs),
      mode === 'plaintext' ? '—' : formatMs(s.correctionMs),
      mode === 'plaintext' ? '—' : formatMs(s.decryptMs),
      formatMs(s.releaseMs),
      formatMs(s.totalMs),
      formatMs(s.cpuMs),
      `${Math.round((100 * s.cpuMs) / (cores * s.totalMs))} %`,
    ]),
  );
  return renderTable(
    [
      'rows/agency',
      'mode',
      'plan+discover',
      'admit+round 1',
      'round 2',
      '(correction)',
      'decrypt',
      'release',
      'total',
      'CPU, all processes',
      `busy of ${cores} cores`,
    ],
    lines,
    ['right', 'left', ...(Array(9).fill('right') as 'right'[])],
  );
}
