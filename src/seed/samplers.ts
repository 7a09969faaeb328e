/**
 * Samplers over a `SeededPrng`. Categorical choices and rates are integer-exact (weights and
 * per-mille rates, rejection-sampled). Skewed continuous quantities (income, rent, floor area) are
 * "lognormal-ish": median · exp(σ·z) with z an Irwin–Hall(4) deviate rescaled to unit variance.
 * That z has bounded tails (|z| ≤ 2√3), and both it and `portableExp` use only +, −, ×, ÷, which
 * IEEE 754 rounds identically everywhere, and Math.round, which ECMAScript specifies exactly;
 * Math.exp/Math.log are implementation-approximated and could make "the same seed" differ between
 * machines.
 */
import type { SeededPrng } from './prng.js';

const SQRT3 = 1.7320508075688772;

/** Totals up to this size sample through a direct lookup table (one draw, one array read). */
const TABLE_LIMIT = 1 << 16;

/** A categorical distribution with non-negative integer weights, sampled exactly. */
export class WeightedChoice<T> {
  readonly values: readonly T[];
  readonly #cumulative: readonly number[];
  readonly #total: number;
  /** u → index for every u < total, when total ≤ TABLE_LIMIT. */
  readonly #table: Uint16Array | undefined;
  /**
   * Otherwise a guide table: u falls in bucket ⌊u / step⌋, whose entry is the first index whose
   * cumulative weight passes the bucket's start, so a short scan from there finds u's index.
   */
  readonly #guide: Uint32Array | undefined;
  readonly #step: number = 1;

  constructor(entries: Iterable<readonly [T, number]>) {
    const values: T[] = [];
    const cumulative: number[] = [];
    let total = 0;
    for (const [value, weight] of entries) {
      if (!Number.isSafeInteger(weight) || weight < 0)
        throw new RangeError(`weights must be non-negative integers, got ${weight}`);
      if (weight === 0) continue;
      total += weight;
      values.push(value);
      cumulative.push(total);
    }
    if (total < 1 || total > 4294967296) throw new RangeError(`total weight must be in [1, 2^32], got ${total}`);
    this.values = Object.freeze(values);
    this.#cumulative = Object.freeze(cumulative);
    this.#total = total;
    if (total <= TABLE_LIMIT && values.length <= TABLE_LIMIT) {
      const table = new Uint16Array(total);
      let from = 0;
      cumulative.forEach((to, i) => {
        table.fill(i, from, to);
        from = to;
      });
      this.#table = table;
    } else {
      // About four buckets per value: the scan then takes one or two steps on average.
      const buckets = Math.min(TABLE_LIMIT, 4 * values.length);
      this.#step = Math.ceil(total / buckets);
      const guide = new Uint32Array(Math.ceil(total / this.#step));
      let i = 0;
      for (let b = 0; b < guide.length; b++) {
        while ((cumulative[i] ?? total) <= b * this.#step) i++;
        guide[b] = i;
      }
      this.#guide = guide;
    }
  }

  sample(prng: SeededPrng): T {
    const u = prng.uniformInt(this.#total);
    const table = this.#table;
    if (table !== undefined) return this.values[table[u] ?? 0] as T;
    // The first cumulative weight above u, from u's bucket on. ⌊u / step⌋ is exact: for integers
    // below 2^32 a quotient just under an integer stays under it in double precision.
    const c = this.#cumulative;
    let i = this.#guide?.[Math.floor(u / this.#step)] ?? 0;
    while (u >= (c[i] ?? Infinity)) i++;
    return this.values[i] as T;
  }
}

/** A uniformly chosen element of a non-empty array. */
export function pick<T>(prng: SeededPrng, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('pick from an empty array');
  return items[prng.uniformInt(items.length)] as T;
}

/** An approximately standard normal deviate: Irwin–Hall(4) centred and scaled to variance 1. */
export function irwinHallNormal(prng: SeededPrng): number {
  const s = prng.unit() + prng.unit() + prng.unit() + prng.unit(); // exact: dyadic rationals
  return (s - 2) * SQRT3;
}

/** median · exp(sigma · z) with z from `irwinHallNormal`: a bounded, right-skewed positive value. */
export function lognormalish(prng: SeededPrng, median: number, sigma: number): number {
  return median * portableExp(sigma * irwinHallNormal(prng));
}

/** An integer lognormal-ish draw, rounded half up and clamped to [min, max]. */
export function lognormalishInt(prng: SeededPrng, median: number, sigma: number, min: number, max: number): number {
  return clamp(Math.round(lognormalish(prng, median, sigma)), min, max);
}

export function clamp(x: number, min: number, max: number): number {
  return x < min ? min : x > max ? max : x;
}

/**
 * e^x from basic arithmetic only (halve until |r| ≤ 1/2, Taylor series, square back): bit-identical
 * on every platform, relative error below 1e-13 for |x| ≤ 50 (each squaring doubles it). Slow: it
 * only fills the table `portableExp` reads.
 */
function seriesExp(x: number): number {
  let r = x;
  let halvings = 0;
  while (Math.abs(r) > 0.5) {
    r /= 2; // exact: division by a power of two
    halvings++;
  }
  let term = 1;
  let sum = 1;
  for (let k = 1; k <= 17; k++) {
    // 0.5^18/18! < 2^-70: further terms vanish
    term = (term * r) / k;
    sum += term;
  }
  for (let i = 0; i < halvings; i++) sum *= sum;
  return sum;
}

const EXP_LIMIT = 50;
/** Table steps per unit of x. */
const EXP_STEPS = 32;
/** e^(j / EXP_STEPS) for j = −EXP_LIMIT·EXP_STEPS … EXP_LIMIT·EXP_STEPS, at index j + EXP_LIMIT·EXP_STEPS. */
const EXP_TABLE = Float64Array.from({ length: 2 * EXP_LIMIT * EXP_STEPS + 1 }, (_, i) =>
  seriesExp((i - EXP_LIMIT * EXP_STEPS) / EXP_STEPS),
);

/**
 * e^x from basic arithmetic only, so the result is bit-identical on every platform: e^(n/32) from a
 * table (filled by `seriesExp`) times a degree-6 Taylor polynomial of e^r for the rest, |r| ≤ 1/64
 * (the next term is below 5e-17). Relative error below 1e-13 for |x| ≤ 50, far below the integer
 * rounding applied to every draw; about seven times faster than the series, which matters as every
 * person takes several.
 */
export function portableExp(x: number): number {
  if (!Number.isFinite(x) || Math.abs(x) > EXP_LIMIT) throw new RangeError(`portableExp supports |x| <= 50, got ${x}`);
  const n = Math.round(x * EXP_STEPS); // x · 32 is exact, and Math.round is exactly specified
  const r = x - n / EXP_STEPS;
  const poly = 1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r / 720)))));
  return (EXP_TABLE[n + EXP_LIMIT * EXP_STEPS] as number) * poly;
}
