/**
 * Distributed differential privacy end to end, over real mTLS gRPC with DuckDB files: every
 * agency charges its own ledger and adds its own Skellam noise before masking and encryption.
 * Each agency draws from a seeded source here, so the test can replay every draw and check the
 * decrypted, released numbers EXACTLY: released = exact (from the CSV files) + Σ survivors' draws,
 * clamped, offset and averaged as documented.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { FedstatError } from '../../src/errors.js';
import type { Agency } from '../../src/agency/agency.js';
import type { QueryResult } from '../../src/coordinator/coordinator.js';
import { referenceRows } from '../../src/demo/reference.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { planCells } from '../../src/protocol/cells.js';
import { drawCellNoise, parseQueryRho, privacyTerms } from '../../src/protocol/privacy-terms.js';
import { newQueryId, signQuery } from '../../src/protocol/query-envelope.js';
import { createTestFederation, DISTRICTS, type TestFederation } from '../helpers/test-federation.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const SQL =
  'SELECT district, COUNT(*) AS n, SUM(age) AS ages, SUM(balance) AS bal, AVG(age) AS avg_age FROM residents GROUP BY district';

let tf: TestFederation | undefined;
afterEach(async () => {
  await tf?.close();
  tf = undefined;
});

async function startWithBudget(
  f: TestFederation,
  id: string,
  budget = '1',
  wrap?: (a: Agency) => Agency,
): Promise<void> {
  const ledger = await BudgetLedger.open(join(f.dir, `${id}.ledger`), { budgets: { residents: budget } });
  await f.start(id, wrap, { ledger, random: new SeededRandom(id) });
}

async function queryError(run: Promise<unknown>): Promise<FedstatError> {
  const e = await run.then(
    () => null,
    (x: unknown) => x,
  );
  if (!(e instanceof FedstatError)) throw new Error(`expected a FedstatError, got ${String(e)}`);
  return e;
}

/** Checks every released number of SQL against the exact totals plus the replayed draws of `survivors`. */
async function expectReplayed(
  f: TestFederation,
  result: QueryResult,
  rho: string,
  survivors: readonly string[],
): Promise<void> {
  const schema = datasetSchemaOf(f.federation, 'residents');
  const plan = result.plan;
  const cells = planCells(plan, schema);
  const terms = privacyTerms(cells, schema, parseQueryRho(rho), result.privacy?.threshold ?? 0);
  const noise = new Array<bigint>(cells.groupCount * cells.measures.length).fill(0n);
  for (const id of survivors)
    drawCellNoise(terms, cells.groupCount, new SeededRandom(id)).forEach((v, i) => {
      noise[i] = (noise[i] ?? 0n) + v;
    });
  const exact = await referenceRows(
    plan,
    schema,
    f.ids.filter((id) => survivors.includes(id)).map((id) => f.csvFiles[id]!),
    { minAgencies: 1, minGroupSize: 1, exactRelease: true, transparencyLog: false },
  );
  const m = cells.measures.length; // count, SUM(age), SUM(balance): sums sorted by column
  expect(cells.measures.map((x) => x.column)).toEqual([null, 'age', 'balance']);
  const expected = DISTRICTS.map((district, g) => {
    const e = exact.rows.find((r) => r['district'] === district);
    const count = (e?.['n'] as bigint | undefined) ?? 0n;
    const noisyCount = count + (noise[g * m] ?? 0n);
    const shiftedAges = ((e?.['ages'] as bigint | undefined) ?? 0n) + (noise[g * m + 1] ?? 0n);
    const shiftedBal = ((e?.['bal'] as bigint | undefined) ?? 0n) + 50_000n * count + (noise[g * m + 2] ?? 0n);
    return { district, noisyCount, ages: shiftedAges, bal: shiftedBal - 50_000n * noisyCount };
  }).filter((x) => x.noisyCount >= 1n);
  expect(result.rows.map((r) => r['district'])).toEqual(expected.map((x) => x.district));
  result.rows.forEach((row, i) => {
    const x = expected[i]!;
    expect(row['n']).toBe(x.noisyCount);
    expect(row['ages']).toBe(x.ages);
    expect(row['bal']).toBe(x.bal);
    const avg = Math.min(120, Math.max(0, Number(x.ages) / Number(x.noisyCount)));
    expect(row['avg_age'] as number).toBeCloseTo(avg, 9);
    const u = result.uncertainty?.[i];
    for (const alias of ['n', 'ages', 'bal', 'avg_age']) {
      const ci = u?.[alias]?.ci95;
      expect(ci).toBeDefined();
      expect(u?.[alias]?.stderr).toBeGreaterThan(0);
      expect(Number(ci![0])).toBeLessThanOrEqual(Number(row[alias]));
      expect(Number(ci![1])).toBeGreaterThanOrEqual(Number(row[alias]));
    }
  });
  expect(result.suppressed).toBe(DISTRICTS.length - expected.length);
}

