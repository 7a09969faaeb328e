/**
 * Differentially private federated GLM training over real gRPC (in-process agencies with their own
 * ledgers): a fit runs exactly the rounds it announced, every agency charges ρ/R once per round it
 * answered and never twice for one round (a stopped fit resumed counts its round in flight as
 * lost, whose budget is spent), the noisy coefficients lie near the pooled fit within the
 * intervals that include the noise, and an exact fit is refused where the policy requires DP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import type { TrainSpec } from '../../src/coordinator/train-types.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { parseFormula } from '../../src/learn/formula.js';
import { fitPooled } from '../../src/learn/pooled-fit.js';
import { createTestFederation, makeRows, type TestFederation } from '../helpers/test-federation.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';

const ROWS = 400;
const spec: TrainSpec = { dataset: 'residents', family: 'gaussian', formula: 'age ~ sex + balance' };
let tf: TestFederation;
let coordinator: Coordinator;
let scratch: string;

async function budgets(): Promise<{ spent: string; charges: number }[]> {
  return Promise.all(
    tf.ids.map(async (id) => {
      const b = (await tf.agencies.get(id)!.agency.describe()).budgets[0]!;
      return { spent: b.spent, charges: b.charges };
    }),
  );
}

beforeAll(async () => {
  tf = await createTestFederation({ agencies: 3, rowsPerAgency: ROWS, minAgencies: 2, exactRelease: false });
  for (const id of tf.ids) {
    const ledger = await BudgetLedger.open(join(tf.dir, `${id}.ledger`), { budgets: { residents: '100' } });
    await tf.start(id, undefined, { ledger });
  }
  coordinator = await tf.coordinator();
  scratch = mkdtempSync(join(tmpdir(), 'fedstat-train-dp-'));
});

afterAll(async () => {
  await coordinator?.close();
  await tf?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('differentially private training', () => {
  it('refuses an exact fit where the policy requires DP, before asking anyone', async () => {
    const e = await fedstatRejectionOf(coordinator.train(spec));
    expect(e.code).toBe('POLICY_REFUSED');
    expect(e.message).toContain('--rho');
    expect((await budgets()).every((b) => b.charges === 0)).toBe(true);
  });

  it('runs the announced rounds, charges ρ/R per round at every agency, and its intervals cover the pooled fit', async () => {
    const result = await coordinator.train(spec, { privacy: { rho: '20', rounds: 4 } });
    expect(result.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    expect(result.privacy).toMatchObject({ rho: '20/1', rhoPerRound: '5/1', rounds: 4 });
    expect(result.privacy?.intervals.length).toBeGreaterThan(20);
    expect(await budgets()).toEqual(tf.ids.map(() => ({ spent: '20/1', charges: 4 })));
    const schema = datasetSchemaOf(tf.federation, spec.dataset);
    const coding = codeModel(parseFormula(spec.formula, schema, spec.dataset), schema, spec.family, spec.dataset);
    const rows = tf.ids.flatMap((_, i) => makeRows(ROWS, 1000 + i)) as unknown as DataRecord[];
    const pooled = fitPooled(rows, coding).table;
    result.model.terms.forEach((t, j) => {
      expect(Number.isFinite(t.estimate) && t.stderr > 0).toBe(true);
      expect(Math.abs(t.estimate - pooled.terms[j]!.estimate)).toBeLessThan(4 * t.stderr);
      // The noise widens the intervals beyond the sampling error alone.
      expect(t.stderr).toBeGreaterThanOrEqual(pooled.terms[j]!.stderr * 0.999);
    });
  });

  it('a stopped fit resumed never charges one round twice', async () => {
    const before = await budgets();
    const file = join(scratch, 'dp.json');
    const stop = new Error('stopped by the test');
    await expect(
      coordinator.train(spec, {
        privacy: { rho: '8', rounds: 4 },
        checkpoint: file,
        onRound: (r) => {
          if (r.round === 2) throw stop;
        },
      }),
    ).rejects.toBe(stop);
    const resumed = await coordinator.train(spec, { privacy: { rho: '8', rounds: 4 }, checkpoint: file, resume: true });
    // Round 2 was charged and decoded, but not checkpointed: lost. Rounds 1, 3 and 4 make the model.
    expect(resumed.lostRounds).toEqual([2]);
    expect(resumed.rounds.map((r) => r.round)).toEqual([1, 3, 4]);
    const after = await budgets();
    after.forEach((b, i) => {
      expect(b.charges - before[i]!.charges).toBe(4);
      expect(b.spent).toBe(`${20 + 8}/1`);
    });
    expect(resumed.model.terms.every((t) => Number.isFinite(t.estimate) && t.stderr > 0)).toBe(true);
  });
});
