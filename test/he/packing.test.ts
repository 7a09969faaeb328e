import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import {
  addSlotsModT,
  MAX_CIPHERTEXTS,
  packSlots,
  planSlotLayout,
  proveNoWrap,
  unpackSlots,
  type SlotSpace,
} from '../../src/he/packing.js';

/** The production plain modulus (BFV_N8192_T60), measured from SEAL. */
const T60 = 1152921504606830593n;
const SPACE: SlotSpace = { slotCount: 8192, plainModulus: T60 };

/** Small slot spaces with small prime-ish moduli make limbs and multi-ciphertext layouts common. */
const arbSpace: fc.Arbitrary<SlotSpace> = fc.oneof(
  fc.constant(SPACE),
  fc.record({
    slotCount: fc.integer({ min: 1, max: 64 }),
    plainModulus: fc.oneof(fc.bigInt({ min: 2n, max: 1n << 20n }), fc.bigInt({ min: 2n, max: T60 })),
  }),
);

/** A bound that is either tiny, around common powers of two, or huge (many limbs). */
const arbBound = fc.oneof(
  fc.bigInt({ min: 0n, max: 10n }),
  fc.bigInt({ min: 0n, max: 1n << 40n }),
  fc.bigInt({ min: 0n, max: 1n << 130n }),
);

/** A layout case: space, parties, bounds; filtered to plans that fit MAX_CIPHERTEXTS. */
const arbCase = fc
  .record({
    space: arbSpace,
    parties: fc.integer({ min: 1, max: 40 }),
    bounds: fc.array(arbBound, { minLength: 1, maxLength: 30 }),
  })
  .filter(({ space, parties }) => (space.plainModulus - 1n) / BigInt(parties) >= 1n);

function tryPlan(bounds: readonly bigint[], parties: number, space: SlotSpace) {
  try {
    return planSlotLayout(bounds, parties, space);
  } catch (e) {
    if (isFedstatError(e, 'PLAN_UNSAFE')) return null;
    throw e;
  }
}

const valueUpTo = (bound: bigint) => fc.bigInt({ min: 0n, max: bound });

