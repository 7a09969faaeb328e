/**
 * Secure aggregation (Bonawitz double masking) against the unmasked encrypted path of the first
 * release, with in-process agencies (no gRPC: what is measured is the protocol, not the network).
 * For 10, 32 and 64 agencies at 0, 10 and 30 % dropouts (agencies that never answer round 1),
 * every run's rows are checked against the plaintext sum over the survivors.
 *
 * Reported per configuration: query wall time (all agencies share this process and their work is
 * serialized, so wall time is the sum of their work plus the coordinator's), the mean agency time
 * per round, the coordinator's own time (wall − agencies) and within it the mask correction
 * (reconstructing seeds, expanding masks, subtracting them under encryption), and the exact
 * protobuf-encoded bytes each agency sends and receives and the coordinator sends and receives. Headline ratio: masked /
 * unmasked query time at 0 % dropouts with 10 agencies (target ≤ 1.3). Recovery cost per dropped
 * agency = (unmask time − unmask time at 0 %) / dropped: flat or falling means linear growth.
 *
 *
 * The demo-sized query above masks only a few dozen slots, so its recovery cost is lost in noise.
 * A second table measures the coordinator's recovery alone (SecAggAggregation.finalize: Shamir
 * reconstruction of every survivor's self-mask seed, expansion of every survivor's and every
 * (survivor, dropped) pairwise mask) for 64 agencies over a full ciphertext of 8,192 slots, at
 * 0…21 dropped agencies (21 = the most the default threshold 43 allows).
 *
 * Dense and SecAgg+ side by side: every size runs the dense protocol and, where the parameter
 * analysis (src/secagg/sparse-params.ts) finds a degree below n − 1, the sparse graph it picks,
 * whatever the size rule would choose. The coordinator's time is also shown over n·log2 n, and
 * a log-log fit across sizes gives its exponent. A third table measures the coordinator's own
 * secure-aggregation work and state alone (no HE, no transport) up to 512 agencies.
 *
 *   npm run bench -- secagg [--json] [--reps N] [--agencies 10,32,64,128] [--rows N] [--scaling 64,128,256,512]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgency, type Agency } from '../src/agency/agency.js';
import { progressBar } from '../src/cli/progress.js';
import { renderTable } from '../src/cli/table.js';
import { Coordinator, type QueryResult } from '../src/coordinator/coordinator.js';
import { compareRows, referenceOfRows } from '../src/demo/reference.js';
import { FedstatError } from '../src/errors.js';
import { readHePublicKey } from '../src/federation/federation.js';
import { initFederation } from '../src/federation/init.js';
import { loadKeyFile } from '../src/federation/key-file.js';
import { parseSchema } from '../src/federation/schema.js';
import { InProcessKeyAuthority } from '../src/key-authority/key-authority.js';
import type { AgencyLink } from '../src/protocol/links.js';
import type { AnswerMode } from '../src/protocol/query-envelope.js';
import { parseQuery } from '../src/query/parse.js';
import { openDuckDbStore } from '../src/store/duckdb-store.js';
import { contributionToWire, unmaskAnswerToWire, unmaskRequestToWire } from '../src/transport/agency-messages.js';
import { agencyServiceDefinition } from '../src/transport/proto.js';
import { randomBytes } from 'node:crypto';
import { x25519PublicKey } from '../src/crypto/x25519.js';
import { SecAggAggregation } from '../src/secagg/aggregation.js';
import { defaultThreshold, SecAggParticipant } from '../src/secagg/participant.js';
import { sparseGraphFor, type SparseGraph } from '../src/secagg/sparse-params.js';
import { median } from './shared/stats.js';
import { coordinatorScaling, fittedExponent, type Scaling } from './shared/secagg-scaling.js';

const TARGET = 1.3;
const DISTRICTS = ['锦江区', '青羊区', '金牛区', '武侯区', '成华区'];
const SCHEMA = parseSchema(
  {
    datasets: {
      residents: {
        maxRows: 100_000,
        columns: { district: { type: 'category', values: DISTRICTS }, age: { type: 'integer', min: 0, max: 120 } },
      },
    },
  },
  'bench-secagg-schema.json',
);
const SQL = 'SELECT district, COUNT(*), SUM(age) FROM residents GROUP BY district';

type Row = { district: string; age: number };

interface Traffic {
  agencyUp: number;
  agencyDown: number;
  agencyMs: number;
  unmaskUp: number;
  unmaskDown: number;
  unmaskAgencyMs: number;
}

/** Which secure aggregation a run used. */
type GraphName = 'dense' | 'sparse';

