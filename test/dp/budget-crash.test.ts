/**
 * Crash test with real processes: a child charges the ledger in waves of concurrent charges and
 * is SIGKILLed at random moments; after each kill the ledger must reopen (taking over the dead
 * child's lock) and count at least every charge the child saw acknowledged, and never more than
 * it requested. The child runs the TypeScript source under Node 22's type stripping, with the
 * same `.js` → `.ts` resolve hook that src/he/isolated/worker-entry.ts uses (test/helpers/ts-child.ts).
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnTsChild } from '../helpers/ts-child.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { isFedstatError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'fedstat-budget-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHILD = new URL('./fixtures/budget-crash-child.ts', import.meta.url).href;

/** Independent reference: every ρ the child uses, in units of 1/42000 (lcm of its denominators). */
const UNITS: Record<string, bigint> = {
  '0.001': 42n,
  '0.0025': 105n,
  '0.01': 420n,
  '0.02': 840n,
  '1/300': 140n,
  '1/7': 6000n,
};
const D = 42_000n;
const BUDGET = '12';

interface Run {
  acked: Map<string, string>;
  tried: Map<string, string>;
  events: number;
  opened: boolean;
  signal: string | null;
}

/** Runs the child until it has printed `killAfter` events (or `killAfterMs` passed), then SIGKILLs it. */
function runChild(file: string, killAfter: number, killAfterMs: number | null, fromSpawn = false): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnTsChild(CHILD, { LEDGER_FILE: file, LEDGER_BUDGET: BUDGET });
    const run: Run = { acked: new Map(), tried: new Map(), events: 0, opened: false, signal: null };
    let buffered = '';
    let stderr = '';
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    if (fromSpawn && killAfterMs !== null) setTimeout(kill, killAfterMs); // may land in lock-taking or replay
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, id, rho] = line.split(' ');
        if (kind === 'open') run.opened = true;
        if (kind === 'open' && killAfterMs !== null && !fromSpawn) setTimeout(kill, killAfterMs);
        if (kind === 'try') run.tried.set(id!, rho!);
        if (kind === 'ack') run.acked.set(id!, rho!);
        if (kind === 'refused' && rho !== 'POLICY_REFUSED') reject(new Error(`child refused with ${rho}`));
        if (++run.events >= killAfter) kill();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      run.signal = signal;
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve(run);
    });
  });
}

describe('budget ledger under SIGKILL', () => {
  it('never under-counts acknowledged charges, never over-counts requested ones, and continues', async () => {
    expect(process.versions.node.split('.')[0]).toBe('22');
    const file = join(dir, 'ledger.jsonl');
    const acked = new Map<string, string>();
    const tried = new Map<string, string>();
    let kills = 0;
    let tornTails = 0;
    let beforeOpen = 0;
    for (let iteration = 0; iteration < 18; iteration++) {
      // Kills after a random number of reported events, at a random time after the ledger opened,
      // or at a random time after spawning (possibly while the lock is taken or the file replayed).
      const mode = iteration % 3;
      const run =
        mode === 0
          ? await runChild(file, randomInt(1, 80), null)
          : await runChild(
              file,
              Number.MAX_SAFE_INTEGER,
              mode === 1 ? randomInt(0, 40) : randomInt(0, 400),
              mode === 2,
            );
      kills++;
      if (!run.opened) beforeOpen++;
      for (const [id, r] of run.tried) tried.set(id, r);
      for (const [id, r] of run.acked) acked.set(id, r);
      if (!readFileSync(file, 'utf8').endsWith('\n')) tornTails++;

      const ledger = await BudgetLedger.open(file, { budgets: { residents: BUDGET } }); // takes over the dead child's lock
      const entries = ledger.entries();
      const recorded = new Map(entries.map((c) => [c.queryId, c]));
      for (const [id, r] of acked) {
        const c = recorded.get(id);
        expect(c, `acknowledged charge ${id} is missing after the crash`).toBeDefined();
        expect(c!.rho.num * D).toBe(UNITS[r]! * c!.rho.den);
      }
      for (const c of entries) expect(tried.has(c.queryId), `phantom charge ${c.queryId}`).toBe(true);
      const spent = ledger.spent('residents');
      const sum = (ids: Iterable<string>, m: Map<string, string>): bigint =>
        [...ids].reduce((a, id) => a + UNITS[m.get(id)!]!, 0n);
      expect(spent.num * D >= sum(acked.keys(), acked) * spent.den).toBe(true); // spent ≥ acknowledged
      expect(spent.num * D).toBe(sum(recorded.keys(), tried) * spent.den); // spent = what the file says
      expect(spent.num * D <= sum(tried.keys(), tried) * spent.den).toBe(true); // ≤ requested
      expect(spent.num <= 12n * spent.den).toBe(true); // never over budget
      await ledger.close();
    }
    // Still usable afterwards: a charge either fits or is refused with the exact message.
    const ledger = await BudgetLedger.open(file, { budgets: { residents: BUDGET } });
    const last = await ledger.charge({ dataset: 'residents', queryId: 'after-crashes', rho: '0.001' }).then(
      () => null,
      (e: unknown) => e,
    );
    if (last !== null) expect(isFedstatError(last, 'POLICY_REFUSED')).toBe(true);
    console.log(
      `budget crash test: ${kills} SIGKILLs (${beforeOpen} before the child's open finished), ${acked.size} acknowledged / ${tried.size} requested charges, ${ledger.entries().length} recorded (so ${ledger.entries().length - acked.size} durable but unacknowledged when killed), ${tornTails} torn tails`,
    );
    await ledger.close();
  });
});
