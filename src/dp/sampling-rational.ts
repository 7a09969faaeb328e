/**
 * Exact rational parameters for the noise samplers. Noise scales (λ, μ, γ) are given as
 * num/den bigints, never as floats, so the distribution drawn is exactly the one the privacy
 * analysis assumes (Mironov 2012: floating-point noise leaks through its rounding pattern).
 */

/** A non-negative rational num/den, den ≥ 1, in lowest terms. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * The non-negative rational `num/den` in lowest terms, frozen.
 * @throws RangeError if num < 0 or den < 1.
 */
export function rational(num: bigint, den: bigint = 1n): Rational {
  if (typeof num !== 'bigint' || typeof den !== 'bigint') throw new TypeError('rational needs bigint num and den');
  if (num < 0n) throw new RangeError('a sampler parameter must be non-negative');
  if (den < 1n) throw new RangeError('a rational denominator must be ≥ 1');
  const g = num === 0n ? den : gcd(num, den);
  return Object.freeze({ num: num / g, den: den / g });
}

/** Checks that `r` is a well-formed non-negative rational (as `rational` would build it). */
export function checkRational(r: Rational, what: string): void {
  if (typeof r !== 'object' || r === null || typeof r.num !== 'bigint' || typeof r.den !== 'bigint') {
    throw new TypeError(`${what} must be a Rational { num: bigint, den: bigint }`);
  }
  if (r.num < 0n || r.den < 1n) throw new RangeError(`${what} must be a non-negative rational with den ≥ 1`);
}
