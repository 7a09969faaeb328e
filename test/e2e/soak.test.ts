/**
 * Soak: many queries in a row against agencies run as real `fedstat agency serve` processes
 * (ledgers, witness files, mTLS, a federation that requires the transparency log), with agencies
 * killed at random — before round 1, between the rounds — and restarted between queries, and the
 * coordinator itself reopened now and then. Afterwards the auditor's verification passes, every
 * agency's ledger reconciles with the log, no charge is unlogged, and no result was wrong: exact
 * results equal the plaintext over the agencies that answered, noisy ones lie within their noise.
 *
 * FEDSTAT_SOAK_QUERIES (default 6; the long form is 200) and FEDSTAT_SOAK_SEED
 * (printed when a run fails) reproduce a run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectCoordinator, defaultTransparencyLog } from '../../src/coordinator/connect.js';
import type { Coordinator, QueryResult } from '../../src/coordinator/coordinator.js';
import { startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { compareRows, referenceRows } from '../../src/demo/reference.js';
import { FedstatError } from '../../src/errors.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { runCli } from '../helpers/run-cli.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

const QUERIES = Number(process.env['FEDSTAT_SOAK_QUERIES'] ?? 6);
const SEED = Number(process.env['FEDSTAT_SOAK_SEED'] ?? Date.now() % 1_000_000);
const EXACT = 'SELECT district, COUNT(*) AS n, SUM(income) AS income FROM residents GROUP BY district';
const NOISY = 'SELECT sex, COUNT(*) AS n FROM residents GROUP BY sex';

let tf: TestFederation | undefined;
const processes = new Map<string, AgencyProcess>();
afterAll(async () => {
  await Promise.all([...processes.values()].map((p) => p.stop()));
  await tf?.close();
});

/** xorshift32: a reproducible schedule (test randomness, never key material). */
function schedule(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

describe(`soak: ${QUERIES} queries with random agency kills and restarts (seed ${SEED})`, () => {
  it(
    'every result is right or a clean failure; afterwards the log verifies and every ledger reconciles',
    async () => {
      const f = (tf = await createTestFederation({
        agencies: 5,
        rowsPerAgency: 80,
        exactRelease: true,
        transparencyLog: true,
        minAgencies: 2,
      }));
      const ledger = (id: string): string => join(f.dir, `${id}.ledger`);
      const witness = (id: string): string => join(f.dir, `${id}.witness.json`);
      const launch = async (id: string): Promise<void> => {
        processes.set(
          id,
          await startAgencyProcess({
            id,
            federationFile: f.federationFile,
            keyFile: f.keyFiles[id]!,
            datasets: { residents: f.csvFiles[id]! },
            extraArgs: ['--budget', 'residents=1000', '--ledger', ledger(id), '--log-witness', witness(id)],
          }),
        );
      };
      const kill = (id: string): void => {
        processes.get(id)?.kill();
        processes.delete(id);
      };
      for (const id of f.ids) await launch(id);
      const random = schedule(SEED);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const schema = datasetSchemaOf(f.federation, 'residents');
      let coordinator: Coordinator = await connectCoordinator({ federation: f.federation, describeDeadlineMs: 2_000 });
      const outcomes = { released: 0, failed: 0, killed: 0, restarted: 0 };
      try {
        for (let q = 0; q < QUERIES; q++) {
          const dead = f.ids.filter((id) => !processes.has(id));
          // Restart the dead now and then, and always when fewer than three agencies are up.
          if (dead.length > 0 && (random() < 0.3 || dead.length > 2)) {
            for (const id of dead) await launch(id);
            outcomes.restarted += dead.length;
          }
          if (random() < 0.1) {
            await coordinator.close();
            coordinator = await connectCoordinator({ federation: f.federation, describeDeadlineMs: 2_000 });
          }
          const noisy = q % 2 === 1;
          const fault = random();
          const victim = pick([...processes.keys()]);
          const sql = noisy ? NOISY : EXACT;
          const where = `query ${q} (seed ${SEED})`;
          let result: QueryResult;
          try {
            result = await coordinator.query(sql, {
              deadlineMs: 10_000,
              ...(noisy ? { privacy: { rho: '0.01' } } : {}),
              onProgress: (p) => {
                if (
                  (fault < 0.12 && p.phase === 'asked') ||
                  (fault > 0.92 && p.phase === 'answered' && p.agency === victim)
                ) {
                  if (processes.has(victim)) outcomes.killed++;
                  kill(victim);
                }
              },
            });
          } catch (e) {
            // A failure is clean: a named fault of availability or policy, never an internal error.
            expect(e, where).toBeInstanceOf(FedstatError);
            expect(['UNAVAILABLE', 'POLICY_REFUSED'], `${where}: ${String(e)}`).toContain((e as FedstatError).code);
            outcomes.failed++;
            continue;
          }
          outcomes.released++;
          const over = result.agencies.answered.map((id) => f.csvFiles[id]!);
          const truth = await referenceRows(result.plan, schema, over, f.federation.policy);
          if (!noisy) {
            expect(compareRows(result.rows, truth.rows), where).toBeNull();
            continue;
          }
          // Noisy counts: within 8 standard deviations of the truth over the survivors (a false alarm has odds below 1e-14).
          result.rows.forEach((row, i) => {
            const exact = truth.rows.find((t) => t['sex'] === row['sex']);
            const stderr = result.uncertainty?.[i]?.['n']?.stderr ?? 0;
            expect(stderr, where).toBeGreaterThan(0);
            expect(Math.abs(Number(row['n']) - Number(exact?.['n'] ?? 0)), where).toBeLessThanOrEqual(8 * stderr + 1);
          });
        }
        // Everyone back, and one more query: it logs whatever charge an agency still holds unlogged,
        // and hands back receipts; what is left is that query's own charge, already in the log.
        for (const id of f.ids.filter((x) => !processes.has(x))) await launch(id);
        for (let i = 0; i < 100 && (await coordinator.discover()).described.length < f.ids.length; i++)
          await new Promise((r) => setTimeout(r, 100));
        await coordinator.query(NOISY, { privacy: { rho: '0.01' } });
        const { described } = await coordinator.discover();
        for (const d of described) expect((d.unloggedEntries ?? []).length, d.agencyId).toBeLessThanOrEqual(1);
      } finally {
        await coordinator.close();
      }
      // One line for whoever runs the long form: what the schedule did.
      process.stderr.write(`soak (seed ${SEED}): ${JSON.stringify(outcomes)}\n`);
      expect(outcomes.released, JSON.stringify(outcomes)).toBeGreaterThan(0);
      const log = defaultTransparencyLog(f.federationFile);
      const verdict = await runCli([
        'audit',
        'verify',
        log,
        '--federation',
        f.federationFile,
        ...f.ids.flatMap((id) => [
          ...(existsSync(witness(id)) ? ['--since', witness(id)] : []),
          '--ledger',
          `${id}=${ledger(id)}`,
        ]),
      ]);
      expect(verdict.err, `seed ${SEED}`).toBe('');
      expect(verdict.code, `seed ${SEED}: ${verdict.out}`).toBe(0);
    },
    Math.max(180_000, QUERIES * 6_000),
  );
});
