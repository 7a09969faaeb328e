/**
 * Noisy layouts: every party adds signed noise within ±noiseBound to each cell's lowest limb, and
 * the totals still decode exactly (exact sum plus summed noise, possibly negative) for any number
 * of contributors up to `parties`, while slots outside the proven range are refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addNoise, addSlotsModT, packSlots, planSlotLayout, proveNoWrap, unpackSlots } from '../../src/he/packing.js';
import { FedstatError } from '../../src/errors.js';

const SPACES = [
  { slotCount: 8, plainModulus: 65_537n },
  { slotCount: 16, plainModulus: (1n << 40n) - 87n },
  { slotCount: 32, plainModulus: 1152921504606830593n }, // a 60-bit BFV batching prime
];

describe('noisy slot layouts', () => {
  it('decode exact totals plus the summed noise, for 1..parties contributors', () => {
    let decoded = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...SPACES),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.bigInt({ min: 0n, max: 1n << 45n }), { minLength: 1, maxLength: 6 }),
        fc.bigInt({ min: 0n, max: 2000n }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (space, parties, rawBounds, noiseBound, seed) => {
          let layout;
          try {
            layout = planSlotLayout(rawBounds, parties, space, noiseBound);
          } catch (e) {
            if (e instanceof FedstatError && e.code === 'PLAN_UNSAFE') return; // too many slots or no room: refused, fine
            throw e;
          }
          expect(proveNoWrap(layout, space)).toBeLessThan(space.plainModulus);
          let s = seed;
          const rand = (n: bigint): bigint => {
            s = (s * 1103515245 + 12345) % 2 ** 31;
            return n === 0n ? 0n : BigInt(s) % (n + 1n);
          };
          const contributors = 1 + Number(rand(BigInt(parties - 1)));
          const exact = rawBounds.map(() => 0n);
          const noise = rawBounds.map(() => 0n);
          let total: BigUint64Array[] | null = null;
          for (let p = 0; p < contributors; p++) {
            const values = rawBounds.map((b) => rand(b));
            const draws = BigInt64Array.from(rawBounds.map(() => rand(2n * noiseBound) - noiseBound));
            values.forEach((v, i) => {
              exact[i] = (exact[i] ?? 0n) + v;
              noise[i] = (noise[i] ?? 0n) + (draws[i] ?? 0n);
            });
            const slots = packSlots(layout, values);
            addNoise(layout, slots, draws);
            total = total === null ? slots : total.map((t, k) => addSlotsModT(t, slots[k]!, space.plainModulus));
          }
          expect(unpackSlots(layout, total!)).toEqual(exact.map((e, i) => e + (noise[i] ?? 0n)));
          decoded++;
        },
      ),
      { numRuns: 500 },
    );
    expect(decoded).toBeGreaterThan(300);
  });

  it('refuses a draw beyond the bound, and a slot between the positive and the wrapped-negative range', () => {
    const space = SPACES[0]!;
    const layout = planSlotLayout([100n], 3, space, 50n);
    const slots = packSlots(layout, [10n]);
    expect(() => addNoise(layout, slots, BigInt64Array.from([51n]))).toThrow(RangeError);
    // Largest plausible: 3·(100 + 50) = 450; smallest wrapped: t − 150.
    const at = (v: bigint): BigUint64Array[] => {
      const x = [new BigUint64Array(space.slotCount)];
      x[0]![0] = v;
      return x;
    };
    expect(unpackSlots(layout, at(450n))).toEqual([450n]);
    expect(unpackSlots(layout, at(space.plainModulus - 150n))).toEqual([-150n]);
    for (const v of [451n, space.plainModulus - 151n, space.plainModulus / 2n]) {
      expect(() => unpackSlots(layout, at(v))).toThrow(/decrypted totals exceed what the plan allows/);
    }
  });

  it('says when the noise leaves no room under the plain modulus', () => {
    expect(() => planSlotLayout([1n], 3, { slotCount: 8, plainModulus: 97n }, 20n)).toThrow(
      /noise of 3 parties does not fit/,
    );
  });
});
