import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  composeRho,
  distributedRho,
  fitsBudget,
  remaining,
  skellamRdp,
  skellamRho,
  type Sensitivity,
} from '../../src/dp/accountant.js';
import { add, compare, mul, rational, sub, type Rational } from '../../src/dp/rational.js';
import { renyiShifted } from './accounting-reference.js';

const COUNT: Sensitivity = { l1: 1n, l2Squared: 1n };

const sensArb = fc
  .tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 5 }))
  // m equal coordinates of size b: Δ1 = m·b, Δ2² = m·b² (a valid integer vector)
  .map(([b, m]) => ({ l1: BigInt(m * b), l2Squared: BigInt(m * b * b) }));
const muArb = fc
  .tuple(fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.bigInt({ min: 1n, max: 1000n }))
  .map(([n, d]) => rational(n, d));

describe('Skellam RDP curve (Agarwal, Kairouz, Liu 2021, Thm 3.5)', () => {
  it('matches hand-computed values', () => {
    // μ=10, Δ1=Δ2=1, α=2: 2/40 + min((3+6)/1600, 3/40) = 80/1600 + 9/1600
    expect(skellamRdp(rational(2n), rational(10n), COUNT)).toEqual(rational(89n, 1600n));
    // μ=1/2, Δ1=Δ2=1, α=3: 3/2 + min((5+6)/4, 3/2) = 3/2 + 3/2 (second branch wins for tiny μ)
    expect(skellamRdp(rational(3n), rational(1n, 2n), COUNT)).toEqual(rational(3n));
    // ρ(10) for a count: 1/40 + (1+3)/800 = 3/100 exactly
    expect(skellamRho(rational(10n), COUNT)).toEqual(rational(3n, 100n));
    // SUM with bound 5: Δ1=5, Δ2²=25, μ=1000: 25/4000 + (25+15)/8e6
    expect(skellamRho(rational(1000n), { l1: 5n, l2Squared: 25n })).toEqual(
      add(rational(25n, 4000n), rational(40n, 8_000_000n)),
    );
  });

  it('the RDP curve lies under α·ρ for every α > 1 (the zCDP claim), exactly', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 6n }), fc.bigInt({ min: 1n, max: 10n ** 6n })),
        muArb,
        sensArb,
        ([n, d], mu, sens) => {
          const alpha = add(rational(1n), rational(n, d));
          return compare(skellamRdp(alpha, mu, sens), mul(alpha, skellamRho(mu, sens))) <= 0;
        },
      ),
      { numRuns: 500 },
    );
  });

  it('bounds the true Rényi divergence of shifted Skellam, computed by summation, at real orders', () => {
    for (const mu of [2, 5, 20, 60, 200]) {
      for (const shift of [1, 2, 3]) {
        const rho = skellamRho(rational(BigInt(mu)), { l1: BigInt(shift), l2Squared: BigInt(shift * shift) });
        const r = Number(rho.num) / Number(rho.den);
        for (const alpha of [1.001, 1.01, 1.05, 1.1, 1.5, 2, 3.7, 8, 20]) {
          const range = Math.ceil(mu + 60 * Math.sqrt(mu) + 120);
          const d = renyiShifted(mu, shift, alpha, range);
          expect(d).toBeGreaterThan(0);
          expect(d).toBeLessThanOrEqual(alpha * r);
          // not vacuous: once μ is moderate the true divergence is close to the bound
          if (mu >= 20 && alpha <= 8) expect(d).toBeGreaterThan(0.8 * alpha * r);
        }
      }
    }
  });

  it('more noise, less ρ: strictly decreasing in μ', () => {
    fc.assert(
      fc.property(muArb, muArb, sensArb, (a, b, sens) => {
        const c = compare(a, b);
        fc.pre(c !== 0);
        const [lo, hi] = c < 0 ? [a, b] : [b, a];
        return compare(skellamRho(hi, sens), skellamRho(lo, sens)) < 0;
      }),
    );
  });

  it('refuses invalid sensitivities, orders and μ', () => {
    expect(() => skellamRho(rational(10n), { l1: 1n, l2Squared: 4n })).toThrow(RangeError);
    expect(() => skellamRho(rational(10n), { l1: 5n, l2Squared: 4n })).toThrow(RangeError);
    expect(() => skellamRho(rational(0n), COUNT)).toThrow(RangeError);
    expect(() => skellamRdp(rational(1n), rational(10n), COUNT)).toThrow(RangeError);
    expect(skellamRho(rational(0n), { l1: 0n, l2Squared: 0n })).toEqual(rational(0n));
  });
});

describe('distributed Skellam', () => {
  it('s ≥ t survivors each adding μ/t give at most the ρ of μ; fewer is refused', () => {
    fc.assert(
      fc.property(
        muArb,
        sensArb,
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 64 }),
        (mu, sens, t, extra) => {
          const r = distributedRho(mu, t, t + extra, sens);
          const full = skellamRho(mu, sens);
          return extra === 0 ? compare(r, full) === 0 : compare(r, full) < 0;
        },
      ),
    );
    expect(() => distributedRho(rational(10n), 5, 4, COUNT)).toThrow(RangeError);
  });
});

describe('composition and budgets', () => {
  it('ρ adds exactly: 0.1 + 0.2 = 0.3 (the float sum would overspend a 0.3 budget check)', () => {
    const tenth = rational(1n, 10n);
    const fifth = rational(2n, 10n);
    const budget = rational(3n, 10n);
    expect(composeRho([tenth, fifth])).toEqual(budget);
    expect(fitsBudget(budget, tenth, fifth)).toBe(true);
    expect(fitsBudget(budget, tenth, add(fifth, rational(1n, 10n ** 30n)))).toBe(false);
    expect(0.1 + 0.2 <= 0.3).toBe(false); // why floats are not used
  });

  it('remaining = budget − spent, floored at 0; composition equals the sum of parts', () => {
    fc.assert(
      fc.property(fc.array(muArb, { maxLength: 20 }), muArb, (parts: Rational[], budget) => {
        const spent = composeRho(parts);
        let manual = rational(0n);
        for (const p of parts) manual = add(manual, p);
        const left = remaining(budget, spent);
        const expected = compare(spent, budget) >= 0 ? rational(0n) : sub(budget, spent);
        return (
          compare(spent, manual) === 0 &&
          compare(left, expected) === 0 &&
          fitsBudget(budget, spent, left) === compare(spent, budget) <= 0
        );
      }),
    );
    expect(() => composeRho([rational(-1n)])).toThrow(RangeError);
  });
});
