// Neighbouring datasets through the distributed Skellam path: the released distributions on D and
// D′ (one person differs) respect the (ε, δ) claimed for the query's ρ, exactly (skellamPmf) and
// empirically (≥ 120,000 releases each, rigorous tolerance at false-alarm rate 1e-6 per check),
// and a mechanism with 30 % too little noise is caught.
//
// Statistics. The hockey-stick divergence H_ε(P‖Q) = Σ_y max(0, P(y) − e^ε Q(y)) = sup_S P(S) − e^ε Q(S).
// From n samples each we use two empirical versions, both suprema over a FIXED family of sets
// (fixed before sampling), so under H0 (H_ε ≤ δ) each is at most δ plus the estimation error:
//  (a) pointwise: the sum over a partition Π of ℤ into unit cells on the core of the support and
//      two merged tail cells (Π from the exact pmf). Ĥ_Π ≤ H_Π + TV_Π(P̂, P) + e^ε·TV_Π(Q̂, Q) and
//      H_Π ≤ H_ε. Bretagnolle–Huber–Carol (van der Vaart & Wellner, Prop. A.6.6) bounds the L1
//      error over K cells: P(‖P̂ − P‖₁ ≥ λ) ≤ 2^K·exp(−nλ²/2). Each sample at α/2 gives
//      λ = √(2(K·ln 2 + ln(2/α))/n), tolerance (1 + e^ε)·λ/2. It grows with √K, so it is loose.
//  (b) threshold sets {y ≥ k}, {y ≤ k}: every such set's empirical mass is within the KS distance
//      of the truth, and DKW–Massart gives P(sup_k |F̂(k) − F(k)| > η) ≤ 2·exp(−2nη²); each sample
//      at α/2 gives η = √(ln(4/α)/(2n)) and tolerance (1 + e^ε)·η, independent of the support.
//      The family is a subset of all sets, so (b) is valid without assumptions; it loses nothing in
//      power because Skellam is discrete log-concave (a convolution of log-concave Poisson pmfs), so
//      a shift family has a monotone likelihood ratio and the optimal set {P > e^ε Q} is a tail
//      (checked exactly below: pointwise and threshold H agree to 1e-12).
// Power: at a smaller ε′ the reference is the exact H_ε′ of the correct mechanism; a flawed one
// with exact H′ > H_ε′ + 2·tol(ε′) (asserted exactly first) has Ĥ ≥ H′ − tol > H_ε′ + tol except
// with probability α, while the correct one stays ≤ H_ε′ + tol. The zCDP→(ε, δ) curve itself has so
// much slack for Skellam (exact H at the displayed ε is < 1e-6 by orders of magnitude) that no 30 %
// error can violate it, which is why the reference at ε′ is the exact divergence, not rhoToDelta.
import { describe, expect, it } from 'vitest';
import type { Sensitivity } from '../../src/dp/accountant.js';
import { calibrateMu, perAgencyMu } from '../../src/dp/calibration.js';
import { rhoToEpsilon } from '../../src/dp/conversion.js';
import { CryptoRandom, type RandomSource } from '../../src/dp/random.js';
import { mul, rational, toNumberUp, type Rational } from '../../src/dp/rational.js';
import { measureSensitivity } from '../../src/dp/sensitivity.js';
import { skellamVector } from '../../src/dp/skellam.js';
import { skellamPmf } from '../../src/dp/utility.js';
import { ALPHA } from './stats.js';

const DELTA = 1e-6;
const N = 240_000; // ≥ 120,000; 240,000 gives the power check below a margin > 0 at ρ = 0.1
const COUNT = measureSensitivity({ kind: 'count' });
const SUM10 = measureSensitivity({ kind: 'sum', min: 0, max: 10 });

/** n releases of truth + Σ over `survivors` agencies of Skellam(muEach), one skellamVector per agency. */
function releases(truth: number, muEach: Rational, survivors: number, n: number, rng: RandomSource): Int32Array {
  const out = new Int32Array(n).fill(truth);
  for (let a = 0; a < survivors; a++) {
    const z = skellamVector(muEach, n, rng);
    for (let i = 0; i < n; i++) out[i]! += Number(z[i]!);
  }
  return out;
}

