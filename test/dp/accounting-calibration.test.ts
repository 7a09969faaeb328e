import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { skellamRho, type Sensitivity } from '../../src/dp/accountant.js';
import { calibrateMu, perAgencyMu } from '../../src/dp/calibration.js';
import { compare, mul, rational, sub } from '../../src/dp/rational.js';
import { jointSensitivity, measureSensitivity, querySensitivity, type Measure } from '../../src/dp/sensitivity.js';

const COUNT: Sensitivity = { l1: 1n, l2Squared: 1n };
const rhoArb = fc
  .tuple(fc.integer({ min: 1, max: 99_999 }), fc.integer({ min: 1, max: 7 }))
  .map(([n, e]) => rational(BigInt(n), 10n ** BigInt(e))); // decimals like 0.05, 1e-6
const sensArb = fc
  .tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 4 }))
  .map(([b, m]) => ({ l1: BigInt(m * b), l2Squared: BigInt(m * b * b) }));

describe('calibrateMu', () => {
  it('known values: ρ=0.03 for a COUNT needs μ=10 exactly (ρ(10)=3/100)', () => {
    expect(calibrateMu(rational(3n, 100n), COUNT)).toEqual(rational(10n));
    // slightly tighter target: 10 no longer suffices
    expect(calibrateMu(rational(299n, 10_000n), COUNT)).toEqual(rational(11n));
  });

  it('the answer meets the target and one grid step less does not', () => {
    fc.assert(
      fc.property(rhoArb, sensArb, fc.constantFrom(1n, 2n, 10n), (target, sens, q) => {
        const mu = calibrateMu(target, sens, { granularity: q });
        const below = sub(mu, rational(1n, q));
        const meets = compare(skellamRho(mu, sens), target) <= 0;
        const belowFails = below.num === 0n || compare(skellamRho(below, sens), target) > 0;
        return meets && belowFails;
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the closed-form root of 8ρμ² − 2Δ2²μ − (Δ2² + 3Δ1) = 0 (float, ±1)', () => {
    fc.assert(
      fc.property(rhoArb, sensArb, (target, sens) => {
        const r = Number(target.num) / Number(target.den);
        const a = Number(sens.l2Squared);
        const b = Number(sens.l1);
        const root = (2 * a + Math.sqrt(4 * a * a + 32 * r * (a + 3 * b))) / (16 * r);
        const mu = calibrateMu(target, sens);
        return Math.abs(Number(mu.num) - Math.ceil(root)) <= 1;
      }),
    );
  });

  it('smaller targets need at least as much noise (monotone)', () => {
    fc.assert(
      fc.property(rhoArb, rhoArb, sensArb, (a, b, sens) => {
        const [lo, hi] = compare(a, b) <= 0 ? [a, b] : [b, a];
        return compare(calibrateMu(lo, sens), calibrateMu(hi, sens)) >= 0;
      }),
    );
  });

  it('zero sensitivity needs no noise; a non-positive target is misuse', () => {
    expect(calibrateMu(rational(1n, 10n), { l1: 0n, l2Squared: 0n })).toEqual(rational(0n));
    expect(() => calibrateMu(rational(0n), COUNT)).toThrow(RangeError);
    expect(() => calibrateMu(rational(1n), COUNT, { granularity: 0n })).toThrow(RangeError);
  });
});

describe('perAgencyMu', () => {
  it('t shares add back to μ, and any s ≥ t survivors add at least μ', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 50 }),
        (m, t, extra) => {
          const mu = rational(m);
          const share = perAgencyMu(mu, t);
          return (
            compare(mul(share, rational(BigInt(t))), mu) === 0 &&
            compare(mul(share, rational(BigInt(t + extra))), mu) >= 0
          );
        },
      ),
    );
    expect(perAgencyMu(rational(10n), 4)).toEqual(rational(5n, 2n));
    expect(() => perAgencyMu(rational(10n), 0)).toThrow(RangeError);
  });
});

describe('sensitivity from a query shape', () => {
  it('COUNT is 1, SUM is max(|min|, |max|), rows per person scale both', () => {
    expect(measureSensitivity({ kind: 'count' })).toEqual({ l1: 1n, l2Squared: 1n });
    expect(measureSensitivity({ kind: 'sum', min: -5, max: 3 })).toEqual({ l1: 5n, l2Squared: 25n });
    expect(measureSensitivity({ kind: 'sum', min: 0n, max: 120n })).toEqual({ l1: 120n, l2Squared: 14_400n });
    expect(measureSensitivity({ kind: 'count' }, { rowsPerPerson: 3 })).toEqual({ l1: 3n, l2Squared: 9n });
    expect(querySensitivity([{ kind: 'count' }, { kind: 'sum', min: 0, max: 10 }])).toEqual({
      l1: 11n,
      l2Squared: 101n,
    });
    expect(jointSensitivity([])).toEqual({ l1: 0n, l2Squared: 0n });
    expect(() => measureSensitivity({ kind: 'sum', min: 3, max: -3 })).toThrow(RangeError);
  });

  it('brute force: removing any one person from a random GROUP BY never moves the vector more', () => {
    // person → rows (group, value); the released vector is (COUNT, SUM) per group
    const rowsArb = fc.array(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -7, max: 9 })), {
        minLength: 1,
        maxLength: 2,
      }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(rowsArb, (people) => {
        const measures: Measure[] = [{ kind: 'count' }, { kind: 'sum', min: -7, max: 9 }];
        const claimed = querySensitivity(measures, { rowsPerPerson: 2 });
        const release = (ps: (readonly [number, number])[][]): number[] => {
          const v = new Array<number>(8).fill(0);
          for (const p of ps)
            for (const [g, x] of p) {
              v[g] = v[g]! + 1;
              v[4 + g] = v[4 + g]! + x;
            }
          return v;
        };
        const full = release(people);
        for (let i = 0; i < people.length; i++) {
          const without = release(people.filter((_, j) => j !== i));
          const diff = full.map((x, k) => x - without[k]!);
          const l1 = diff.reduce((s, x) => s + Math.abs(x), 0);
          const l2 = diff.reduce((s, x) => s + x * x, 0);
          if (BigInt(l1) > claimed.l1 || BigInt(l2) > claimed.l2Squared) return false;
        }
        return true;
      }),
    );
    // and the bound is attained: one person with two rows of value 9 in one group
    const worst = { l1: 2n * (1n + 9n), l2Squared: 2n * 2n + 18n * 18n };
    const claimed = querySensitivity([{ kind: 'count' }, { kind: 'sum', min: -7, max: 9 }], { rowsPerPerson: 2 });
    expect(claimed.l1).toBe(worst.l1);
    expect(claimed.l2Squared).toBe(worst.l2Squared);
  });
});