interface Measured {
  readonly agencies: number;
  /** `dense`, or the sparse graph's degree and share threshold. */
  readonly graph: string;
  readonly dropoutPct: number;
  readonly dropped: number;
  readonly mode: AnswerMode;
  readonly queryMs: number;
  readonly coordinatorMs: number;
  readonly correctionMs: number;
  readonly agencyRound1Ms: number;
  readonly agencyRound2Ms: number;
  readonly bytesUpPerAgency: number;
  readonly bytesDownPerAgency: number;
  readonly coordinatorBytesIn: number;
  readonly coordinatorBytesOut: number;
  /** Growth of the process's RSS during the query, sampled every 10 ms (agencies share the process). */
  readonly rssGrowthMiB: number;
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

/** Deterministic rows per agency (a benchmark needs reproducible data, not secure randomness). */
function rowsFor(index: number, n: number): Row[] {
  let s = ((index + 1) * 2654435761) >>> 0;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: n }, () => ({
    district: DISTRICTS[Math.floor(next() * DISTRICTS.length)] ?? '锦江区',
    age: Math.floor(next() * 121),
  }));
}

class Federation implements AsyncDisposable {
  private constructor(
    readonly dir: string,
    readonly coordinators: ReadonlyMap<GraphName, Coordinator>,
    readonly sparse: SparseGraph | null,
    readonly agencies: readonly Agency[],
    readonly rows: readonly Row[][],
    readonly traffic: Map<string, Traffic>,
    readonly down: Set<string>,
  ) {}

