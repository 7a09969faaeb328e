/**
 * One uniform U ∈ [0, 1), revealed lazily, compared EXACTLY against probabilities known only as
 * products or powers of rationals. This is what makes the exact Poisson sampler fast: instead of
 * one independent coin per factor of an acceptance probability P = Π nᵢ/dᵢ (O(√λ) draws), we draw
 * one U and accept iff U < P, which happens with probability exactly P.
 *
 * The comparison is decided in floating point only where that decision is certain, and exactly
 * otherwise (Mironov 2012 is about noise computed in floats; here floats never change an outcome):
 *  - the first 53 bits X of U give U ∈ [X/2^53, (X+1)/2^53), both ends exact doubles;
 *  - P is estimated by a float computation of `ops` correctly rounded operations (no underflow),
 *    so the estimate p satisfies |p − P| ≤ γ·P with γ = ops·2^-53 / (1 − ops·2^-53) (Higham,
 *    Accuracy and Stability of Numerical Algorithms, Lemma 3.1);
 *  - U < P is certain when (X+1)/2^53 ≤ fl(p·fl(1 − e)) and U ≥ P when X/2^53 ≥ fl(p·fl(1 + e)),
 *    with e = ops·2^-50 + 2^-49 ≥ 2γ + the rounding of those two products (for ops < 2^40);
 *  - otherwise (probability about 2e) P is computed as an exact fraction and U refined 32 bits at a
 *    time until the interval holding U lies entirely on one side of P (U = P has probability 0).
 */
import type { RandomSource } from './random.js';

const TWO53 = 2 ** 53;

/** The relative margin that covers `ops` roundings of the estimate and of the margin itself. */
function certifiedMargin(ops: number): number {
  return ops * 2 ** -50 + 2 ** -49;
}

export class LazyUniform {
  /** The first 53 bits, as an integer. */
  readonly #x53: number;
  /** All bits drawn so far: U ∈ [bits/2^k, (bits+1)/2^k). */
  #bits: bigint | null = null;
  #k = 53n;

  constructor(private readonly rng: RandomSource) {
    this.#x53 = (rng.uint32() >>> 11) * 4294967296 + rng.uint32();
  }

  /** A float near U (within 2^-53), to start searches from; never decides anything. */
  get approximately(): number {
    return (this.#x53 + 0.5) / TWO53;
  }

  /**
   * U < P decided from an estimate p with `ops` correctly rounded operations behind it, or
   * undefined when the estimate cannot decide. `upperOnly`: p is only an upper bound of P's
   * estimate (a truncated product), so only "U ≥ P" may be concluded.
   */
  lessThanEstimate(p: number, ops: number, upperOnly = false): boolean | undefined {
    const e = certifiedMargin(ops);
    if (!upperOnly && (this.#x53 + 1) / TWO53 <= p * (1 - e)) return true;
    if (this.#x53 / TWO53 >= p * (1 + e)) return false;
    return undefined;
  }

  /** U < num/den, exactly (num ≥ 0, den ≥ 1). */
  lessThan(num: bigint, den: bigint): boolean {
    if (den < 1n || num < 0n) throw new RangeError('lessThan needs num ≥ 0 and den ≥ 1');
    this.#bits ??= BigInt(this.#x53);
    for (;;) {
      const target = num << this.#k; // compare U·den with num, scaled by 2^k
      if ((this.#bits + 1n) * den <= target) return true;
      if (this.#bits * den >= target) return false;
      this.#bits = (this.#bits << 32n) | BigInt(this.rng.uint32());
      this.#k += 32n;
    }
  }
}

/**
 * A run of factors (num + numStep·i)/(den + denStep·i), i = 0..count−1, each in (0, 1], with
 * numerators and denominators integers below 2^53 (affine runs are all the Poisson sampler needs,
 * and they keep the hot loop free of calls).
 */
export interface FactorRun {
  readonly count: number;
  readonly num: number;
  readonly numStep: number;
  readonly den: number;
  readonly denStep: number;
}

/** Below this the float product stops: P is then tiny and only "reject" can be certain. */
const TINY = 2 ** -80;

/** Bernoulli(Π over all runs of nᵢ/dᵢ), exactly, with one lazily revealed uniform. */
export function bernoulliProduct(runs: readonly FactorRun[], rng: RandomSource): boolean {
  let p = 1;
  let ops = 0;
  let truncated = false;
  outer: for (const run of runs) {
    for (let i = 0, n = run.num, d = run.den; i < run.count; i++, n += run.numStep, d += run.denStep) {
      p *= n / d;
      if (p < TINY) {
        ops += 2 * (i + 1);
        truncated = true;
        break outer;
      }
    }
    ops += 2 * run.count;
  }
  if (ops === 0) return true;
  const u = new LazyUniform(rng);
  const quick = u.lessThanEstimate(p, ops, truncated);
  if (quick !== undefined) return quick;
  let num = 1n;
  let den = 1n;
  for (const run of runs) {
    for (let i = 0, n = run.num, d = run.den; i < run.count; i++, n += run.numStep, d += run.denStep) {
      num *= BigInt(n);
      den *= BigInt(d);
    }
  }
  return u.lessThan(num, den);
}

/**
 * The number of successes before the first failure of Bernoulli(num/den) trials (P(r ≥ n) =
 * (num/den)^n), exactly, from one lazily revealed uniform: r is the largest n with U < ρ^n.
 * num < den < 2^53.
 */
export function geometricLazy(num: number, den: number, rng: RandomSource): number {
  if (!(Number.isSafeInteger(num) && Number.isSafeInteger(den) && num >= 0 && num < den)) {
    throw new RangeError('geometricLazy needs safe integers 0 ≤ num < den');
  }
  if (num === 0) return 0;
  const u = new LazyUniform(rng);
  const rho = num / den;
  // U < ρ^n, exactly; the estimate is ρ^n by squaring (≤ 2·log2(n) + 1 roundings, ρ one more).
  const below = (n: number): boolean => {
    if (n === 0) return true;
    let result = 1;
    let base = rho;
    let ops = 1;
    let e = n;
    let tiny = false;
    while (e > 0) {
      if (e & 1) {
        result *= base;
        ops++;
      }
      e = Math.floor(e / 2);
      if (e > 0) {
        base *= base;
        ops++;
      }
      if (result < TINY || base < TINY) {
        tiny = true;
        break;
      }
    }
    if (!tiny) {
      const quick = u.lessThanEstimate(result, ops);
      if (quick !== undefined) return quick;
    } else if (u.lessThanEstimate(TINY, ops, true) === false) {
      return false; // ρ^n < 2^-80 ≤ U: certain
    }
    return u.lessThan(BigInt(num) ** BigInt(n), BigInt(den) ** BigInt(n));
  };
  // Start from the float estimate log U / log ρ, then walk to the exact answer.
  const guess = Math.log(u.approximately) / Math.log(rho);
  let n = Math.max(0, Math.floor(Number.isFinite(guess) ? guess : 0));
  while (n > 0 && !below(n)) n--;
  while (below(n + 1)) n++;
  return n;
}
