/**
 * Choosing the SecAgg+ graph for n agencies: the degree k and the per-neighbourhood Shamir
 * threshold t, from the fraction γ of agencies that may collude with the coordinator, the
 * fraction δ that may drop out, and the failure probabilities 2^-σ (privacy) and 2^-η (the query
 * completes). docs/threat-model.md derives the bounds; in short, with every neighbourhood a
 * uniformly random k-subset of the other n − 1 agencies (graph.ts), C = ⌊γn⌋ and D = ⌊δn⌋:
 *
 * - privacy, shares: n · P[Hyp(n−1, C, k) ≥ t − 1] ≤ 2^-σ — no honest agency has t − 1 colluding
 *   neighbours, so with itself it never reaches t holders it does not control;
 * - privacy, connectivity: n · Π_{j<k/2} (C+D−j)/(n−j) ≤ 2^-σ — no k/2 ring neighbours in a row are
 *   all colluding or dropped, so the honest survivors stay connected and only their total shows;
 * - completion: n · P[Hyp(n−1, D, k) ≥ k + 2 − t] ≤ 2^-η — every survivor keeps t holders;
 * - equivocation: t ≥ minimumThreshold(k + 1), as the dense protocol demands of its threshold.
 *
 * The smallest even k meeting all four, with the smallest t, is the choice; none below n − 1
 * means the dense protocol.
 */
import { FedstatError } from '../errors.js';
import { isValidDegree } from './graph.js';
import { minimumThreshold } from './params.js';

/** The assumptions the graph is sized for. */
export interface SparseAssumptions {
  /** γ: the fraction of agencies that may collude with the coordinator (default 0.1). */
  readonly corruptFraction?: number;
  /** δ: the fraction of agencies that may drop out over both rounds (default 0.3). */
  readonly dropoutFraction?: number;
  /** σ: privacy fails with probability at most 2^-σ (default 40). */
  readonly securityBits?: number;
  /** η: a query fails for too few shares with probability at most 2^-η (default 20). */
  readonly correctnessBits?: number;
}

/** A sparse graph's parameters: degree k (even) and per-neighbourhood threshold t ≤ k + 1. */
export interface SparseGraph {
  /** k: neighbours of every agency. */
  readonly degree: number;
  /** t: shares of an agency's self-mask seed (held by it and its k neighbours) needed to rebuild it. */
  readonly shareThreshold: number;
}

/** Federations of at most this many agencies use the dense protocol (the size rule). */
export const DENSE_UP_TO = 64;

const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push((logFactorials[i - 1] ?? 0) + Math.log(i));
  return logFactorials[n] ?? 0;
}

function logChoose(a: number, b: number): number {
  return b < 0 || b > a ? -Infinity : logFactorial(a) - logFactorial(b) - logFactorial(a - b);
}

/** P[X ≥ a] for X ~ Hypergeometric(population N, K marked, k drawn). */
export function hypergeometricTail(N: number, K: number, k: number, a: number): number {
  let sum = 0;
  const total = logChoose(N, k);
  for (let x = Math.max(a, 0); x <= Math.min(K, k); x++)
    sum += Math.exp(logChoose(K, x) + logChoose(N - K, k - x) - total);
  return Math.min(1, sum);
}

/** P[a given run of h ring positions is all inside a uniformly random R-subset of n]. */
function runProbability(n: number, R: number, h: number): number {
  let p = 1;
  for (let j = 0; j < h; j++) p *= Math.max(R - j, 0) / (n - j);
  return p;
}

const chosen = new Map<string, SparseGraph | null>();

/**
 * The sparse graph for n agencies under `assumptions`, or null when no degree below n − 1 meets
 * the bounds (then only the dense protocol does).
 */
export function sparseGraphFor(n: number, assumptions: SparseAssumptions = {}): SparseGraph | null {
  const gamma = assumptions.corruptFraction ?? 0.1;
  const delta = assumptions.dropoutFraction ?? 0.3;
  const sigma = assumptions.securityBits ?? 40;
  const eta = assumptions.correctnessBits ?? 20;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError('n must be a positive integer');
  for (const f of [gamma, delta]) if (!(f >= 0 && f < 1)) throw new RangeError('fractions must be in [0, 1)');
  const key = [n, gamma, delta, sigma, eta].join(',');
  const cached = chosen.get(key);
  if (cached !== undefined) return cached;
  const [C, D] = [Math.floor(gamma * n), Math.floor(delta * n)];
  const [privacy, completion] = [2 ** -sigma / n, 2 ** -eta / n];
  let result: SparseGraph | null = null;
  for (let k = 2; k <= n - 2 && result === null; k += 2) {
    if (runProbability(n, C + D, k / 2) > privacy) continue;
    let t = minimumThreshold(k + 1);
    while (t <= k + 1 && hypergeometricTail(n - 1, C, k, t - 1) > privacy) t++;
    if (t > k + 1 || hypergeometricTail(n - 1, D, k, k + 2 - t) > completion) continue;
    result = Object.freeze({ degree: k, shareThreshold: t });
  }
  chosen.set(key, result);
  return result;
}

/**
 * The size rule: dense up to `DENSE_UP_TO` agencies, above it the sparse graph of `sparseGraphFor`
 * under the default assumptions (dense again if none exists).
 */
export function defaultGraphFor(n: number): SparseGraph | null {
  return n <= DENSE_UP_TO ? null : sparseGraphFor(n);
}

/** How a coordinator picks the graph: by the size rule (`auto`), always `dense`, or a given sparse graph. */
export type SecAggGraphChoice = 'auto' | 'dense' | SparseGraph;

/**
 * The graph a query over n agencies carries (null: dense). A given sparse graph must fit n
 * (CONFIG_INVALID otherwise); whether its threshold is safe every agency checks itself.
 */
export function graphForQuery(n: number, choice: SecAggGraphChoice = 'auto'): SparseGraph | null {
  if (choice === 'auto') return defaultGraphFor(n);
  if (choice === 'dense') return null;
  if (!isValidDegree(choice.degree, n))
    throw new FedstatError(
      'CONFIG_INVALID',
      `secure aggregation: a sparse degree of ${String(choice.degree)} needs an even degree of at most n − 2, and ${n} agencies serve the query; choose a smaller degree or 'auto'`,
    );
  return Object.freeze({ degree: choice.degree, shareThreshold: choice.shareThreshold });
}