  static async create(n: number, rowsPerAgency: number): Promise<Federation> {
    const dir = mkdtempSync(join(tmpdir(), 'fedstat-bench-secagg-'));
    const ids = Array.from({ length: n }, (_, i) => `a${String(i).padStart(3, '0')}`);
    const init = await initFederation({
      outDir: dir,
      schema: SCHEMA,
      policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true, transparencyLog: false },
      agencies: ids.map((id, i) => ({ id, endpoint: `127.0.0.1:${20000 + i}` })),
    });
    const agencies: Agency[] = [];
    const rows: Row[][] = [];
    const hePublicKey = readHePublicKey(init.federation);
    for (const [i, id] of ids.entries()) {
      const data = rowsFor(i, rowsPerAgency);
      rows.push(data);
      const file = join(dir, `${id}.csv`);
      writeFileSync(file, ['district,age', ...data.map((r) => `${r.district},${r.age}`)].join('\n') + '\n');
      const store = await openDuckDbStore(':memory:');
      const ds = SCHEMA.datasets['residents'];
      if (ds === undefined) throw new Error('schema lost its dataset');
      await store.loadCsv('residents', ds, file);
      agencies.push(
        await createAgency({
          federation: init.federation,
          secrets: loadKeyFile(init.keyFiles[id] ?? '', init.federation),
          hePublicKey,
          store,
          allowPlaintextMode: true,
          precomputedEncryptions: 0, // all agencies share one thread here: idle work would only compete
        }),
      );
    }
    const traffic = new Map<string, Traffic>();
    const down = new Set<string>();
    const def = agencyServiceDefinition();
    const size = (
      m: { requestSerialize: (v: object) => Buffer; responseSerialize: (v: object) => Buffer },
      req: object,
      res: object,
    ): [number, number] => [m.requestSerialize(req).length, m.responseSerialize(res).length];
    // One agency works at a time, so each one's time is its own and not its neighbours' interleaved.
    let queue: Promise<unknown> = Promise.resolve();
    const serial = <T>(work: () => Promise<T>): Promise<T> => {
      const next = queue.then(work, work);
      queue = next.catch(() => undefined);
      return next;
    };
    const links: AgencyLink[] = agencies.map((a) => ({
      agencyId: a.id,
      describe: () => a.describe(),
      aggregate: (q) =>
        serial(async () => {
          if (down.has(a.id)) throw new FedstatError('UNAVAILABLE', `agency ${a.id} is down (benchmark dropout)`);
          const t0 = performance.now();
          const c = await a.answer(q);
          const ms = performance.now() - t0;
          const [down_, up] = size(
            def['Aggregate'] as never,
            { query: q.bytes, signature: q.signature },
            contributionToWire(c),
          );
          const t = traffic.get(a.id);
          if (t !== undefined)
            Object.assign(t, {
              agencyUp: t.agencyUp + up,
              agencyDown: t.agencyDown + down_,
              agencyMs: t.agencyMs + ms,
            });
          return c;
        }),
      unmask: (r) =>
        serial(async () => {
          const t0 = performance.now();
          const answer = await a.unmask(r);
          const ms = performance.now() - t0;
          const [down_, up] = size(def['Unmask'] as never, unmaskRequestToWire(r), unmaskAnswerToWire(answer));
          const t = traffic.get(a.id);
          if (t !== undefined)
            Object.assign(t, {
              unmaskUp: t.unmaskUp + up,
              unmaskDown: t.unmaskDown + down_,
              unmaskAgencyMs: t.unmaskAgencyMs + ms,
            });
          return answer;
        }),
      close: () => undefined,
    }));
    const sparse = sparseGraphFor(n);
    const coordinators = new Map<GraphName, Coordinator>();
    for (const name of sparse === null ? (['dense'] as const) : (['dense', 'sparse'] as const)) {
      const keyAuthority = await InProcessKeyAuthority.create({
        federation: init.federation,
        secrets: loadKeyFile(init.keyFiles['key-authority'] ?? '', init.federation),
        allowBenchmarkModes: true,
      });
      const coordinator = await Coordinator.create({
        federation: init.federation,
        secrets: loadKeyFile(init.keyFiles['coordinator'] ?? '', init.federation),
        keyAuthority,
        links,
        secureAggregation: name === 'dense' || sparse === null ? 'dense' : sparse,
      });
      coordinators.set(name, coordinator);
    }
    return new Federation(dir, coordinators, sparse, agencies, rows, traffic, down);
  }

  async run(mode: AnswerMode, graph: GraphName, dropped: readonly string[]): Promise<Measured> {
    const coordinator = this.coordinators.get(graph);
    if (coordinator === undefined) throw new Error(`no ${graph} coordinator`);
    this.down.clear();
    for (const d of dropped) this.down.add(d);
    this.traffic.clear();
    for (const a of this.agencies)
      this.traffic.set(a.id, {
        agencyUp: 0,
        agencyDown: 0,
        agencyMs: 0,
        unmaskUp: 0,
        unmaskDown: 0,
        unmaskAgencyMs: 0,
      });
    const rss0 = process.memoryUsage.rss();
    let rssPeak = rss0;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 10);
    const t0 = performance.now();
    const result = await coordinator.query(SQL, { mode, deadlineMs: 600_000 }).finally(() => clearInterval(sampler));
    const queryMs = performance.now() - t0;
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    this.check(result, dropped);
    const answered = this.agencies
      .filter((a) => !dropped.includes(a.id))
      .map((a) => this.traffic.get(a.id))
      .filter((t) => t !== undefined);
    const sum = (f: (t: Traffic) => number): number => answered.reduce((s, t) => s + f(t), 0);
    const k = Math.max(1, answered.length);
    return {
      agencies: this.agencies.length,
      graph:
        graph === 'dense' || this.sparse === null ? 'dense' : `k=${this.sparse.degree} t=${this.sparse.shareThreshold}`,
      dropoutPct: Math.round((100 * dropped.length) / this.agencies.length),
      dropped: dropped.length,
      mode,
      queryMs,
      coordinatorMs: queryMs - sum((t) => t.agencyMs + t.unmaskAgencyMs),
      correctionMs: result.secureAggregation?.correctionMs ?? 0,
      agencyRound1Ms: sum((t) => t.agencyMs) / k,
      agencyRound2Ms: sum((t) => t.unmaskAgencyMs) / k,
      bytesUpPerAgency: sum((t) => t.agencyUp + t.unmaskUp) / k,
      bytesDownPerAgency: sum((t) => t.agencyDown + t.unmaskDown) / k,
      coordinatorBytesIn: sum((t) => t.agencyUp + t.unmaskUp),
      coordinatorBytesOut: sum((t) => t.agencyDown + t.unmaskDown),
      rssGrowthMiB: (rssPeak - rss0) / 1024 / 1024,
    };
  }

  /** The released rows must equal the plaintext computation over the survivors' rows. */
  private check(result: QueryResult, dropped: readonly string[]): void {
    const survivors = this.agencies.map((a, i) => (dropped.includes(a.id) ? [] : (this.rows[i] ?? [])));
    const plan = parseQuery(SQL, SCHEMA);
    const expected = referenceOfRows(
      plan,
      SCHEMA.datasets['residents'] ??
        (() => {
          throw new Error('no dataset');
        })(),
      survivors.flat(),
      { minAgencies: 2, minGroupSize: 1, exactRelease: true, transparencyLog: false },
    );
    const diff = compareRows(result.rows, expected.rows);
    if (diff !== null) throw new Error(`secure aggregation returned a wrong result: ${diff}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.coordinators.values()) await c.close();
    for (const a of this.agencies) await a.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface Recovery {
  readonly dropped: number;
  readonly survivors: number;
  readonly finalizeMs: number;
  readonly perDroppedMs: number | null;
  readonly perPairMs: number | null;
}

/** The coordinator's recovery cost alone, at the secagg layer (no HE, no transport). */
function recoveryScaling(n: number, slots: number, droppedCounts: readonly number[], reps: number): Recovery[] {
  const modulus = 1152921504606830593n; // BFV_N8192_T60's plain modulus (a 60-bit batching prime)
  const ids = Array.from({ length: n }, (_, i) => `a${String(i).padStart(2, '0')}`);
  const secrets = new Map(ids.map((id) => [id, new Uint8Array(randomBytes(32))]));
  const publicKeys = new Map(ids.map((id) => [id, x25519PublicKey(secrets.get(id) ?? new Uint8Array(32))]));
  const participants = new Map(
    ids.map((id) => [
      id,
      new SecAggParticipant({
        federationId: 'bench',
        self: id,
        agreementSecret: secrets.get(id) ?? new Uint8Array(32),
        peerKeys: publicKeys,
      }),
    ]),
  );
  const threshold = defaultThreshold(n);
  let clock = Date.now();
  let query = 0;
  const out: Recovery[] = [];
  for (const d of droppedCounts) {
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      clock += 10_000;
      const queryId = `recovery-${++query}`;
      const dropped = new Set(ids.filter((_, i) => (i * 7 + r) % n < d));
      const aggregation = new SecAggAggregation({
        federationId: 'bench',
        queryId,
        participants: ids,
        threshold,
        length: slots,
        modulus,
        agreementKeys: publicKeys,
      });
      const shares = new Map<string, ReturnType<SecAggParticipant['round1']>['shares']>();
      for (const id of ids) {
        const r1 = participants
          .get(id)
          ?.round1({ queryId, participants: ids, threshold, length: slots, modulus, expiresAt: clock + 5_000 }, clock);
        if (r1 === undefined || dropped.has(id)) continue;
        shares.set(id, r1.shares);
        aggregation.acceptRound1(id, r1);
      }
      const set = aggregation.fixSurvivors();
      for (const id of set.survivors) {
        const answer = participants.get(id)?.round2({ queryId, ...set }, aggregation.sharesFor(id), clock);
        if (answer !== undefined) aggregation.acceptRound2(id, answer);
      }
      const t0 = performance.now();
      aggregation.finalize();
      times.push(performance.now() - t0);
    }
    const ms = median(times);
    out.push({ dropped: d, survivors: n - d, finalizeMs: ms, perDroppedMs: null, perPairMs: null });
  }
  const base = out[0]?.finalizeMs ?? 0;
  return out.map((r) =>
    r.dropped === 0
      ? r
      : {
          ...r,
          perDroppedMs: (r.finalizeMs - base) / r.dropped,
          perPairMs: (r.finalizeMs - base) / (r.dropped * r.survivors),
        },
  );
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const reps = Number(option(args, '--reps') ?? 3);
  const sizes = (option(args, '--agencies') ?? '10,32,64,128').split(',').map(Number);
  const scalingSizes = (option(args, '--scaling') ?? '64,128,256,512').split(',').map(Number);
  const rowsPerAgency = Number(option(args, '--rows') ?? 2000);
  if (
    !Number.isSafeInteger(reps) ||
    reps < 1 ||
    [...sizes, ...scalingSizes].some((n) => !Number.isSafeInteger(n) || n < 3)
  ) {
    throw new RangeError('--reps needs a positive integer, --agencies and --scaling integers ≥ 3');
  }
  const results: Measured[] = [];
  for (const n of sizes) results.push(...(await measureSize(n, rowsPerAgency, reps, json)));
  const baseline = (n: number): number =>
    results.find((r) => r.agencies === n && r.mode === 'encrypted-unmasked')?.queryMs ?? Number.NaN;
  const zeroCorrection = (n: number, graph: string): number =>
    results.find((r) => r.agencies === n && r.graph === graph && r.mode === 'encrypted' && r.dropped === 0)
      ?.correctionMs ?? Number.NaN;
  const rows = results.map((r) => ({
    ...r,
    ratio: r.queryMs / baseline(r.agencies),
    coordinatorPerNLogN: (r.coordinatorMs * 1000) / (r.agencies * Math.log2(r.agencies)),
    recoveryMsPerDropped: r.dropped === 0 ? null : (r.correctionMs - zeroCorrection(r.agencies, r.graph)) / r.dropped,
  }));
  const headline =
    rows.find((r) => r.agencies === 10 && r.mode === 'encrypted' && r.dropped === 0)?.ratio ?? Number.NaN;
  const exponent = (sparse: boolean): number =>
    fittedExponent(
      rows
        .filter((r) => r.mode === 'encrypted' && r.dropped === 0 && (r.graph !== 'dense') === sparse)
        .map((r) => [r.agencies, r.coordinatorMs]),
    );
  const recoveryAgencies = 64;
  const recoverySlots = 8192;
  const recovery = recoveryScaling(recoveryAgencies, recoverySlots, [0, 1, 2, 4, 8, 16, 21], reps);
  const scaling = coordinatorScaling(scalingSizes, 512, 0.1, reps);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'secagg',
        ratio: headline,
        target: TARGET,
        reps,
        rowsPerAgency,
        results: rows,
        exponents: { dense: exponent(false), sparse: exponent(true) },
        recovery: { agencies: recoveryAgencies, slots: recoverySlots, results: recovery },
        scaling,
      })}\n`,
    );
    return;
  }
  process.stdout.write(`${queryTable(rows)}\n`);
  process.stdout.write(
    `\ncoordinator time ~ n^e over the sizes above (0 % dropouts, log-log least squares): dense e = ${shown(exponent(false))}, sparse e = ${shown(exponent(true))}\n`,
  );
  process.stdout.write(`\n${scalingTable(scaling)}\n`);
  process.stdout.write(
    `\ncoordinator recovery alone (SecAggAggregation.finalize), ${recoveryAgencies} agencies, ${recoverySlots} masked slots, threshold ${defaultThreshold(recoveryAgencies)}:\n${renderTable(
      ['dropped', 'survivors', 'finalize', 'extra per dropped', 'extra per (survivor, dropped) pair'],
      recovery.map((r) => [
        String(r.dropped),
        String(r.survivors),
        `${r.finalizeMs.toFixed(1)} ms`,
        r.perDroppedMs === null ? '—' : `${r.perDroppedMs.toFixed(1)} ms`,
        r.perPairMs === null ? '—' : `${(r.perPairMs * 1000).toFixed(0)} µs`,
      ]),
      ['right', 'right', 'right', 'right', 'right'],
    )}\n`,
  );
  process.stdout.write(
    `\nheadline: masked / unmasked query time, 10 agencies, 0 % dropouts = ${headline.toFixed(2)} (target ≤ ${TARGET}); ${reps} repetitions, median; ${rowsPerAgency} rows per agency\n`,
  );
}

