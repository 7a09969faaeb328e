/**
 * The parameters of one secure aggregation and the rules both sides check them against: party
 * ids, the sorted participant list U (index of a party = its position; Shamir x = index + 1),
 * the threshold bounds, the vector length and the plain modulus.
 */
import { FedstatError } from '../errors.js';
import { isValidDegree, neighbourhoods, type Neighbourhoods } from './graph.js';
import { MAX_SHARES } from './shamir.js';
import type { SparseGraph } from './sparse-params.js';

/** Party, query and federation ids are at most this many UTF-8 bytes (keeps HKDF info ≤ 1024 bytes). */
const MAX_ID_BYTES = 256;
const MAX_PARTICIPANTS = MAX_SHARES;
/** The longest masked vector: 32 ciphertexts of 8192 slots. */
export const MAX_VECTOR_LENGTH = 32 * 8192;

// The same few ids are encoded for every seed, box and commitment of every query: memoised.
const encodedIds = new Map<string, Uint8Array>();
const MAX_CACHED_IDS = 4096;

/**
 * UTF-8 bytes of an id with a 2-byte big-endian length prefix, so concatenations are injective.
 * The result may be shared between callers: copy it, never mutate it.
 */
export function encodeId(id: string, what: string): Uint8Array {
  let out = encodedIds.get(id);
  if (out !== undefined) return out;
  if (!isValidId(id)) throw new RangeError(`${what} must be a non-empty string of at most ${MAX_ID_BYTES} UTF-8 bytes`);
  const bytes = Buffer.from(id, 'utf8');
  out = new Uint8Array(2 + bytes.length);
  out[0] = bytes.length >> 8;
  out[1] = bytes.length & 0xff;
  out.set(bytes, 2);
  if (encodedIds.size >= MAX_CACHED_IDS) encodedIds.clear();
  encodedIds.set(id, out);
  return out;
}

/** 8-byte big-endian encoding of a query's expiry (ms since the epoch): part of its identity. */
export function encodeExpiry(expiresAt: number): Uint8Array {
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0)
    throw new RangeError('expiresAt must be a non-negative safe integer');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(expiresAt));
  return out;
}

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && Buffer.byteLength(id, 'utf8') <= MAX_ID_BYTES;
}

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

const knownPrimes = new Set<bigint>();

/** True for a prime 2 < m < 2^63 (Miller–Rabin with the first 12 prime bases: exact below 3.3·10^24). */
export function isValidModulus(m: unknown): m is bigint {
  if (typeof m !== 'bigint' || m <= 2n || m >= 2n ** 63n || m % 2n === 0n) return false;
  if (knownPrimes.has(m)) return true;
  let d = m - 1n;
  let s = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    s++;
  }
  outer: for (const a of [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n]) {
    if (a % m === 0n) continue;
    let x = modPow(a, d, m);
    if (x === 1n || x === m - 1n) continue;
    for (let r = 1; r < s; r++) {
      x = (x * x) % m;
      if (x === m - 1n) continue outer;
    }
    return false;
  }
  if (knownPrimes.size < 64) knownPrimes.add(m);
  return true;
}

/** The default threshold: ⌈2n/3⌉ (a third of the agencies may drop out), never below the minimum. */
export function defaultThreshold(n: number): number {
  return Math.max(minimumThreshold(n), Math.ceil((2 * n) / 3));
}

/**
 * The smallest safe threshold: t with 2t ≥ n + 2, i.e. a strict majority for even n and one
 * more for odd n (⌊(n+1)/2⌋ + 1; 1 for n = 1, where there is nothing to hide from anyone).
 *
 * Why. A coordinator that equivocates (tells different agencies different survivor sets, one
 * each: they refuse a second) unmasks agency j when it gets t shares of b_j — from the set A of
 * agencies told "j survived", j itself among them — and every pairwise seed s_jk: for k ∈ `A ∖ {j}`
 * only j can reveal it, so j must be told "k dropped". j's own set then has |S_j| ≥ t survivors
 * and |D_j| ≥ |A| − 1 ≥ t − 1 dropped agencies, which needs n ≥ 2t − 1. So 2t ≥ n + 2 rules it
 * out. A plain majority ⌊n/2⌋ + 1 is not enough when n is odd: with n = 3, t = 2 and the sets
 * `{j,k3 | k2}`, `{j,k2 | k3}`, `{k2,k3 | j}` handed to j, k2, k3, every agency is unmasked (a test
 * replays this). With c agencies colluding with such a coordinator the condition becomes
 * 2t ≥ n + c + 2 (see `colludersTolerated`); an honest-but-curious coordinator needs only `t > c`.
 */
export function minimumThreshold(n: number): number {
  return n <= 1 ? 1 : Math.floor((n + 1) / 2) + 1;
}

/**
 * How many agencies may collude with a coordinator that equivocates about the survivor set
 * without unmasking an honest agency: the largest c with 2t ≥ n + c + 2 (−1: not even none).
 */
export function colludersTolerated(n: number, threshold: number): number {
  return n <= 1 ? 0 : Math.max(-1, 2 * threshold - n - 2);
}

