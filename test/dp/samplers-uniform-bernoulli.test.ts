// Uniform integers and exact Bernoullis: rejection (no modulo bias) shown on scripted words, and
// distributions checked by chi-square and KS at α = 1e-6 against exact probabilities.
import { describe, expect, it } from 'vitest';
import { bernoulli, bernoulliExpNeg, bernoulliFraction } from '../../src/dp/bernoulli.js';
import { poisson } from '../../src/dp/poisson.js';
import { CryptoRandom, RandomBits } from '../../src/dp/random.js';
import { checkNonNegative, rational, type Rational } from '../../src/dp/rational.js';
import { skellam } from '../../src/dp/skellam.js';
import { bernoulliExpNegDist, chiSquareTest, type Discrete, draw, ksTest } from './stats.js';

const N = 120_000;

/** A CryptoRandom whose 32-bit words come from a script (the bounded draws are the real ones). */
class Scripted extends CryptoRandom {
  readonly words: number[];
  constructor(words: number[]) {
    super();
    this.words = words;
  }
  override uint32(): number {
    const w = this.words.shift();
    if (w === undefined) throw new Error('script exhausted');
    return w;
  }
}

function expectFits(samples: ArrayLike<number>, dist: Discrete): void {
  const chi = chiSquareTest(samples, dist);
  const ks = ksTest(samples, dist);
  expect(chi.statistic, `chi-square ${chi.statistic} vs ${chi.critical} (df ${chi.df})`).toBeLessThanOrEqual(
    chi.critical,
  );
  expect(ks.statistic, `KS ${ks.statistic} vs ${ks.critical}`).toBeLessThanOrEqual(ks.critical);
}

describe('uniform integers', () => {
  it('belowNumber masks to the covering power of two and rejects, never reduces modulo n', () => {
    // n = 5: mask 7; 0xfffffff5 & 7 = 5 and 6, 7 are rejected, 3 is returned.
    const r = new Scripted([0xfffffff5, 0x6, 0x7, 0x3]);
    expect(r.belowNumber(5)).toBe(3);
    expect(r.words).toEqual([]);
    expect(new Scripted([0xffffffff]).belowNumber(2 ** 32)).toBe(0xffffffff);
    expect(new Scripted([]).belowNumber(1)).toBe(0);
  });

  it('below(bigint) assembles words big-endian under a top-word mask and rejects values ≥ n', () => {
    const n = (1n << 40n) + 3n; // 41 bits: top word masked to 9 bits
    // (0x1ff, 0) = 511·2^32 ≥ n and (0x100, 5) = 2^40 + 5 ≥ n are rejected; then 0xffffff00 masks
    // to 0x100, giving 2^40 + 2 < n.
    const r = new Scripted([0x1ff, 0x0, 0x100, 0x5, 0xffffff00, 0x2]);
    expect(r.below(n)).toBe((1n << 40n) + 2n);
    expect(r.words).toEqual([]);
  });

  it('belowNumber(7) is uniform', () => {
    const rng = new CryptoRandom();
    const uniform: Discrete = { lo: 0, probs: Array<number>(7).fill(1 / 7), below: 0, above: 0 };
    expectFits(
      draw(N, () => rng.belowNumber(7)),
      uniform,
    );
  });

  it('below(n) for n = 3·2^64 + 5 is uniform over 12 exact buckets', () => {
    const rng = new CryptoRandom();
    const n = 3n * (1n << 64n) + 5n;
    const buckets = 12n;
    // Bucket j holds v with ⌊12v/n⌋ = j, i.e. ⌈jn/12⌉ ≤ v < ⌈(j+1)n/12⌉: exact sizes.
    const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;
    const probs = Array.from(
      { length: 12 },
      (_, j) => Number(ceilDiv(BigInt(j + 1) * n, buckets) - ceilDiv(BigInt(j) * n, buckets)) / Number(n),
    );
    expectFits(
      draw(N, () => Number((rng.below(n) * buckets) / n)),
      { lo: 0, probs, below: 0, above: 0 },
    );
  });

  it('RandomBits: geometricHalf is Geometric(1/2) and binomialHalf(40) is Binomial(40, 1/2)', () => {
    const bits = new RandomBits(new CryptoRandom());
    const geo = Array.from({ length: 60 }, (_, k) => 2 ** -(k + 1));
    expectFits(
      draw(N, () => bits.geometricHalf()),
      { lo: 0, probs: geo, below: 0, above: 2 ** -60 },
    );
    let c = 1;
    const binom = Array.from({ length: 41 }, (_, k) => {
      const p = c / 2 ** 40;
      c = (c * (40 - k)) / (k + 1);
      return p;
    });
    expectFits(
      draw(N, () => bits.binomialHalf(40)),
      { lo: 0, probs: binom, below: 0, above: 0 },
    );
  });
});

