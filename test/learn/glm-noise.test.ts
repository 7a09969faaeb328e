/**
 * One agency's noise for a DP round (glm-noise.ts): Skellam(μ/τ) per entry with the variance it
 * promises, nothing in a kind the rows cannot move, the event loop kept running while it draws;
 * the decoded total's variance in real units as glmNoiseVariance states it.
 */
import { describe, expect, it } from 'vitest';
import { rational } from '../../src/dp/rational.js';
import { planGlmEncoding } from '../../src/learn/fixed-point.js';
import type { SumKind } from '../../src/learn/fixed-point.js';
import { drawGlmNoise, glmNoiseVariance } from '../../src/learn/glm-noise.js';
import { recordBounds } from '../../src/learn/record-bounds.js';
import { seededRandom, T60 } from './dp-sim.js';
import { coded, INSURANCE } from './fixtures.js';

// d = 14: 105 information entries per draw.
const CODING = coded('insured ~ age + sex + sector + district + sector:sex', 'binomial', INSURANCE);
const PLAN = planGlmEncoding(CODING, recordBounds(CODING), 10_000, 5, T60, {
  privacy: { rho: rational(1n, 20n), threshold: 4 },
});

function slice(noise: BigInt64Array, kind: SumKind): number[] {
  const k = PLAN.kinds[kind];
  return Array.from(noise.subarray(k.firstEntry, k.firstEntry + k.entries), Number);
}

describe('drawGlmNoise', () => {
  it('draws Skellam(μ/τ) per entry: mean 0, variance 2μ/τ, within the tail bound', async () => {
    const random = seededRandom(11);
    const draws: Record<'gradient' | 'information', number[]> = { gradient: [], information: [] };
    for (let i = 0; i < 40; i++) {
      const noise = await drawGlmNoise(PLAN, random);
      for (const kind of ['gradient', 'information'] as const) draws[kind].push(...slice(noise, kind));
    }
    for (const kind of ['gradient', 'information'] as const) {
      const k = PLAN.privacy?.kinds[kind];
      if (k === undefined || k === null) throw new Error(`${kind} is noised`);
      const expected = (2 * Number(k.agencyMu.num)) / Number(k.agencyMu.den);
      const xs = draws[kind];
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
      // 4.5 standard errors: √(2/N) of the variance, √(v/N) of the mean.
      expect(Math.abs(variance / expected - 1), kind).toBeLessThan(4.5 * Math.sqrt(2 / xs.length));
      expect(Math.abs(mean), kind).toBeLessThan(4.5 * Math.sqrt(expected / xs.length));
      expect(Math.max(...xs.map(Math.abs))).toBeLessThanOrEqual(Number(k.agencyNoiseBound));
    }
  });

  it('leaves a kind the rows cannot move at zero (binomial saturated) and noises n', async () => {
    const noise = await drawGlmNoise(PLAN, seededRandom(3));
    expect(noise.length).toBe(PLAN.entries);
    expect(PLAN.privacy?.kinds.saturated).toBeNull();
    expect(slice(noise, 'saturated')).toEqual([0]);
    expect(PLAN.privacy?.kinds.n?.sensitivity).toEqual({ l1: 1n, l2Squared: 1n });
  });

  it('is reproducible from its random source, and refuses an exact plan', async () => {
    expect(await drawGlmNoise(PLAN, seededRandom(5))).toEqual(await drawGlmNoise(PLAN, seededRandom(5)));
    const exact = planGlmEncoding(CODING, recordBounds(CODING), 10_000, 5, T60);
    await expect(drawGlmNoise(exact)).rejects.toThrow(RangeError);
  });

  it('lets the event loop run while it draws', async () => {
    let ran = false;
    setImmediate(() => (ran = true));
    await drawGlmNoise(PLAN);
    expect(ran).toBe(true);
  });
});

describe('glmNoiseVariance', () => {
  it('is 2·(μ/τ)·s·2^-2f per entry in real units, 0 for a kind not noised', () => {
    const at = (s?: number): ReturnType<typeof glmNoiseVariance> => glmNoiseVariance(PLAN, s);
    const k = PLAN.privacy?.kinds.gradient;
    if (k === undefined || k === null) throw new Error('gradient is noised');
    const units = (2 * Number(k.agencyMu.num) * 4) / Number(k.agencyMu.den);
    expect(at().gradient).toBeCloseTo(units * 2 ** (-2 * PLAN.kinds.gradient.fractionalBits), 12);
    expect(at(5).information / at().information).toBeCloseTo(5 / 4, 12);
    expect(at().saturated).toBe(0);
    expect(at().n).toBeCloseTo((2 * Number(PLAN.privacy?.kinds.n?.mu.num)) / Number(PLAN.privacy?.kinds.n?.mu.den));
  });

  it('refuses fewer contributors than the threshold, more than planned, and exact plans', () => {
    expect(() => glmNoiseVariance(PLAN, 3)).toThrow(RangeError);
    expect(() => glmNoiseVariance(PLAN, 6)).toThrow(RangeError);
    expect(() => glmNoiseVariance(planGlmEncoding(CODING, recordBounds(CODING), 10, 5, T60))).toThrow(RangeError);
  });
});

describe('the noise and the number of rows', () => {
  it('does not grow with maxRows: the store sums compensated, so float error stays far below a row', () => {
    const at = (maxRows: number) =>
      glmNoiseVariance(
        planGlmEncoding(CODING, recordBounds(CODING), maxRows, 5, T60, {
          maxCiphertexts: 4,
          privacy: { rho: rational(1n, 10n), threshold: 3 },
        }),
      );
    const small = at(10_000);
    const huge = at(1_000_000_000);
    for (const kind of ['gradient', 'information', 'deviance'] as const) {
      expect(huge[kind] / small[kind]).toBeGreaterThan(0.9);
      expect(huge[kind] / small[kind]).toBeLessThan(1.1);
    }
  });
});
