/**
 * How uncertain a released number is: the noise of s survivors each adding Skellam(μ/t) is
 * Skellam(λ) − as Poisson(λ) − Poisson(λ) − with λ = μ·s/t, variance 2λ.
 *
 * The 95 % interval uses the EXACT Skellam quantile: P(K = k) ∝ I_|k|(2λ) (modified Bessel), the
 * ratios come from Miller's backward recurrence I_{k−1}(z) = I_{k+1}(z) + (2k/z)·I_k(z), which is
 * stable downward, and the probabilities are normalised by their own sum (no e^z to overflow).
 * Floats are fine here: this is display, not a privacy decision. For λ > 1e9 (σ > 44,000) the
 * recurrence would take > 10⁶ steps; there we use the normal quantile 1.96σ rounded up plus one,
 * which the exact quantile approaches (excess kurtosis 1/(2λ) < 1e-9).
 */
import { mul, rational, toNumberUp, type Rational } from './rational.js';

function lambdaOf(mu: Rational, threshold: number, survivors: number): Rational {
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new RangeError('threshold must be a positive integer');
  if (!Number.isSafeInteger(survivors) || survivors < 0)
    throw new RangeError('survivors must be a non-negative integer');
  if (mu.num < 0n) throw new RangeError('μ must be non-negative');
  return mul(mu, rational(BigInt(survivors), BigInt(threshold)));
}

/** Exact variance 2μ·s/t of the summed noise. */
export function noiseVariance(mu: Rational, threshold: number, survivors: number): Rational {
  return mul(rational(2n), lambdaOf(mu, threshold, survivors));
}

/** Standard deviation √(2μ·s/t) of the released sum's noise (rounded up). */
export function noiseStddev(mu: Rational, threshold: number, survivors: number): number {
  return Math.sqrt(toNumberUp(noiseVariance(mu, threshold, survivors)));
}

/** The probabilities P(K = k), k = 0..N, of K ~ Skellam(λ) (Poisson(λ) − Poisson(λ)); symmetric in k. */
export function skellamPmf(lambda: number): Float64Array {
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw new RangeError('λ must be positive and finite');
  const z = 2 * lambda;
  const n = Math.ceil(14 * Math.sqrt(z) + 40);
  const v = new Float64Array(n + 2);
  v[n] = 1e-300;
  for (let k = n; k >= 1; k--) {
    const next = v[k + 1]!;
    v[k - 1] = next + ((2 * k) / z) * v[k]!;
    if (v[k - 1]! > 1e250) for (let j = k - 1; j <= n; j++) v[j]! /= 1e250;
  }
  let total = v[0]!;
  for (let k = 1; k <= n; k++) total += 2 * v[k]!;
  const p = new Float64Array(n + 1);
  for (let k = 0; k <= n; k++) p[k] = v[k]! / total;
  return p;
}

/**
 * The smallest integer q with P(|K| ≤ q) ≥ level for K ~ Skellam(λ): the half-width of a
 * central interval that covers at least `level` (default 0.95).
 */
export function skellamHalfWidth(lambda: number, level = 0.95): number {
  if (!(level > 0 && level < 1)) throw new RangeError('level must be in (0, 1)');
  if (lambda === 0) return 0;
  if (lambda > 1e9) {
    const zq = normalQuantile((1 + level) / 2);
    return Math.ceil(zq * Math.sqrt(2 * lambda)) + 1;
  }
  const p = skellamPmf(lambda);
  const tailMax = (1 - level) / 2;
  // Sum the upper tail from the far end, so small terms are not lost; stop before it exceeds.
  let tail = 0;
  for (let q = p.length - 1; q >= 1; q--) {
    if (tail + p[q]! > tailMax) return q;
    tail += p[q]!;
  }
  return 0;
}

/** Acklam's rational approximation of the standard normal quantile (|rel. error| < 1.2e-9). */
function normalQuantile(u: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const h = (xs: number[], x: number): number => xs.reduce((acc, k) => acc * x + k, 0);
  if (u > 0.97575) {
    const q = Math.sqrt(-2 * Math.log(1 - u));
    return -h(c, q) / (h(d, q) * q + 1);
  }
  const q = u - 0.5;
  const r = q * q;
  return (h(a, r) * q) / (h(b, r) * r + 1);
}

/** How far the noise may move a released sum, as `interval95` computes it. */
export interface Interval95 {
  /** Noise standard deviation √(2μ·s/t). */
  readonly stderr: number;
  /** Integer half-width h: the noise lies in [−h, h] with probability ≥ 0.95. */
  readonly halfWidth: number;
}

/** Standard error and exact 95 % half-width for a sum released by s survivors adding Skellam(μ/t). */
export function interval95(mu: Rational, threshold: number, survivors: number): Interval95 {
  const lambda = toNumberUp(lambdaOf(mu, threshold, survivors));
  return Object.freeze({ stderr: noiseStddev(mu, threshold, survivors), halfWidth: skellamHalfWidth(lambda) });
}

/** The interval [value − h, value + h] around a released integer. */
export function ci95(value: bigint, mu: Rational, threshold: number, survivors: number): readonly [bigint, bigint] {
  const h = BigInt(interval95(mu, threshold, survivors).halfWidth);
  return Object.freeze([value - h, value + h] as const);
}