/** The validated parameters of one secure aggregation (frozen). */
export interface SecAggParams {
  /** The federation's id (at most 256 UTF-8 bytes); bound into every seed, box and commitment. */
  readonly federationId: string;
  /** The query's id (at most 256 UTF-8 bytes); bound like `federationId`. */
  readonly queryId: string;
  /** U: the agencies' ids (1 to 4096), sorted in code-unit order (the default JS sort), unique. */
  readonly participants: readonly string[];
  /** t: how many survivors the unmasking needs, from `minimumThreshold(n)` to n. */
  readonly threshold: number;
  /** Entries per masked vector, 1 to 262,144 (32 ciphertexts of 8192 slots). */
  readonly length: number;
  /** The prime modulus m (`2 < m < 2^63`) of the vectors and masks. */
  readonly modulus: bigint;
  /**
   * SecAgg+: mask with and share among `degree` neighbours only, `shareThreshold` of the k + 1
   * holders rebuilding a self-mask seed. Absent: the dense protocol (everyone with everyone).
   */
  readonly graph?: SparseGraph;
}

/**
 * Validates parameters that may come from a peer: BAD_MESSAGE for malformed ones,
 * POLICY_REFUSED for a threshold outside [minimumThreshold(n), n].
 */
export function checkParams(p: SecAggParams): SecAggParams {
  const bad = (m: string): FedstatError => new FedstatError('BAD_MESSAGE', `secure aggregation: ${m}`);
  if (!isValidId(p.federationId))
    throw bad(`federation id must be a non-empty string of at most ${MAX_ID_BYTES} bytes`);
  if (!isValidId(p.queryId)) throw bad(`query id must be a non-empty string of at most ${MAX_ID_BYTES} bytes`);
  const u: readonly unknown[] = p.participants;
  if (!Array.isArray(u) || u.length < 1 || u.length > MAX_PARTICIPANTS)
    throw bad(`participants must list 1..${MAX_PARTICIPANTS} agencies`);
  for (let i = 0; i < u.length; i++) {
    if (!isValidId(u[i])) throw bad(`participant ${i} is not a valid party id`);
    if (i > 0 && String(u[i - 1]) >= String(u[i])) throw bad('participants must be sorted and unique');
  }
  const n = u.length;
  if (!Number.isSafeInteger(p.threshold)) throw bad('threshold must be an integer');
  if (p.threshold < minimumThreshold(n) || p.threshold > n) {
    throw new FedstatError(
      'POLICY_REFUSED',
      `secure aggregation: threshold ${p.threshold} is outside ${minimumThreshold(n)}..${n} for ${n} agencies (below ${minimumThreshold(n)} a coordinator could unmask an agency); raise it`,
    );
  }
  if (!Number.isSafeInteger(p.length) || p.length < 1 || p.length > MAX_VECTOR_LENGTH)
    throw bad(`vector length must be in 1..${MAX_VECTOR_LENGTH}`);
  if (!isValidModulus(p.modulus)) throw bad('modulus must be a prime 2 < m < 2^63');
  const graph = p.graph === undefined ? undefined : checkGraph(p.graph, n);
  return Object.freeze({
    federationId: p.federationId,
    queryId: p.queryId,
    participants: Object.freeze([...(u as readonly string[])]),
    threshold: p.threshold,
    length: p.length,
    modulus: p.modulus,
    ...(graph === undefined ? {} : { graph }),
  });
}

/** A sparse graph's degree and threshold: BAD_MESSAGE when malformed, POLICY_REFUSED when t is unsafe. */
function checkGraph(g: SparseGraph, n: number): SparseGraph {
  const { degree: k, shareThreshold: t } = g;
  if (!isValidDegree(k, n))
    throw new FedstatError('BAD_MESSAGE', `secure aggregation: a sparse degree is even and in 2..${n - 2}`);
  if (!Number.isSafeInteger(t) || t < minimumThreshold(k + 1) || t > k + 1) {
    throw new FedstatError(
      'POLICY_REFUSED',
      `secure aggregation: share threshold ${t} is outside ${minimumThreshold(k + 1)}..${k + 1} for ${k} neighbours (below ${minimumThreshold(k + 1)} a coordinator could unmask an agency); raise it`,
    );
  }
  return Object.freeze({ degree: k, shareThreshold: t });
}

/** The query's neighbourhoods: the complete graph (dense) or its seeded sparse graph. */
export function graphOf(p: SecAggParams): Neighbourhoods {
  const { federationId, queryId, participants, graph } = p;
  return neighbourhoods({
    federationId,
    queryId,
    participants,
    ...(graph === undefined ? {} : { degree: graph.degree }),
  });
}

/** Shares of a self-mask seed needed to rebuild it: the query threshold (dense) or the graph's. */
export function shareThreshold(p: SecAggParams): number {
  return p.graph?.shareThreshold ?? p.threshold;
}

/** The position of every participant in U. */
export function indexOf(participants: readonly string[]): ReadonlyMap<string, number> {
  return new Map(participants.map((id, i) => [id, i]));
}
