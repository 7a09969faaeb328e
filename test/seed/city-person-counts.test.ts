import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cityPersonCounts } from '../../src/seed/generate.js';
import type { Scenario } from '../../src/seed/scenario.js';

/** Only `cities[].migrantShare` matters to the count; the rest of the scenario is irrelevant here. */
const withShares = (shares: readonly number[]): Scenario =>
  ({ cities: shares.map((migrantShare) => ({ migrantShare })) }) as unknown as Scenario;

/**
 * Reference in floating point: exact while rows·share < 2^53 and far from .5 ties by more than an
 * ulp, which holds for rows ≤ 1e8 and shares ≤ 1e4 (ties are then exact, and Math.round rounds them up).
 */
const reference = (rows: number, shares: readonly number[]): number[] => {
  const max = Math.max(...shares);
  return shares.map((s) => Math.max(1, Math.round((rows * s) / max)));
};

/** Reference in BigInt by quotient and remainder (a different derivation from the code's). */
const referenceBig = (rows: number, shares: readonly number[]): number[] => {
  const max = BigInt(Math.max(...shares));
  return shares.map((s) => {
    const p = BigInt(rows) * BigInt(s);
    const n = p / max + (2n * (p % max) >= max ? 1n : 0n);
    return Math.max(1, Number(n));
  });
};

const shares = (max: number) => fc.array(fc.integer({ min: 1, max }), { minLength: 1, maxLength: 6 });

describe('cityPersonCounts', () => {
  it('sichuan at 20,000 rows: 成都 20000, 绵阳 3600, 德阳 2400; halves round up, tiny cities keep one person', () => {
    expect(cityPersonCounts(withShares([100, 18, 12]), 20_000)).toEqual([20_000, 3_600, 2_400]);
    expect(cityPersonCounts(withShares([100, 18, 12]), 25)).toEqual([25, 5, 3]); // 4.5 → 5, 3.0
    expect(cityPersonCounts(withShares([100, 18, 12]), 2)).toEqual([2, 1, 1]); // 0.36 and 0.24 → at least 1
    expect(cityPersonCounts(withShares([7]), 1)).toEqual([1]);
  });

  it('equals the rounded proportional share, and the largest share gets exactly rows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000_000 }), shares(10_000), (rows, s) => {
        const counts = cityPersonCounts(withShares(s), rows);
        expect(counts).toEqual(reference(rows, s));
        expect(counts[s.indexOf(Math.max(...s))]).toBe(rows);
      }),
    );
  });

  it('stays exact where rows × share passes 2^53', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2 ** 40, max: Number.MAX_SAFE_INTEGER }), shares(1_000_000), (rows, s) => {
        expect(cityPersonCounts(withShares(s), rows)).toEqual(referenceBig(rows, s));
      }),
    );
  });

  it('never decreases as rows grow, so a smaller run is a prefix of a larger one in every city', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000 }),
        shares(1_000),
        (rows, more, s) => {
          const small = cityPersonCounts(withShares(s), rows);
          const large = cityPersonCounts(withShares(s), rows + more);
          small.forEach((n, i) => expect(n).toBeLessThanOrEqual(large[i]!));
        },
      ),
    );
    // Exhaustively over small sizes, where max(1, ·) and rounding interact.
    const s = [100, 18, 12, 1, 99];
    for (let rows = 1; rows < 2_000; rows++) {
      const a = cityPersonCounts(withShares(s), rows);
      const b = cityPersonCounts(withShares(s), rows + 1);
      expect(
        a.every((n, i) => n <= b[i]!),
        String(rows),
      ).toBe(true);
    }
  });

  it('refuses a non-positive or fractional rows (programmer misuse)', () => {
    for (const rows of [0, -1, 2.5, Number.NaN, 2 ** 53])
      expect(() => cityPersonCounts(withShares([1]), rows)).toThrow(RangeError);
  });
});