/** Every configuration at one size, each the median of `reps` repetitions. */
async function measureSize(n: number, rowsPerAgency: number, reps: number, json: boolean): Promise<Measured[]> {
  const bar = progressBar(`secagg: ${n} agencies`, { json });
  await using fed = await Federation.create(n, rowsPerAgency);
  const configs: [AnswerMode, GraphName, number][] = [['encrypted-unmasked', 'dense', 0]];
  for (const graph of fed.coordinators.keys())
    for (const rate of [0, 0.1, 0.3]) configs.push(['encrypted', graph, rate]);
  for (const graph of fed.coordinators.keys()) await fed.run('encrypted', graph, []); // warm-up: JIT, SEAL worker, key caches
  await fed.run('encrypted-unmasked', 'dense', []);
  const samples = configs.map((): Measured[] => []);
  let done = 0;
  // Repetitions outermost, so drift on a shared machine hits every configuration alike.
  for (let r = 0; r < reps; r++) {
    for (const [c, [mode, graph, rate]] of configs.entries()) {
      const k = Math.floor(rate * n);
      // A different dropout set each repetition, reproducible from the repetition number.
      const dropped = fed.agencies.map((a) => a.id).filter((_, i) => (i + r * 3) % n < k);
      samples[c]?.push(await fed.run(mode, graph, dropped));
      bar.update(++done, configs.length * reps, `${mode} ${graph} ${Math.round(rate * 100)}%`);
    }
  }
  bar.done();
  const out: Measured[] = [];
  for (const list of samples) {
    const pick = (f: (m: Measured) => number): number => median(list.map(f));
    const first = list[0];
    if (first === undefined) continue;
    out.push({
      ...first,
      queryMs: pick((m) => m.queryMs),
      coordinatorMs: pick((m) => m.coordinatorMs),
      correctionMs: pick((m) => m.correctionMs),
      agencyRound1Ms: pick((m) => m.agencyRound1Ms),
      agencyRound2Ms: pick((m) => m.agencyRound2Ms),
      bytesUpPerAgency: pick((m) => m.bytesUpPerAgency),
      bytesDownPerAgency: pick((m) => m.bytesDownPerAgency),
      coordinatorBytesIn: pick((m) => m.coordinatorBytesIn),
      coordinatorBytesOut: pick((m) => m.coordinatorBytesOut),
      rssGrowthMiB: Math.max(...list.map((m) => m.rssGrowthMiB)),
    });
  }
  return out;
}