describe('distributed differential privacy over gRPC', () => {
  it("releases exact totals plus exactly the survivors' own draws, charges every ledger, then refuses an overspend with remaining and requested", async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: 150, exactRelease: false });
    for (const id of tf.ids) await startWithBudget(tf, id);
    await using coordinator = await tf.coordinator();

    const result = await coordinator.query(SQL, { privacy: { rho: '0.25' } });
    expect(result.privacy).toMatchObject({ rho: '0.25', threshold: 3, survivors: 3 });
    expect(result.privacy?.noise.map((n) => n.measure)).toEqual(['count', 'age', 'balance']);
    expect(result.privacy?.epsilon).toBeGreaterThan(0);
    await expectReplayed(tf, result, '0.25', tf.ids);
    // Counts are never negative and no noisy count below minGroupSize (1) is shown.
    for (const row of result.rows) expect(row['n'] as bigint).toBeGreaterThanOrEqual(1n);

    for (const { agency } of tf.agencies.values()) {
      expect((await agency.describe()).budgets).toEqual([
        { dataset: 'residents', budget: '1/1', spent: '1/4', remaining: '3/4', charges: 1 },
      ]);
    }
    const dry = await coordinator.dryRun(SQL, { privacy: { rho: '0.8' } });
    expect(dry.prediction.enough).toBe(false);
    for (const a of dry.prediction.agencies)
      expect(a.refusal).toBe('budget exhausted: requested rho 0.8, remaining 0.75');
    expect((await coordinator.dryRun(SQL, { privacy: { rho: '0.75' } })).prediction.enough).toBe(true);

    const e = await queryError(coordinator.query(SQL, { privacy: { rho: '0.8' } }));
    expect(e.code).toBe('POLICY_REFUSED');
    expect(e.message).toMatch(/requested.*0\.8/);
    expect(e.message).toMatch(/remaining.*0\.75/);
    // The refused query spent nothing.
    for (const { agency } of tf.agencies.values()) expect((await agency.describe()).budgets[0]?.spent).toBe('1/4');
  });

  it("a dropout in round 1 never under-noises: every agency drew for the threshold, the survivors' draws are all in the release", async () => {
    tf = await createTestFederation({ agencies: 4, rowsPerAgency: 120, exactRelease: false });
    for (const id of tf.ids.slice(0, 3)) await startWithBudget(tf, id);
    // agency-4 describes itself but fails its contribution: it is asked, then dropped.
    await startWithBudget(tf, 'agency-4', '1', (a) => ({
      ...a,
      answer: () => Promise.reject(new FedstatError('UNAVAILABLE', 'agency-4 is overloaded')),
      describe: () => a.describe(),
    }));
    await using coordinator = await tf.coordinator();
    const result = await coordinator.query(SQL, { privacy: { rho: '0.5' } });
    expect(result.secureAggregation?.dropped).toEqual(['agency-4']);
    expect(result.privacy).toMatchObject({ threshold: 3, survivors: 3 });
    await expectReplayed(tf, result, '0.5', tf.ids.slice(0, 3));
  });

  it('exact release is refused by the coordinator and by every agency where the policy requires DP; an agency without a budget refuses DP', async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: 50, exactRelease: false });
    await startWithBudget(tf, 'agency-1');
    await startWithBudget(tf, 'agency-2');
    await tf.start('agency-3');
    await using coordinator = await tf.coordinator();
    const exact = await queryError(coordinator.query('SELECT COUNT(*) AS n FROM residents'));
    expect(exact.code).toBe('POLICY_REFUSED');
    expect(exact.message).toMatch(/--rho/);

    // An agency checks the policy itself: a validly signed exact query is refused.
    const secrets = loadKeyFile(tf.keyFiles['coordinator']!, tf.federation);
    const plan = coordinator.plan('SELECT COUNT(*) AS n FROM residents');
    const now = Date.now();
    const signed = signQuery(
      {
        v: 1,
        queryId: newQueryId(),
        federationId: tf.federation.id,
        paramsId: (await tf.agencies.get('agency-1')!.agency.describe()).paramsId,
        mode: 'encrypted',
        plan,
        agencies: [...tf.ids],
        threshold: 3,
        issuedAt: now,
        expiresAt: now + 60_000,
      },
      secrets.signing.secretKey,
    );
    const refused = await queryError(tf.agencies.get('agency-1')!.agency.answer(signed));
    expect(refused.code).toBe('POLICY_REFUSED');
    expect(refused.message).toMatch(/requires differential privacy/);

    const dry = await coordinator.dryRun('SELECT COUNT(*) AS n FROM residents', { privacy: { rho: '0.1' } });
    expect(dry.prediction.agencies.find((a) => a.id === 'agency-3')?.refusal).toBe(
      'has no privacy budget for residents',
    );
    const dp = await queryError(coordinator.query('SELECT COUNT(*) AS n FROM residents', { privacy: { rho: '0.1' } }));
    // Threshold 3 of 3, and agency-3 would refuse: the query is not sent, so nobody spends on it.
    expect(dp.code).toBe('POLICY_REFUSED');
    expect(dp.message).toMatch(
      /not sent, nothing spent: 2 agencies would answer, the policy needs at least 3; agency-3 \(has no privacy budget for residents\)/,
    );
    for (const id of ['agency-1', 'agency-2'])
      expect((await tf.agencies.get(id)!.agency.describe()).budgets[0]).toMatchObject({ spent: '0/1', charges: 0 });
  });

  it('the differencing attack: exact mode is refused by policy; in DP mode each of the two releases is charged and carries its own fresh noise', async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: 80, exactRelease: false });
    for (const id of tf.ids) await startWithBudget(tf, id);
    await using coordinator = await tf.coordinator();
    const all = 'SELECT COUNT(*) AS n FROM residents';
    const allButOne = "SELECT COUNT(*) AS n FROM residents WHERE NOT (district = '锦江区' AND sex = '男' AND age = 37)";
    expect((await queryError(coordinator.query(all))).code).toBe('POLICY_REFUSED');
    const a = await coordinator.query(all, { privacy: { rho: '0.1' } });
    const b = await coordinator.query(allButOne, { privacy: { rho: '0.1' } });
    // Two charges: the pair costs 2ρ at every agency, which bounds what the difference reveals.
    for (const { agency } of tf.agencies.values())
      expect((await agency.describe()).budgets[0]).toMatchObject({ spent: '1/5', charges: 2 });
    // The difference carries two independent noise draws per agency (stderr √2 × one release's).
    const schema = datasetSchemaOf(tf.federation, 'residents');
    const terms = privacyTerms(planCells(a.plan, schema), schema, parseQueryRho('0.1'), 3);
    let noiseA = 0n;
    let noiseB = 0n;
    for (const id of tf.ids) {
      const r = new SeededRandom(id);
      noiseA += drawCellNoise(terms, 1, r)[0] ?? 0n;
      noiseB += drawCellNoise(terms, 1, r)[0] ?? 0n;
    }
    const exactAll = BigInt(3 * 80);
    const exactB = (
      await referenceRows(
        b.plan,
        schema,
        tf.ids.map((id) => tf!.csvFiles[id]!),
        { minAgencies: 1, minGroupSize: 1, exactRelease: true, transparencyLog: false },
      )
    ).rows[0]?.['n'] as bigint;
    expect(a.rows[0]?.['n']).toBe(exactAll + noiseA);
    expect(b.rows[0]?.['n']).toBe(exactB + noiseB);
    expect(noiseA === 0n && noiseB === 0n).toBe(false);
  });
});
