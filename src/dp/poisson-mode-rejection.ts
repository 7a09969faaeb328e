/**
 * Exact Poisson(λ) for large rational λ = a/b in O(√λ) expected work, by rejection around the
 * mode m = ⌊λ⌋ with an envelope whose every weight and acceptance factor is rational.
 *
 * Write w(k) = p(k)/p(m) for the Poisson pmf p; w(k) ≤ 1 since m is the mode. With d = ⌊√m⌋,
 * ρR = λ/(m+d+1) < 1 and ρL = (m−d)/λ < 1, the envelope is
 *     g(k) = 1            for m−d ≤ k ≤ m+d   (flat part, 2d+1 points),
 *     g(m+d+r) = ρR^r     for r ≥ 1           (right tail, mass ρR/(1−ρR)),
 *     g(m−d−r) = ρL^r     for r ≥ 1           (left tail, mass ρL/(1−ρL); k < 0 is rejected).
 * A region is picked with probability proportional to its (rational) mass, a point inside it
 * with probability proportional to g (uniform; 1 + Geometric(ρ) counted with exact Bernoulli(ρ)
 * coins), and the point is accepted with probability w(k)/g(k), realised as a product of
 * independent rational coins each ≤ 1 (short-circuiting at the first failure):
 *     flat, k > m:   w(k) = Π_{j=m+1..k} λ/j                  (each λ/j < 1 as j > λ)
 *     flat, k < m:   w(k) = Π_{j=k+1..m} j/λ                  (each j/λ ≤ 1 as j ≤ m ≤ λ)
 *     right, k = m+d+r:  w(k)/ρR^r = w(m+d) · Π_{i=1..r} (m+d+1)/(m+d+i)
 *     left,  k = m−d−r:  w(k)/ρL^r = w(m−d) · Π_{i=0..r−1} (m−d−i)/(m−d)
 * (the tail identities follow from w(m+d+r) = w(m+d)·Π λ/(m+d+i) and w(m−d−r) = w(m−d)·Π (m−d−i)/λ).
 * Each round therefore outputs k with probability proportional to g(k)·w(k)/g(k) = w(k), so the
 * accepted k is exactly Poisson(λ). The envelope's mass is about 2d + 2λ/d ≈ 4√λ against the
 * target's 1/p(m) ≈ √(2πλ), so a round succeeds with probability ≈ 0.6, and a round costs O(√λ)
 * coins.
 */
import { bernoulliFraction } from './bernoulli.js';
import { bernoulliProduct, geometricLazy, type FactorRun } from './lazy-uniform.js';
import type { RandomSource } from './random.js';

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/** Successes of Bernoulli(num/den) before the first failure: P(r) = ρ^r (1 − ρ). */
function geometric(num: bigint, den: bigint, rng: RandomSource): bigint {
  let r = 0n;
  while (bernoulliFraction(num, den, rng)) r++;
  return r;
}

/** From this a or b on, the bigint path is used (below it every b·j stays under 2^48). */
const NUMBER_PATH_MAX = 2 ** 46;

/** The smallest mode for which this sampler is used (below it the linear sampler is cheaper). */
export const MODE_REJECTION_MIN_MEAN = 16n;

/**
 * One exact Poisson(a/b) draw for a/b ≥ MODE_REJECTION_MIN_MEAN, O(√(a/b)) expected coins.
 * @throws RangeError below the minimum mean (m − d must stay ≥ 1 for the left tail).
 */
