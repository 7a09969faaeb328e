import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { skellamRho } from '../../src/dp/accountant.js';
import { cksEpsilonAt, rhoToDelta, rhoToEpsilon, simpleEpsilon } from '../../src/dp/conversion.js';
import { rational } from '../../src/dp/rational.js';
import { hockeyStickShifted } from './accounting-reference.js';

const rhoArb = fc.double({ min: 1e-6, max: 20, noNaN: true });
const deltaArb = fc.constantFrom(1e-3, 1e-5, 1e-6, 1e-9, 1e-12);

/** Reference: brute-force minimum of the CKS bound over a dense grid of integer and fractional orders. */
function gridEpsilon(rho: number, delta: number): number {
  let best = Infinity;
  for (let i = 1; i <= 200_000; i++) {
    const alpha = 1 + i * 1e-4 * (1 + i / 2000); // 1.0001 … ~ 2e3, denser near 1
    const L = Math.log(1 / delta);
    const e = alpha * rho + (L + (alpha - 1) * Math.log(1 - 1 / alpha) - Math.log(alpha)) / (alpha - 1);
    if (e < best) best = e;
  }
  return best;
}

describe('ρ → (ε, δ) conversion (Canonne, Kamath, Steinke 2020)', () => {
  it('matches a brute-force grid optimisation of the CKS bound to 1e-6 relative, never below it by more', () => {
    for (const rho of [1e-4, 0.005, 0.05, 0.5, 1, 5]) {
      for (const delta of [1e-5, 1e-9]) {
        const ours = rhoToEpsilon(rho, delta);
        const ref = gridEpsilon(rho, delta);
        expect(ours).toBeLessThanOrEqual(ref * (1 + 1e-9));
        expect(ours).toBeGreaterThanOrEqual(ref * (1 - 1e-6));
      }
    }
  });

  it('never exceeds the simple ε = ρ + 2√(ρ ln 1/δ), and is strictly better for ρ > 0', () => {
    fc.assert(
      fc.property(rhoArb, deltaArb, (rho, delta) => {
        const e = rhoToEpsilon(rho, delta);
        const simple = rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
        // ε = 0 is legitimate when ρ is so small that total variation is already below δ
        return e <= simpleEpsilon(rho, delta) && e < simple && e >= 0;
      }),
    );
  });

  it('is monotone: more ρ → more ε; smaller δ → more ε', () => {
    fc.assert(
      fc.property(rhoArb, rhoArb, deltaArb, (a, b, delta) => {
        fc.pre(a < b * (1 - 1e-9));
        return rhoToEpsilon(a, delta) <= rhoToEpsilon(b, delta);
      }),
    );
    expect(rhoToEpsilon(0.1, 1e-9)).toBeGreaterThan(rhoToEpsilon(0.1, 1e-5));
  });

  it('round-trips with rhoToDelta: δ at the returned ε is at most the asked δ', () => {
    fc.assert(
      fc.property(rhoArb, deltaArb, (rho, delta) => {
        const eps = rhoToEpsilon(rho, delta);
        const back = rhoToDelta(rho, eps);
        return back <= delta * (1 + 1e-6) && (eps === 0 || back >= delta * 0.9);
      }),
      { numRuns: 60 },
    );
  });

  it('accepts exact rationals (rounded up) and treats ρ = 0 as ε = 0', () => {
    expect(rhoToEpsilon(rational(1n, 20n), 1e-6)).toBeCloseTo(rhoToEpsilon(0.05, 1e-6), 12);
    expect(rhoToEpsilon(0, 1e-6)).toBe(0);
    expect(cksEpsilonAt(2, 0.5, 1e-6)).toBeCloseTo(1 + (Math.log(1e6) + Math.log(0.5) - Math.log(2)), 12);
    expect(() => rhoToEpsilon(0.1, 0)).toThrow(RangeError);
    expect(() => rhoToEpsilon(0.1, 1)).toThrow(RangeError);
    expect(() => rhoToEpsilon(-1, 1e-6)).toThrow(RangeError);
  });

  it('end to end: the true hockey-stick divergence of the Skellam mechanism is within the displayed δ', () => {
    for (const mu of [3, 10, 40]) {
      for (const shift of [1, 2]) {
        const rho = skellamRho(rational(BigInt(mu)), { l1: BigInt(shift), l2Squared: BigInt(shift * shift) });
        for (const delta of [1e-3, 1e-6]) {
          const eps = rhoToEpsilon(rho, delta);
          const trueDelta = hockeyStickShifted(mu, shift, eps, Math.ceil(mu + 40 * Math.sqrt(mu) + 80));
          expect(trueDelta).toBeLessThanOrEqual(delta);
        }
      }
    }
  });
});