describe('rational parameters', () => {
  it('are reduced and frozen; samplers refuse negative values, zero denominators and non-rationals', () => {
    const r = rational(34n, 4n);
    expect(r).toEqual({ num: 17n, den: 2n });
    expect(Object.isFrozen(r)).toBe(true);
    expect(rational(0n, 9n)).toEqual({ num: 0n, den: 1n });
    expect(() => rational(1n, 0n)).toThrow(RangeError);
    expect(() => checkNonNegative(rational(-1n), 'μ')).toThrow(RangeError);
    expect(() => checkNonNegative({ num: 1, den: 1n } as unknown as Rational, 'μ')).toThrow(TypeError);
    expect(() => skellam(rational(-3n, 2n))).toThrow(RangeError);
    expect(() => poisson(rational(-1n))).toThrow(RangeError);
  });
});

describe('exact Bernoulli', () => {
  it('Bernoulli(num/den) for small and > 2^32 denominators', () => {
    const rng = new CryptoRandom();
    expectFits(
      draw(N, () => Number(bernoulliFraction(2n, 7n, rng))),
      { lo: 0, probs: [5 / 7, 2 / 7], below: 0, above: 0 },
    );
    const den = 3n << 70n;
    const p = rational((1n << 70n) + 12345n, den);
    const q = Number(p.num) / Number(p.den);
    expectFits(
      draw(N, () => Number(bernoulli(p, rng))),
      { lo: 0, probs: [1 - q, q], below: 0, above: 0 },
    );
    expect(bernoulli(rational(0n), rng)).toBe(false);
    expect(bernoulli(rational(1n), rng)).toBe(true);
    expect(() => bernoulli(rational(4n, 3n), rng)).toThrow(RangeError);
  });

  it('Bernoulli(exp(−γ)) matches exp(−γ) for γ = 1/10, 1, 5/2, 7', () => {
    const rng = new CryptoRandom();
    for (const [num, den] of [
      [1n, 10n],
      [1n, 1n],
      [5n, 2n],
      [7n, 1n],
    ] as const) {
      const g = rational(num, den);
      expectFits(
        draw(N, () => Number(bernoulliExpNeg(g, rng))),
        bernoulliExpNegDist(num, den),
      );
    }
    expect(bernoulliExpNeg(rational(0n), rng)).toBe(true);
  });

  it('power: Bernoulli(exp(−1.3γ)) is rejected as Bernoulli(exp(−γ)) by both tests', () => {
    const rng = new CryptoRandom();
    for (const [num, den] of [
      [1n, 10n],
      [1n, 1n],
    ] as const) {
      const off = rational(13n * num, 10n * den);
      const samples = draw(N, () => Number(bernoulliExpNeg(off, rng)));
      expect(chiSquareTest(samples, bernoulliExpNegDist(num, den)).reject).toBe(true);
      expect(ksTest(samples, bernoulliExpNegDist(num, den)).reject).toBe(true);
    }
  });
});
