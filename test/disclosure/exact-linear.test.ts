import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowSpace, gcd } from '../../src/disclosure/exact-linear.js';
import { rankModP } from './reference.js';

/** Random 0/1 systems like the released constraints of a table (rows = member lists). */
const systemArb = fc.integer({ min: 1, max: 12 }).chain((width) =>
  fc.record({
    width: fc.constant(width),
    rows: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: width - 1 }), { maxLength: width }), { maxLength: 14 }),
    probe: fc.uniqueArray(fc.integer({ min: 0, max: width - 1 }), { maxLength: width }),
  }),
);

const dense = (members: readonly number[], width: number): bigint[] => {
  const v = new Array<bigint>(width).fill(0n);
  for (const k of members) v[k] = 1n;
  return v;
};

describe('RowSpace (exact rational elimination)', () => {
  it('has the rank, and the membership answers, of an independent GF(2^61-1) elimination', () => {
    fc.assert(
      fc.property(systemArb, ({ width, rows, probe }) => {
        const space = new RowSpace(width);
        for (const r of rows) space.add(dense(r, width));
        const rank = rankModP(rows, width);
        expect(space.rank).toBe(rank);
        expect(space.contains(dense(probe, width))).toBe(rankModP([...rows, probe], width) === rank);
      }),
      { numRuns: 400 },
    );
  });

  it('returns a kernel basis: width − rank independent integer vectors that every row annihilates', () => {
    fc.assert(
      fc.property(systemArb, ({ width, rows }) => {
        const space = new RowSpace(width);
        for (const r of rows) space.add(dense(r, width));
        const kernel = space.kernelBasis();
        expect(kernel.length).toBe(width - rankModP(rows, width));
        for (const v of kernel) for (const r of rows) expect(r.reduce((s, k) => s + v[k]!, 0n)).toBe(0n);
        // Independence, checked exactly: adding them one by one to an empty space always grows it.
        const k = new RowSpace(width);
        for (const v of kernel) expect(k.add(v)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps entries exact where floating point would not (coefficients beyond 2^53)', () => {
    const big = 1n << 70n;
    const s = new RowSpace(2);
    s.add([big + 1n, big]);
    expect(s.contains([(big + 1n) * 3n, big * 3n])).toBe(true);
    expect(s.contains([big + 1n, big + 1n])).toBe(false);
    expect(gcd(-12n, 18n)).toBe(6n);
  });

  it('rejects vectors of the wrong width', () => {
    expect(() => new RowSpace(3).add([1n])).toThrow(RangeError);
    expect(() => new RowSpace(-1)).toThrow(RangeError);
  });
});