type TableRow = Measured & { ratio: number; coordinatorPerNLogN: number; recoveryMsPerDropped: number | null };

function queryTable(rows: readonly TableRow[]): string {
  return renderTable(
    [
      'agencies',
      'mode',
      'graph',
      'dropped',
      'query',
      '× unmasked',
      'agency r1',
      'agency r2',
      'coordinator',
      'coord / n·log2 n',
      'correction',
      'recovery/dropped',
      'agency ↑',
      'agency ↓',
      'coord in',
      'coord out',
      'RSS growth',
    ],
    rows.map((r) => [
      String(r.agencies),
      r.mode === 'encrypted' ? 'masked' : 'unmasked',
      r.mode === 'encrypted' ? r.graph : '—',
      `${r.dropped} (${r.dropoutPct}%)`,
      `${r.queryMs.toFixed(0)} ms`,
      r.ratio.toFixed(2),
      `${r.agencyRound1Ms.toFixed(1)} ms`,
      `${r.agencyRound2Ms.toFixed(1)} ms`,
      `${r.coordinatorMs.toFixed(1)} ms`,
      `${r.coordinatorPerNLogN.toFixed(0)} µs`,
      `${r.correctionMs.toFixed(1)} ms`,
      r.recoveryMsPerDropped === null ? '—' : `${r.recoveryMsPerDropped.toFixed(2)} ms`,
      kib(r.bytesUpPerAgency),
      kib(r.bytesDownPerAgency),
      kib(r.coordinatorBytesIn),
      kib(r.coordinatorBytesOut),
      `${r.rssGrowthMiB.toFixed(0)} MiB`,
    ]),
    ['right', 'left', 'left', ...Array<'right'>(14).fill('right')],
  );
}

