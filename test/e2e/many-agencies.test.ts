/**
 * A federation of hundreds of agencies (issue 15): real queries over FEDSTAT_MANY_AGENCIES
 * agencies, each an in-process agency with its own DuckDB file, SEAL context and keys behind its
 * own gRPC server on 127.0.0.1 over mTLS; the coordinator reaches them over real loopback
 * connections. What they share: this process, its CPU and its event loop (so wall time is the sum
 * of all agencies' work). Above 64 agencies the coordinator picks SecAgg+: each agency masks with
 * and shares among k neighbours, not all n − 1.
 *
 * Starting an agency costs about a second (its own SEAL context), so 256 take minutes on two
 * cores. The default run is the fast form: 24 agencies with a sparse graph of degree 8 given to
 * the coordinator (the same protocol the size rule picks above 64). The long form, by the size
 * rule, before a change to secure aggregation lands:
 *
 *   FEDSTAT_MANY_AGENCIES=256 npx vitest run test/e2e/many-agencies.test.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgency, type Agency } from '../../src/agency/agency.js';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { compareRows, referenceRows } from '../../src/demo/reference.js';
import { FedstatError } from '../../src/errors.js';
import { datasetSchemaOf, readHePublicKey, type Federation } from '../../src/federation/federation.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { defaultGraphFor } from '../../src/secagg/sparse-params.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import { serveAgencyService, type RunningServer } from '../../src/transport/agency-server.js';
import { serverCredentials } from '../../src/transport/credentials.js';
import { TEST_SCHEMA, makeRows, writeCsv } from '../helpers/test-federation.js';

const N = Number(process.env['FEDSTAT_MANY_AGENCIES'] ?? 24);
/** The graph every query carries: the size rule's for the long form, a small one given otherwise. */
const GRAPH = defaultGraphFor(N) ?? { degree: 8, shareThreshold: 6 };
const SQL = 'SELECT district, COUNT(*), SUM(income) FROM residents GROUP BY district';
let dir: string;
let federation: Federation;
let ids: string[];
const csvFiles: Record<string, string> = {};
const running: { agency: Agency; server: RunningServer }[] = [];
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
    datasetSchemaOf(federation, 'residents'),
    over.map((id) => csvFiles[id]!),
    federation.policy,
  );
  expect(compareRows(rows, expected.rows)).toBeNull();
}

/** Binds `port` on 127.0.0.1 and holds it until the agency's server takes it over. */
function hold(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/**
 * N consecutive ports below Linux's ephemeral range (32768–60999), held from the start: starting
 * 256 agencies takes minutes, and ports picked by the OS would meanwhile go to other connections.
 */
async function holdPorts(n: number): Promise<Server[]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - n));
    const held = await Promise.all(Array.from({ length: n }, (_, i) => hold(base + i)));
    if (held.every((s) => s !== null)) return held;
    await Promise.all(held.map((s) => new Promise((r) => (s === null ? r(null) : s.close(r)))));
  }
  throw new Error(`no ${n} free consecutive ports below 32000`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-many-'));
  ids = Array.from({ length: N }, (_, i) => `agency-${String(i + 1).padStart(3, '0')}`);
  const held = await holdPorts(N);
  const ports = held.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  });
  const port = (i: number): number => ports[i]!;
  const init = await initFederation({
    outDir: join(dir, 'federation'),
    schema: TEST_SCHEMA,
    agencies: ids.map((id, i) => ({ id, endpoint: `127.0.0.1:${port(i)}` })),
    policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true, transparencyLog: false },
  });
  federation = init.federation;
  for (const [i, id] of ids.entries()) {
    csvFiles[id] = join(dir, `${id}.csv`);
    writeCsv(csvFiles[id], makeRows(30, 1000 + i));
    const store = await openDuckDbStore(join(dir, `${id}.duckdb`));
    await store.loadCsv('residents', datasetSchemaOf(federation, 'residents'), csvFiles[id]);
    const secrets = loadKeyFile(init.keyFiles[id]!, federation);
    // No encryptions of zero made while idle: with all agencies in one process they would only compete.
    const agency = await createAgency({
      federation,
      secrets,
      hePublicKey: readHePublicKey(federation),
      store,
      precomputedEncryptions: 0,
    });
    await new Promise((r) => held[i]!.close(r));
    // Over mTLS with the federation's certificates, as deployed; only the coordinator may call.
    const server = await serveAgencyService(flaky(id)(agency), '127.0.0.1', port(i), {
      credentials: serverCredentials(federation, secrets, { insecure: false, host: '127.0.0.1' }),
      allowedCallers: ['coordinator'],
    });
    running.push({ agency, server });
  }
  // Describe opens 256 TLS connections into one busy process: more than the default 5 s.
  coordinator = await connectCoordinator({ federation, describeDeadlineMs: 120_000, secureAggregation: GRAPH });
}, 900_000);

afterAll(async () => {
  await coordinator?.close();
  for (const { agency, server } of running) {
    await server.close();
    await agency.close();
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe(`a query over ${N} agencies`, () => {
  it('SecAgg+ with 10 % of the agencies dropped in round 1: exact over the survivors', async () => {
    const graph = GRAPH;
    const dropped = ids.filter((_, i) => i % 10 === 3);
    for (const id of dropped) refuseRound1.add(id);
    const result = await coordinator.query(SQL, { deadlineMs: 120_000 }).finally(() => refuseRound1.clear());
    const survivors = ids.filter((id) => !dropped.includes(id)).sort();
    expect(result.agencies.answered).toEqual(survivors);
    expect(result.secureAggregation).toMatchObject({ survivors, dropped: [...dropped].sort() });
    // Every survivor masked with k neighbours and shared among them and itself: k + 1 shares, not n.
    expect(seen.size).toBe(survivors.length);
    for (const s of seen.values()) expect(s).toEqual({ graph, shares: graph.degree + 1 });
    await expectExact(result.rows, survivors);
  }, 300_000);

  it('survivors lost in round 2 with nobody dropped in round 1: tolerated, exact over all', async () => {
    seen.clear();
    const lost = [ids[5]!, ids[Math.floor(N / 2)]!, ids[N - 1]!];
    for (const id of lost) refuseRound2.add(id);
    const result = await coordinator.query(SQL, { deadlineMs: 120_000 }).finally(() => refuseRound2.clear());
    expect(result.agencies.answered).toEqual([...ids].sort());
    expect(result.secureAggregation?.unmaskFailed.map((f) => f.id)).toEqual([...lost].sort());
    await expectExact(result.rows, ids);
  }, 300_000);
});