export function poissonModeRejection(a: bigint, b: bigint, rng: RandomSource): bigint {
  const m = a / b;
  if (m < MODE_REJECTION_MIN_MEAN)
    throw new RangeError(`poissonModeRejection needs a mean ≥ ${MODE_REJECTION_MIN_MEAN}`);
  if (a < NUMBER_PATH_MAX && b < NUMBER_PATH_MAX) return BigInt(modeRejectionNumber(Number(a), Number(b), rng));
  const d = isqrt(m);
  const hi = m + d; // last flat point
  const lo = m - d; // first flat point, ≥ 1
  const denR = b * (hi + 1n); // ρR = a / denR
  const numL = b * lo; // ρL = numL / a
  // Masses with the common denominator (denR − a)(a − numL): flat 2d+1, right ρR/(1−ρR), left ρL/(1−ρL).
  const wF = (2n * d + 1n) * (denR - a) * (a - numL);
  const wR = a * (a - numL);
  const wL = numL * (denR - a);
  const total = wF + wR + wL;
  for (;;) {
    const u = rng.below(total);
    if (u < wF) {
      const k = lo + rng.below(2n * d + 1n);
      let ok = true;
      // Farthest factors first: they are the smallest, so a rejection usually ends early.
      if (k > m) for (let j = k; ok && j > m; j--) ok = bernoulliFraction(a, b * j, rng);
      else for (let j = k + 1n; ok && j <= m; j++) ok = bernoulliFraction(b * j, a, rng);
      if (ok) return k;
    } else if (u < wF + wR) {
      const r = 1n + geometric(a, denR, rng);
      let ok = true;
      for (let i = r; ok && i >= 2n; i--) ok = bernoulliFraction(hi + 1n, hi + i, rng);
      for (let j = hi; ok && j > m; j--) ok = bernoulliFraction(a, b * j, rng);
      if (ok) return hi + r;
    } else {
      const r = 1n + geometric(numL, a, rng);
      if (r > lo) continue; // k = lo − r < 0 has probability 0
      let ok = true;
      for (let i = r - 1n; ok && i >= 1n; i--) ok = bernoulliFraction(lo - i, lo, rng);
      for (let j = lo + 1n; ok && j <= m; j++) ok = bernoulliFraction(b * j, a, rng);
      if (ok) return lo - r;
    }
  }
}

/**
 * The same algorithm for a, b < 2^46, where every factor's numerator and denominator (a,
 * b·j ≤ b·(m+d+1) ≤ a + b·(d+1), m+d+r) stays below 2^53. Instead of one coin per factor, each
 * acceptance test and each geometric draw uses ONE lazily revealed uniform compared exactly
 * against the product or power (lazy-uniform.ts): the same decisions with the same
 * probabilities, decided by a certified float estimate except in a band of probability ~1e-12
 * where the exact fraction is computed. The O(√λ) work per round is then float multiplications,
 * not random draws.
 * Only the region choice, whose weights reach ~b²·λ^1.5, is in bigint.
 */
function modeRejectionNumber(a: number, b: number, rng: RandomSource): number {
  const m = Math.floor(a / b);
  const d = Number(isqrt(BigInt(m)));
  const hi = m + d;
  const lo = m - d;
  const denR = b * (hi + 1);
  const numL = b * lo;
  const wF = BigInt(2 * d + 1) * BigInt(denR - a) * BigInt(a - numL);
  const wFR = wF + BigInt(a) * BigInt(a - numL);
  const total = wFR + BigInt(numL) * BigInt(denR - a);
  // Runs of acceptance factors (see the module comment), each in (0, 1].
  const down = (from: number, count: number): FactorRun => ({ count, num: a, numStep: 0, den: b * from, denStep: b }); // a/(b·j), j = from…
  const up = (from: number, count: number): FactorRun => ({ count, num: b * from, numStep: b, den: a, denStep: 0 }); // (b·j)/a, j = from…
  for (;;) {
    const u = rng.below(total);
    if (u < wF) {
      const k = lo + rng.belowNumber(2 * d + 1);
      if (bernoulliProduct(k > m ? [down(m + 1, k - m)] : [up(k + 1, m - k)], rng)) return k;
    } else if (u < wFR) {
      const r = 1 + geometricLazy(a, denR, rng);
      const tail: FactorRun = { count: r - 1, num: hi + 1, numStep: 0, den: hi + 2, denStep: 1 }; // (hi+1)/(hi+i), i = 2..r
      if (bernoulliProduct([tail, down(m + 1, hi - m)], rng)) return hi + r;
    } else {
      const r = 1 + geometricLazy(numL, a, rng);
      if (r > lo) continue;
      const tail: FactorRun = { count: r - 1, num: lo - 1, numStep: -1, den: lo, denStep: 0 }; // (lo−i)/lo, i = 1..r−1
      if (bernoulliProduct([tail, up(lo + 1, m - lo)], rng)) return lo - r;
    }
  }
}