function scalingTable(scaling: readonly Scaling[]): string {
  const fit = (graph: 'dense' | 'sparse'): string =>
    fittedExponent(scaling.filter((s) => s.graph === graph).map((s) => [s.agencies, s.coordinatorMs])).toFixed(2);
  return `the coordinator's secure-aggregation work alone (accept round 1, fix the survivors, route the shares, check round 2, finalize), 512 masked slots, 10 % dropped:\n${renderTable(
    ['agencies', 'graph', 'shares held', 'held bytes', 'coordinator', 'per n·log2 n', 'per n²', 'agency round 1'],
    scaling.map((s) => [
      String(s.agencies),
      s.graph === 'dense' ? 'dense' : `k=${s.degree} t=${s.shareThreshold}`,
      String(s.sharesHeld),
      kib(s.heldBytes),
      `${s.coordinatorMs.toFixed(1)} ms`,
      `${((s.coordinatorMs * 1000) / (s.agencies * Math.log2(s.agencies))).toFixed(1)} µs`,
      `${((s.coordinatorMs * 1000) / (s.agencies * s.agencies)).toFixed(2)} µs`,
      `${s.agencyRound1Ms.toFixed(1)} ms`,
    ]),
    ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
  )}\nfitted exponent of the coordinator's time: dense ${fit('dense')}, sparse ${fit('sparse')}`;
}

/** A fitted exponent, or a dash where fewer than two sizes had a point to fit. */
function shown(e: number): string {
  return Number.isFinite(e) ? e.toFixed(2) : '— (fewer than two sizes)';
}