describe('packing', () => {
  it("round-trips one party's values exactly", () => {
    fc.assert(
      fc.property(
        arbCase.chain((c) => fc.tuple(fc.constant(c), fc.tuple(...c.bounds.map(valueUpTo)))),
        ([{ space, parties, bounds }, values]) => {
          const layout = tryPlan(bounds, parties, space);
          if (layout === null) return;
          const slots = packSlots(layout, values);
          expect(slots).toHaveLength(layout.ciphertextCount);
          for (const v of slots) expect(v.length).toBe(space.slotCount);
          expect(unpackSlots(layout, slots)).toEqual(values);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('unpacks the slot-wise sum mod t of every party to the exact bigint sum', () => {
    fc.assert(
      fc.property(
        arbCase.chain((c) =>
          fc.tuple(
            fc.constant(c),
            // between 1 and `parties` contributors, each with values within the bounds
            fc.array(fc.tuple(...c.bounds.map(valueUpTo)), { minLength: 1, maxLength: c.parties }),
          ),
        ),
        ([{ space, parties, bounds }, contributions]) => {
          const layout = tryPlan(bounds, parties, space);
          if (layout === null) return;
          let sum = packSlots(layout, contributions[0]!);
          for (const values of contributions.slice(1)) {
            const packed = packSlots(layout, values);
            sum = sum.map((s, i) => addSlotsModT(s, packed[i]!, space.plainModulus));
          }
          // Reference: plain bigint addition, no slots, no modulus.
          const expected = bounds.map((_, i) => contributions.reduce((acc, vals) => acc + vals[i]!, 0n));
          expect(unpackSlots(layout, sum)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never admits a worst case that reaches t, and packing the bounds stays within it', () => {
    fc.assert(
      fc.property(arbCase, ({ space, parties, bounds }) => {
        const layout = tryPlan(bounds, parties, space);
        if (layout === null) return;
        const worst = proveNoWrap(layout, space);
        expect(worst < space.plainModulus).toBe(true);
        // Independent check: every party at its bounds; no slot total (integer sum) reaches t.
        let biggest = 0n;
        for (const vec of packSlots(layout, bounds)) for (const s of vec) if (s > biggest) biggest = s;
        expect(BigInt(parties) * biggest < space.plainModulus).toBe(true);
        expect(BigInt(parties) * biggest <= worst).toBe(true);
        expect(layout.limbBase >= 2n && (layout.limbBase & (layout.limbBase - 1n)) === 0n).toBe(true);
        expect(BigInt(parties) * (layout.limbBase - 1n) < space.plainModulus).toBe(true);
        expect(layout.ciphertextCount).toBe(Math.ceil(layout.slotsUsed / space.slotCount));
        expect(layout.ciphertextCount).toBeLessThanOrEqual(MAX_CIPHERTEXTS);
      }),
      { numRuns: 500 },
    );
  });

  it('uses one slot per cell when every bound fits below t/parties', () => {
    const layout = planSlotLayout([10n, 1000n, 0n], 5, SPACE);
    expect(layout.cells.map((c) => c.limbs)).toEqual([1, 1, 1]);
    expect(layout.slotsUsed).toBe(3);
    expect(Object.isFrozen(layout) && Object.isFrozen(layout.cells)).toBe(true);
  });

  it('splits a 2^100 bound into limbs at t ≈ 2^60 and decodes it exactly', () => {
    const bound = (1n << 100n) - 1n;
    const layout = planSlotLayout([bound], 5, SPACE);
    expect(layout.cells[0]!.limbs).toBe(2);
    const sum = [bound, bound, bound, bound, bound]
      .map((v) => packSlots(layout, [v]))
      .reduce((a, b) => a.map((s, i) => addSlotsModT(s, b[i]!, T60)));
    expect(unpackSlots(layout, sum)).toEqual([5n * bound]);
  });

  it('refuses too many ciphertexts and too many parties with PLAN_UNSAFE and a fix', () => {
    const wide = Array.from({ length: MAX_CIPHERTEXTS * 8192 + 1 }, () => 1n);
    expect(() => planSlotLayout(wide, 2, SPACE)).toThrowError(/at most 32 are allowed; group by fewer/);
    try {
      planSlotLayout([1n], 100, { slotCount: 16, plainModulus: 97n });
      expect.unreachable();
    } catch (e) {
      expect(isFedstatError(e, 'PLAN_UNSAFE')).toBe(true);
      expect((e as Error).message).toMatch(/use fewer parties or a preset with a larger plain modulus/);
    }
  });

  it('rejects a value outside its bound with DATA_INVALID that does not echo the value', () => {
    const layout = planSlotLayout([100n, 7n], 3, SPACE);
    for (const values of [
      [101n, 0n],
      [0n, -1n],
    ]) {
      try {
        packSlots(layout, values);
        expect.unreachable();
      } catch (e) {
        expect(isFedstatError(e, 'DATA_INVALID')).toBe(true);
        expect((e as Error).message).not.toMatch(/101|-1\b/);
      }
    }
  });

  it('unpack flags totals beyond the proof or non-zero unused slots (garbage) with BAD_MESSAGE', () => {
    const layout = planSlotLayout([100n], 3, { slotCount: 8, plainModulus: 1n << 20n });
    const over = new BigUint64Array(8);
    over[0] = 301n;
    expect(() => unpackSlots(layout, [over])).toThrowError(/exceed what the plan allows/);
    const stray = new BigUint64Array(8);
    stray[5] = 1n;
    expect(() => unpackSlots(layout, [stray])).toThrowError(/exceed what the plan allows/);
    const ok = new BigUint64Array(8);
    ok[0] = 300n;
    expect(unpackSlots(layout, [ok])).toEqual([300n]);
  });

  it('addSlotsModT matches bigint addition mod t', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 2n, max: T60 }),
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: T60 }), fc.bigInt({ min: 0n, max: T60 })), { maxLength: 20 }),
        (t, pairs) => {
          const a = BigUint64Array.from(pairs.map(([x]) => x % t));
          const b = BigUint64Array.from(pairs.map(([, y]) => y % t));
          expect(Array.from(addSlotsModT(a, b, t))).toEqual(pairs.map(([x, y]) => ((x % t) + (y % t)) % t));
        },
      ),
    );
    expect(() => addSlotsModT(new BigUint64Array([5n]), new BigUint64Array([0n]), 5n)).toThrow(RangeError);
  });
});
