/**
 * Honest numbers from a differentially private release: the decrypted totals carry the summed
 * Skellam noise of s survivors, Skellam(λ) per interior cell with λ = μ·s/t for its measure's μ
 * (and k·λ for a margin over k cells, a sum of k independent draws). Everything here is post-processing of the noisy
 * totals, so it costs no privacy:
 *  - a COUNT is released clamped at 0; its 95 % interval is the exact Skellam quantile (utility.ts),
 *    also clamped;
 *  - a SUM is Σ(x − o) + o·COUNT with the column's offset o ≤ 0 (cells.ts); for o = 0 its noise is
 *    one Skellam and the interval exact, otherwise the two noise terms (the sum's and the count's)
 *    are bounded at 97.5 % each (Bonferroni: joint coverage ≥ 95 %);
 *  - an AVG is the noisy SUM over the noisy COUNT, clipped to the column's domain, with the
 *    interval spanned by the 97.5 % boxes of both (coverage ≥ 95 %) and a delta-method stderr.
 * Intervals cover the noise only: they say nothing about errors in the agencies' own data.
 */
import { mul, rational, toNumberUp, type Rational } from '../dp/rational.js';
import { skellamHalfWidth } from '../dp/utility.js';

/** How far a released number may be from the noiseless one (the noise only, not the data's errors). */
export interface Uncertainty {
  /** Standard deviation of the noise in this number. */
  readonly stderr: number;
  /** An interval that holds the noiseless value with probability ≥ 95 %. */
  readonly ci95: readonly [bigint | number, bigint | number];
}

export interface NoisyCell {
  readonly count: bigint;
  /** Σ(x − offset) of one summed column, as decrypted (noisy). */
  readonly shiftedSum: bigint;
  /** Interior cells the numbers total over. */
  readonly members: number;
}

export interface NoiseScale {
  readonly threshold: number;
  readonly survivors: number;
}

const max0 = (x: bigint): bigint => (x < 0n ? 0n : x);
const clip = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** Noise of one release: s survivors each added Skellam(μ_j/t) per cell of measure j. */
export class NoiseModel {
  readonly #halfWidths = new Map<string, bigint>();

  constructor(private readonly scale: NoiseScale) {}

  /** λ of a cell of a measure with parameter μ, summing `members` interior cells: μ·s·members/t. */
  lambda(mu: Rational, members: number): Rational {
    return mul(mu, rational(BigInt(this.scale.survivors) * BigInt(members), BigInt(this.scale.threshold)));
  }

  /** √(2λ): the stderr of one noise term. */
  stddev(mu: Rational, members: number): number {
    return Math.sqrt(2 * toNumberUp(this.lambda(mu, members)));
  }

  /** The least h with P(|Skellam(λ)| ≤ h) ≥ level. */
  halfWidth(mu: Rational, members: number, level: 0.95 | 0.975): bigint {
    const key = `${mu.num}/${mu.den}×${members}@${level}`;
    let h = this.#halfWidths.get(key);
    if (h === undefined) {
      h = BigInt(skellamHalfWidth(toNumberUp(this.lambda(mu, members)), level));
      this.#halfWidths.set(key, h);
    }
    return h;
  }

  count(cell: NoisyCell, muCount: Rational): { value: bigint; uncertainty: Uncertainty } {
    const h = this.halfWidth(muCount, cell.members, 0.95);
    const value = max0(cell.count);
    return {
      value,
      uncertainty: { stderr: this.stddev(muCount, cell.members), ci95: [max0(cell.count - h), max0(cell.count + h)] },
    };
  }

  /** SUM of a column with offset o ≤ 0 (0 when its minimum is non-negative): Σ(x − o) + o·COUNT. */
  sum(
    cell: NoisyCell,
    offset: bigint,
    muSum: Rational,
    muCount: Rational,
  ): { value: bigint; uncertainty: Uncertainty } {
    const value = cell.shiftedSum + offset * cell.count;
    if (offset === 0n) {
      const h = this.halfWidth(muSum, cell.members, 0.95);
      return { value, uncertainty: { stderr: this.stddev(muSum, cell.members), ci95: [value - h, value + h] } };
    }
    const hs = this.halfWidth(muSum, cell.members, 0.975);
    const hc = this.halfWidth(muCount, cell.members, 0.975);
    const lo = max0(cell.shiftedSum - hs) + offset * (cell.count + hc);
    const hi = cell.shiftedSum + hs + offset * max0(cell.count - hc);
    const o = Number(offset);
    const stderr = Math.hypot(this.stddev(muSum, cell.members), o * this.stddev(muCount, cell.members));
    return { value, uncertainty: { stderr, ci95: [lo, hi] } };
  }

  /** AVG of a column with domain [min, max] and offset o; `cell.count` ≥ 1 (released rows only). */
  average(
    cell: NoisyCell,
    offset: bigint,
    min: number,
    max: number,
    muSum: Rational,
    muCount: Rational,
  ): { value: number; uncertainty: Uncertainty } {
    const c = cell.count < 1n ? 1n : cell.count;
    const o = Number(offset);
    const shiftedAvg = Number(cell.shiftedSum) / Number(c);
    const value = clip(shiftedAvg + o, min, max);
    const hs = this.halfWidth(muSum, cell.members, 0.975);
    const hc = this.halfWidth(muCount, cell.members, 0.975);
    const lo = Number(max0(cell.shiftedSum - hs)) / Number(c + hc) + o;
    const hiDen = c - hc < 1n ? 1n : c - hc;
    const hi = Number(cell.shiftedSum + hs) / Number(hiDen) + o;
    const stderr =
      Math.hypot(this.stddev(muSum, cell.members), shiftedAvg * this.stddev(muCount, cell.members)) / Number(c);
    return { value, uncertainty: { stderr, ci95: [clip(lo, min, max), clip(hi, min, max)] } };
  }
}
