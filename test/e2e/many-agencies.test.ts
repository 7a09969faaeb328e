/**
 * A federation of hundreds of agencies (issue 15): real queries over FEDSTAT_MANY_AGENCIES
 * agencies, each an in-process agency with its own DuckDB file, SEAL context and keys behind its
 * own gRPC server on 127.0.0.1 over mTLS; the coordinator reaches them over real loopback
 * connections. What they share: this process, its CPU and its event loop (so wall time is the sum
 * of all agencies' work). Above 64 agencies the coordinator picks SecAgg+: each agency masks with
 * and shares among k neighbours, not all n − 1.
 *
 * The default is 128 agencies: starting one costs about a second (its own SEAL context), so 256
 * take minutes to start on two cores. The long form, before a change to secure aggregation lands:
 *
 *   FEDSTAT_MANY_AGENCIES=256 npx vitest run test/e2e/many-agencies.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../../src/agency/agency.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { compareRows, referenceRows } from '../../src/demo/reference.js';
import { FedstatError } from '../../src/errors.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { defaultGraphFor } from '../../src/secagg/sparse-params.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

const N = Number(process.env['FEDSTAT_MANY_AGENCIES'] ?? 128);
const SQL = 'SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district';
let tf: TestFederation;
let coordinator: Coordinator;
/** Agencies that refuse round 1 (dropped) or round 2 (lost after contributing), switched per test. */
const refuseRound1 = new Set<string>();
const refuseRound2 = new Set<string>();
/** What each agency saw of the secure-aggregation graph: the signed query's field, and its share count. */
const seen = new Map<string, { graph: unknown; shares: number }>();

function flaky(id: string): (a: Agency) => Agency {
  return (a) => ({
    ...a,
    answer: async (q, proof) => {
      if (refuseRound1.has(id)) throw new FedstatError('UNAVAILABLE', `${id} is offline (simulated)`);
      const c = await a.answer(q, proof);
      const env = JSON.parse(new TextDecoder().decode(q.bytes)) as { secaggGraph?: unknown };
      seen.set(id, { graph: env.secaggGraph, shares: c.masking?.shares.length ?? 0 });
      return c;
    },
    unmask: async (r) => {
      if (refuseRound2.has(id)) throw new FedstatError('UNAVAILABLE', `${id} went offline (simulated)`);
      return a.unmask(r);
    },
  });
}

async function expectExact(rows: Parameters<typeof compareRows>[0], over: readonly string[]): Promise<void> {
  const expected = await referenceRows(
    coordinator.plan(SQL),
    datasetSchemaOf(tf.federation, 'residents'),
    over.map((id) => tf.csvFiles[id]!),
    tf.federation.policy,
  );
  expect(compareRows(rows, expected.rows)).toBeNull();
}

beforeAll(async () => {
  tf = await createTestFederation({ agencies: N, rowsPerAgency: 30, minAgencies: 2, minGroupSize: 1 });
  // No encryptions of zero made while idle: with all agencies in one process they would only compete.
  for (const id of tf.ids) await tf.start(id, flaky(id), { precomputedEncryptions: 0 });
  coordinator = await tf.coordinator();
}, 600_000);

afterAll(async () => {
  await coordinator?.close();
  await tf?.close();
}, 120_000);

describe(`a query over ${N} agencies`, () => {
  it('SecAgg+ with 10 % of the agencies dropped in round 1: exact over the survivors', async () => {
    const graph = defaultGraphFor(N);
    if (graph === null) throw new Error(`FEDSTAT_MANY_AGENCIES=${N}: this test needs more than 64 agencies (SecAgg+)`);
    const dropped = tf.ids.filter((_, i) => i % 10 === 3);
    for (const id of dropped) refuseRound1.add(id);
    const result = await coordinator.query(SQL, { deadlineMs: 120_000 });
    refuseRound1.clear();
    const survivors = tf.ids.filter((id) => !dropped.includes(id)).sort();
    expect(result.agencies.answered).toEqual(survivors);
    expect(result.secureAggregation).toMatchObject({ survivors, dropped: [...dropped].sort() });
    // Every survivor masked with k neighbours and shared among them and itself: k + 1 shares, not n.
    expect(seen.size).toBe(survivors.length);
    for (const s of seen.values()) expect(s).toEqual({ graph, shares: graph.degree + 1 });
    await expectExact(result.rows, survivors);
  }, 300_000);

  it('survivors lost in round 2 with nobody dropped in round 1: tolerated, exact over all', async () => {
    seen.clear();
    const lost = [tf.ids[5]!, tf.ids[Math.floor(N / 2)]!, tf.ids[N - 1]!];
    for (const id of lost) refuseRound2.add(id);
    const result = await coordinator.query(SQL, { deadlineMs: 120_000 });
    refuseRound2.clear();
    expect(result.agencies.answered).toEqual([...tf.ids].sort());
    expect(result.secureAggregation?.unmaskFailed.map((f) => f.id)).toEqual([...lost].sort());
    await expectExact(result.rows, tf.ids);
  }, 300_000);
});