/** Probabilities of P = shiftP + Skellam(λ) and Q = shiftQ + Skellam(λ) on lo..lo+len−1 (exact pmf). */
function exactPair(lambda: number, shiftP: number, shiftQ: number): { lo: number; p: Float64Array; q: Float64Array } {
  const pmf = skellamPmf(lambda);
  const at = (k: number): number => (Math.abs(k) < pmf.length ? pmf[Math.abs(k)]! : 0);
  const lo = Math.min(shiftP, shiftQ) - pmf.length;
  const len = Math.abs(shiftP - shiftQ) + 2 * pmf.length + 1;
  const p = new Float64Array(len);
  const q = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    p[i] = at(lo + i - shiftP);
    q[i] = at(lo + i - shiftQ);
  }
  return { lo, p, q };
}

function pointwiseHs(p: ArrayLike<number>, q: ArrayLike<number>, eps: number): number {
  const e = Math.exp(eps);
  let s = 0;
  for (let i = 0; i < p.length; i++) s += Math.max(0, p[i]! - e * q[i]!);
  return s;
}

/** max over k of P(≥ k) − e^ε Q(≥ k) and P(≤ k) − e^ε Q(≤ k), and 0 (the empty set). */
function thresholdHs(p: ArrayLike<number>, q: ArrayLike<number>, eps: number): number {
  const e = Math.exp(eps);
  let best = 0;
  let lowP = 0;
  let lowQ = 0;
  for (let i = 0; i < p.length; i++) {
    lowP += p[i]!;
    lowQ += q[i]!;
    best = Math.max(best, lowP - e * lowQ);
  }
  let upP = 0;
  let upQ = 0;
  for (let i = p.length - 1; i >= 0; i--) {
    upP += p[i]!;
    upQ += q[i]!;
    best = Math.max(best, upP - e * upQ);
  }
  return best;
}

/** Empirical frequencies of both samples on the cells of Π: unit cells lo..hi plus the two tails. */
function partitioned(xs: Int32Array, lo: number, hi: number): Float64Array {
  const f = new Float64Array(hi - lo + 3);
  for (const x of xs) f[x < lo ? 0 : x > hi ? f.length - 1 : x - lo + 1]! += 1 / xs.length;
  return f;
}

/** Empirical frequencies on every integer of the joint range (for the threshold statistic). */
function frequencies(a: Int32Array, b: Int32Array): [Float64Array, Float64Array] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const xs of [a, b]) {
    for (const x of xs) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  const fa = new Float64Array(hi - lo + 1);
  const fb = new Float64Array(hi - lo + 1);
  for (const x of a) fa[x - lo]! += 1 / a.length;
  for (const x of b) fb[x - lo]! += 1 / b.length;
  return [fa, fb];
}

const dkwTolerance = (eps: number, n: number): number => (1 + Math.exp(eps)) * Math.sqrt(Math.log(4 / ALPHA) / (2 * n));
const bhcTolerance = (eps: number, n: number, cells: number): number =>
  ((1 + Math.exp(eps)) * Math.sqrt((2 * (cells * Math.LN2 + Math.log(2 / ALPHA))) / n)) / 2;

interface Case {
  readonly name: string;
  readonly sens: Sensitivity;
  /** The released value on D; D′ adds one person, moving it by the sensitivity. */
  readonly truth: number;
  readonly rho: Rational;
  readonly agencies: number;
  readonly threshold: number;
  /** Per-agency μ of the flawed mechanism (the correct one draws perAgencyMu(μ, threshold)). */
  readonly flawed: (mu: Rational) => Rational;
  readonly flaw: string;
}

const CASES: readonly Case[] = [
  {
    name: 'COUNT, 10 agencies, t = 7',
    sens: COUNT,
    truth: 40,
    rho: rational(1n, 10n),
    agencies: 10,
    threshold: 7,
    // The non-distributed mistake: each agency sized its share for all n, but only t survive.
    flawed: (mu) => perAgencyMu(mu, 10),
    flaw: 'each agency drawing μ/n with only t of n surviving',
  },
  {
    name: 'SUM over [0, 10], 3 agencies, t = 3',
    sens: SUM10,
    truth: 500,
    rho: rational(1n, 10n),
    agencies: 3,
    threshold: 3,
    flawed: (mu) => mul(perAgencyMu(mu, 3), rational(7n, 10n)),
    flaw: '30 % too little noise (0.7·μ)',
  },
];

