/**
 * An agency's noise for one query: one exact Skellam(μ) draw per cell, for any μ the packing can
 * carry. The exact Poisson sampler caps its mean (POISSON_MAX_MEAN), so a larger μ is drawn as
 * the sum of k independent Skellam(μ/k) — exactly Skellam(μ), since Skellam is closed under
 * addition — and every draw is checked against the tail bound the no-wrap proof reserved.
 */
import { FedstatError } from '../errors.js';
import { POISSON_MAX_MEAN } from './poisson.js';
import { defaultRandom, type RandomSource } from './random.js';
import { checkNonNegative, rational, type Rational } from './rational.js';
import { skellamVector } from './skellam.js';
import { skellamTailBound } from './tail-bound.js';

/** The most Skellam(μ/k) parts one cell's noise may take: bounds the work of one query. */
export const MAX_NOISE_PARTS = 4096;

/** How many parts μ needs so that each part's 2μ/k stays within the sampler's range. */
export function noiseParts(mu: Rational): number {
  checkNonNegative(mu, 'mu');
  const twoMu = 2n * mu.num;
  const cap = POISSON_MAX_MEAN * mu.den;
  const k = twoMu === 0n ? 1n : (twoMu + cap - 1n) / cap;
  return k > BigInt(MAX_NOISE_PARTS) ? MAX_NOISE_PARTS + 1 : Number(k);
}

/**
 * `length` independent Skellam(μ) draws. PLAN_UNSAFE when μ is beyond MAX_NOISE_PARTS parts (the
 * coordinator refuses such a query before asking anyone); INTERNAL in the 2^−100 event that a draw
 * leaves the reserved bound (nothing is released then).
 */
export function drawNoise(mu: Rational, length: number, rng: RandomSource = defaultRandom()): BigInt64Array {
  const parts = noiseParts(mu);
  if (parts > MAX_NOISE_PARTS) {
    throw new FedstatError(
      'PLAN_UNSAFE',
      `the noise scale μ = ${mu.num}/${mu.den} is too large to sample; raise rho or lower the column bounds`,
    );
  }
  const part = rational(mu.num, mu.den * BigInt(parts));
  const out = skellamVector(part, length, rng);
  for (let p = 1; p < parts; p++) {
    const more = skellamVector(part, length, rng);
    for (let i = 0; i < length; i++) out[i] = (out[i] ?? 0n) + (more[i] ?? 0n);
  }
  const bound = skellamTailBound(mu);
  for (let i = 0; i < length; i++) {
    const v = out[i] ?? 0n;
    if (v > bound || v < -bound)
      throw new FedstatError('INTERNAL', 'a noise draw left its 2^-100 tail bound; run the query again');
  }
  return out;
}
