/**
 * The coordinator's secure-aggregation work and state alone, dense against SecAgg+, as n grows:
 * in-process participants (no HE, no transport), the coordinator's calls timed one by one and
 * summed (accepting round 1, fixing the survivors, routing each survivor its shares, checking
 * round 2, finalizing the correction); what it holds counted from the round-1 material.
 */
import { randomBytes } from 'node:crypto';
import { x25519PublicKey } from '../../src/crypto/x25519.js';
import { SecAggAggregation } from '../../src/secagg/aggregation.js';
import { defaultThreshold, SecAggParticipant, type Round1Output } from '../../src/secagg/participant.js';
import { sparseGraphFor } from '../../src/secagg/sparse-params.js';
import { median } from './stats.js';

/** The largest n at which the dense protocol is measured here (its agencies' cost is n² boxes). */
const DENSE_UP_TO = 256;
const MODULUS = 1152921504606830593n; // BFV_N8192_T60's plain modulus

/** One size and graph, medians over the repetitions. */
export interface Scaling {
  readonly agencies: number;
  readonly graph: 'dense' | 'sparse';
  readonly degree: number;
  readonly shareThreshold: number;
  /** Sealed shares the coordinator holds after round 1 (n² dense, n·(k + 1) sparse, survivors only). */
  readonly sharesHeld: number;
  /** Their bytes, with the commitments. */
  readonly heldBytes: number;
  readonly coordinatorMs: number;
  /** One agency's round 1 (masks, shares, sealing), mean. */
  readonly agencyRound1Ms: number;
}

/** Least-squares slope of log y against log x: the e of y ~ x^e (NaN for fewer than two points). */
export function fittedExponent(points: readonly (readonly [number, number])[]): number {
  if (points.length < 2) return Number.NaN;
  const xs = points.map(([x]) => Math.log(x));
  const ys = points.map(([, y]) => Math.log(y));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return num / den;
}

function participantsOf(n: number): { ids: string[]; keys: Map<string, Uint8Array>; parts: SecAggParticipant[] } {
  const ids = Array.from({ length: n }, (_, i) => `a${String(i).padStart(4, '0')}`);
  const secrets = ids.map(() => new Uint8Array(randomBytes(32)));
  const keys = new Map(ids.map((id, i) => [id, x25519PublicKey(secrets[i] ?? new Uint8Array(32))]));
  const parts = ids.map(
    (self, i) =>
      new SecAggParticipant({
        federationId: 'bench',
        self,
        agreementSecret: secrets[i] ?? new Uint8Array(32),
        peerKeys: keys,
      }),
  );
  return { ids, keys, parts };
}

let clock = Date.now();
let queries = 0;

/** One query at the secagg layer; returns the coordinator's summed time and what it held. */
function once(
  setup: ReturnType<typeof participantsOf>,
  graph: { degree: number; shareThreshold: number } | undefined,
  slots: number,
  dropRate: number,
): { coordinatorMs: number; agencyMs: number; sharesHeld: number; heldBytes: number } {
  const { ids, keys, parts } = setup;
  const n = ids.length;
  clock += 10_000;
  const queryId = `scaling-${++queries}`;
  const q = {
    queryId,
    participants: ids,
    threshold: defaultThreshold(n),
    length: slots,
    modulus: MODULUS,
    expiresAt: clock + 600_000,
    ...(graph === undefined ? {} : { graph }),
  };
  const dropped = new Set(ids.filter((_, i) => (i * 7 + queries) % n < Math.floor(dropRate * n)));
  let coordinatorMs = 0;
  const timed = <T>(f: () => T): T => {
    const t0 = performance.now();
    const out = f();
    coordinatorMs += performance.now() - t0;
    return out;
  };
  const aggregation = timed(() => new SecAggAggregation({ federationId: 'bench', ...q, agreementKeys: keys }));
  const a0 = performance.now();
  const outputs: (Round1Output | undefined)[] = parts.map((p, i) =>
    dropped.has(ids[i] ?? '') ? undefined : p.round1(q, clock),
  );
  const agencyMs = (performance.now() - a0) / (n - dropped.size);
  let sharesHeld = 0;
  let heldBytes = 0;
  outputs.forEach((out, i) => {
    if (out === undefined) return;
    sharesHeld += out.shares.length;
    heldBytes += out.shares.reduce(
      (s, x) => s + x.box.length + x.nonce.length,
      32 + 32 * out.pairwiseCommitments.length,
    );
    timed(() => aggregation.acceptRound1(ids[i] ?? '', out));
  });
  const set = timed(() => aggregation.fixSurvivors());
  for (const id of set.survivors) {
    const shares = timed(() => aggregation.sharesFor(id));
    const answer = parts[ids.indexOf(id)]?.round2({ queryId, ...set }, shares, clock);
    if (answer !== undefined) timed(() => aggregation.acceptRound2(id, answer));
  }
  timed(() => aggregation.finalize());
  return { coordinatorMs, agencyMs, sharesHeld, heldBytes };
}

/** Dense (up to 256 agencies) and SecAgg+ at each size, `dropRate` of the agencies dropped. */
export function coordinatorScaling(sizes: readonly number[], slots: number, dropRate: number, reps: number): Scaling[] {
  const out: Scaling[] = [];
  for (const n of sizes) {
    const setup = participantsOf(n);
    const sparse = sparseGraphFor(n);
    const graphs: ('dense' | 'sparse')[] = [];
    if (n <= DENSE_UP_TO) graphs.push('dense');
    if (sparse !== null) graphs.push('sparse');
    for (const graph of graphs) {
      const g = graph === 'sparse' && sparse !== null ? sparse : undefined;
      once(setup, g, slots, dropRate); // warm-up: box keys, JIT
      const runs = Array.from({ length: reps }, () => once(setup, g, slots, dropRate));
      const first = runs[0];
      if (first === undefined) continue;
      out.push({
        agencies: n,
        graph,
        degree: g?.degree ?? n - 1,
        shareThreshold: g?.shareThreshold ?? defaultThreshold(n),
        sharesHeld: first.sharesHeld,
        heldBytes: first.heldBytes,
        coordinatorMs: median(runs.map((r) => r.coordinatorMs)),
        agencyRound1Ms: median(runs.map((r) => r.agencyMs)),
      });
    }
  }
  return out;
}
