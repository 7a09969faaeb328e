/**
 * Who masks with whom and who holds whose shares: the neighbourhoods of secure aggregation.
 *
 * Dense (Bonawitz et al. 2017): every participant is every other's neighbour. Sparse (SecAgg+,
 * Bell et al., CCS 2020): a Harary graph H(k, n) — the participants on a ring, each joined to the
 * k/2 nearest on either side — laid over a pseudorandom permutation of U. The permutation comes
 * from a ChaCha20 stream keyed by a tagged digest of public query data (federation, query id,
 * degree, the sorted participants), so every party derives the same graph from the signed query
 * alone, and a graph is fixed before anyone answers. The ring makes the graph k-regular and
 * k-connected by construction; the permutation makes every party's neighbourhood a uniformly
 * random k-subset of the others, which is what the parameter analysis (sparse-params.ts) assumes.
 */
import { createCipheriv } from 'node:crypto';
import { taggedDigest } from '../crypto/digest.js';

const GRAPH_TAG = 'fedstat/v1/secagg/graph';
const ZERO_IV = new Uint8Array(16);

/** What the graph of one query depends on: all of it public and signed in the query. */
export interface GraphSeed {
  readonly federationId: string;
  readonly queryId: string;
  /** U, sorted as in the query. */
  readonly participants: readonly string[];
  /** k, even, 2 ≤ k ≤ n − 2; absent for the dense (complete) graph. */
  readonly degree?: number;
}

/** The neighbourhoods of one query, by participant index in U. */
export interface Neighbourhoods {
  /** True for the complete graph (dense protocol). */
  readonly dense: boolean;
  /** Neighbours of participant i (never i itself), ascending indices. */
  neighbours(i: number): readonly number[];
  /** Holders of i's self-mask shares: i and its neighbours, ascending indices. */
  holders(i: number): readonly number[];
  /** Where `holder` stands in `holders(i)`, or −1 when it holds none of i's shares. */
  holderPosition(i: number, holder: number): number;
}

/** True when k is a valid sparse degree for n participants (even, 2 ≤ k ≤ n − 2). */
export function isValidDegree(k: unknown, n: number): k is number {
  return typeof k === 'number' && Number.isSafeInteger(k) && k >= 2 && k % 2 === 0 && k <= n - 2;
}

/** The neighbourhoods of the query: complete without a degree, the seeded Harary graph with one. */
export function neighbourhoods(seed: GraphSeed): Neighbourhoods {
  const n = seed.participants.length;
  if (seed.degree === undefined) return completeGraph(n);
  if (!isValidDegree(seed.degree, n)) throw new RangeError(`a sparse degree is even and in 2..${n - 2}`);
  return hararyGraph(seed as GraphSeed & { degree: number });
}

function completeGraph(n: number): Neighbourhoods {
  const all = Array.from({ length: n }, (_, i) => i);
  return {
    dense: true,
    neighbours: (i) => all.filter((j) => j !== i),
    holders: () => all,
    holderPosition: (_i, holder) => (holder >= 0 && holder < n ? holder : -1),
  };
}

function hararyGraph(seed: GraphSeed & { readonly degree: number }): Neighbourhoods {
  const n = seed.participants.length;
  const order = permutation(seed);
  const position = new Int32Array(n);
  order.forEach((member, p) => (position[member] = p));
  const half = seed.degree / 2;
  const lists: number[][] = [];
  for (let i = 0; i < n; i++) {
    const p = position[i] ?? 0;
    const list: number[] = [];
    for (let d = 1; d <= half; d++) list.push(order[(p + d) % n] ?? 0, order[(p - d + n) % n] ?? 0);
    lists.push(list.sort((a, b) => a - b));
  }
  const holderLists = lists.map((list, i) => [...list, i].sort((a, b) => a - b));
  return {
    dense: false,
    neighbours: (i) => lists[i] ?? [],
    holders: (i) => holderLists[i] ?? [],
    holderPosition: (i, holder) => binarySearch(holderLists[i] ?? [], holder),
  };
}

/** A uniformly random permutation of 0..n−1 (Fisher–Yates, rejection sampling: no modulo bias). */
function permutation(seed: GraphSeed): number[] {
  const { federationId, queryId, participants, degree } = seed;
  const key = taggedDigest(GRAPH_TAG, federationId, queryId, degree ?? 0, participants.length, ...participants);
  const stream = createCipheriv('chacha20', key, ZERO_IV);
  let words = new DataView(new ArrayBuffer(0));
  let at = 0;
  const next = (): number => {
    if (at >= words.byteLength) {
      const bytes = stream.update(new Uint8Array(4096));
      words = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      at = 0;
    }
    at += 4;
    return words.getUint32(at - 4, true); // little-endian on every platform: the same graph everywhere
  };
  const order = Array.from({ length: participants.length }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = 2 ** 32 - (2 ** 32 % bound); // accept below the largest multiple of bound
    let r = next();
    while (r >= limit) r = next();
    const j = r % bound;
    [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
  }
  return order;
}

function binarySearch(sorted: readonly number[], v: number): number {
  let [lo, hi] = [0, sorted.length - 1];
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = sorted[mid] ?? 0;
    if (m === v) return mid;
    if (m < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