describe('neighbouring datasets: distributed Skellam releases respect the claimed (ε, δ)', () => {
  it('exact: H_ε(P‖Q) and H_ε(Q‖P) ≤ δ at ε = rhoToEpsilon(ρ, δ), for COUNT and SUM at ρ = 0.01, 0.1, 1; the worst sets are tails', () => {
    for (const rho of [rational(1n, 100n), rational(1n, 10n), rational(1n)]) {
      const eps = rhoToEpsilon(rho, DELTA);
      for (const sens of [COUNT, SUM10]) {
        const mu = calibrateMu(rho, sens);
        // t survivors of t·(μ/t) each: the least noise any admissible release carries.
        const lambda = toNumberUp(mu);
        const shift = Number(sens.l1);
        const { p, q } = exactPair(lambda, shift, 0);
        const forward = pointwiseHs(p, q, eps);
        const backward = pointwiseHs(q, p, eps);
        expect(forward, `ρ=${toNumberUp(rho)} Δ=${shift} μ=${lambda}`).toBeLessThanOrEqual(DELTA);
        expect(backward).toBeLessThanOrEqual(DELTA);
        // Monotone likelihood ratio: the best set is a tail, at ε and at smaller ε.
        for (const e of [0, 0.1, 0.5, eps])
          expect(Math.abs(thresholdHs(p, q, e) - pointwiseHs(p, q, e))).toBeLessThan(1e-12);
      }
    }
  });

  for (const c of CASES) {
    it(`empirical: ${c.name} at ρ = ${toNumberUp(c.rho)} within tolerance; ${c.flaw} is flagged`, () => {
      const rng = new CryptoRandom();
      const mu = calibrateMu(c.rho, c.sens);
      const shift = Number(c.sens.l1);
      const eps = rhoToEpsilon(c.rho, DELTA);
      const draw = (muEach: Rational): [Int32Array, Int32Array] => [
        releases(c.truth + shift, muEach, c.threshold, N, rng), // D′: the person is in
        releases(c.truth, muEach, c.threshold, N, rng), // D
      ];
      const [onD1, onD] = draw(perAgencyMu(mu, c.threshold));

      // (a) pointwise on the partition Π, both directions.
      const exact = exactPair(toNumberUp(mu), c.truth + shift, c.truth);
      let first = exact.p.findIndex((v, i) => v > 1e-9 || exact.q[i]! > 1e-9);
      let last = exact.p.length - 1;
      while (exact.p[last]! <= 1e-9 && exact.q[last]! <= 1e-9) last--;
      first += exact.lo;
      last += exact.lo;
      const cells = last - first + 3;
      const [p1, q1] = [partitioned(onD1, first, last), partitioned(onD, first, last)];
      const tolA = bhcTolerance(eps, N, cells);
      expect(tolA).toBeLessThan(0.25); // the check means something
      expect(pointwiseHs(p1, q1, eps)).toBeLessThanOrEqual(DELTA + tolA);
      expect(pointwiseHs(q1, p1, eps)).toBeLessThanOrEqual(DELTA + tolA);

      // (b) threshold sets, both directions.
      const [fD1, fD] = frequencies(onD1, onD);
      const tolB = dkwTolerance(eps, N);
      expect(thresholdHs(fD1, fD, eps)).toBeLessThanOrEqual(DELTA + tolB);
      expect(thresholdHs(fD, fD1, eps)).toBeLessThanOrEqual(DELTA + tolB);

      // Power: pick ε′ where the flawed mechanism is provably separable, from the exact pmfs.
      const flawedMu = c.flawed(mu);
      const flawedLambda = toNumberUp(mul(flawedMu, rational(BigInt(c.threshold))));
      const good = exactPair(toNumberUp(mu), shift, 0);
      const bad = exactPair(flawedLambda, shift, 0);
      let best = { eps: 0, margin: -Infinity, reference: 0 };
      for (let e = 0; e <= 1.0001; e += 0.05) {
        const reference = thresholdHs(good.p, good.q, e);
        const margin = thresholdHs(bad.p, bad.q, e) - reference - 2 * dkwTolerance(e, N);
        if (margin > best.margin) best = { eps: e, margin, reference };
      }
      expect(best.margin, `best ε′ = ${best.eps}`).toBeGreaterThan(0);
      const tolP = dkwTolerance(best.eps, N);
      expect(thresholdHs(fD1, fD, best.eps)).toBeLessThanOrEqual(best.reference + tolP);
      const [badD1, badD] = draw(flawedMu);
      const [gD1, gD] = frequencies(badD1, badD);
      expect(thresholdHs(gD1, gD, best.eps), `flawed mechanism at ε′ = ${best.eps}`).toBeGreaterThan(
        best.reference + tolP,
      );
    });
  }
});
