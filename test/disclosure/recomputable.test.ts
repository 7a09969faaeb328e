import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellKey, type Cell } from '../../src/disclosure/table.js';
import { isRecomputable, protectionWidths, recomputableCells } from '../../src/disclosure/recomputable.js';
import { tableArb, toTable } from './arbitraries.js';
import { key, refCells, refIntervals, refRecomputable, type RefTable } from './reference.js';

/** A table and an arbitrary subset of its cells (margins included) to withhold. */
const withArb = (maxRows: number, maxCols: number, cell?: fc.Arbitrary<bigint>) =>
  tableArb(maxRows, maxCols, cell).chain((t) => {
    const cells = refCells(t);
    return fc.subarray(cells.map((c) => c.cell)).map((withheld) => ({ t, withheld }));
  });

describe('isRecomputable / recomputableCells', () => {
  it('agree with rank over GF(2^61-1) of the full system, for any withheld set (1-D and 2-D up to 8×8)', () => {
    fc.assert(
      fc.property(withArb(8, 8), ({ t, withheld }) => {
        const mine = recomputableCells(toTable(t), withheld).map(key);
        expect(mine).toEqual(refRecomputable(t, withheld));
        for (const c of withheld) expect(isRecomputable(toTable(t), withheld, c)).toBe(mine.includes(key(c)));
      }),
      { numRuns: 300 },
    );
  });

  it('differencing: "all residents" plus every group but one gives the missing group', () => {
    const t: RefTable = {
      rows: 5,
      cols: undefined,
      counts: [1200n, 830n, 3n, 410n, 97n],
      margins: { rows: false, cols: false, total: true },
    };
    expect(recomputableCells(toTable(t), [{ row: 2 }])).toEqual([{ row: 2 }]);
    expect(isRecomputable(toTable(t), [{ row: 2 }, { row: 4 }], { row: 2 })).toBe(false);
    // Without the total nothing links the groups.
    expect(
      isRecomputable(toTable({ ...t, margins: { rows: false, cols: false, total: false } }), [{ row: 2 }], { row: 2 }),
    ).toBe(false);
  });

  it('2-D: two withheld cells per line is not enough — a bridge between two rectangles is determined', () => {
    // Rows/columns are nodes, withheld cells edges: a cell on no cycle (a bridge) is a fixed
    // difference of released margins, although every row and column holds two or more withheld cells.
    const t: RefTable = {
      rows: 4,
      cols: 4,
      counts: Array.from({ length: 16 }, (_, k) => BigInt(20 + k)),
      margins: { rows: true, cols: true, total: true },
    };
    const rect = (r: number, c: number): Cell[] => [
      { row: r, col: c },
      { row: r, col: c + 1 },
      { row: r + 1, col: c },
      { row: r + 1, col: c + 1 },
    ];
    const withheld: Cell[] = [...rect(0, 0), ...rect(2, 2), { row: 1, col: 2 }];
    expect(recomputableCells(toTable(t), withheld)).toEqual([{ row: 1, col: 2 }]);
    expect(refRecomputable(t, withheld)).toEqual([key({ row: 1, col: 2 })]);
  });

  it('a withheld margin whose members are all released is recomputable', () => {
    const t: RefTable = {
      rows: 2,
      cols: 2,
      counts: [1n, 2n, 3n, 4n],
      margins: { rows: true, cols: false, total: false },
    };
    expect(isRecomputable(toTable(t), [{ row: 0, col: 'total' }], { row: 0, col: 'total' })).toBe(true);
  });

  it('rejects cells that are not in the release, or that are released', () => {
    expect([cellKey({ row: 2, col: 'total' }), cellKey({ row: 'total' })]).toEqual(['r2cT', 'rT']);
    const t = toTable({
      rows: 2,
      cols: 2,
      counts: [1n, 2n, 3n, 4n],
      margins: { rows: false, cols: false, total: false },
    });
    expect(() => isRecomputable(t, [{ row: 'total', col: 'total' }], { row: 'total', col: 'total' })).toThrow(
      RangeError,
    );
    expect(() => isRecomputable(t, [{ row: 0, col: 0 }], { row: 0, col: 1 })).toThrow(RangeError);
  });
});

describe('protectionWidths', () => {
  it('is a sound lower bound on the attacker interval found by exhaustive enumeration', () => {
    let compared = 0;
    fc.assert(
      fc.property(withArb(3, 3, fc.bigInt({ min: 0n, max: 4n })), ({ t, withheld }) => {
        const exact = refIntervals(t, withheld);
        if (exact === undefined) return;
        compared++;
        for (const p of protectionWidths(toTable(t), withheld)) {
          const [lo, hi] = exact.get(key(p.cell))!;
          if (p.recomputable) expect(hi).toBe(lo);
          // Unbounded certificates: the enumeration (capped at total+1) still sees two values.
          if (p.width === null) expect(hi > lo).toBe(true);
          else expect(hi - lo >= p.width).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    expect(compared).toBeGreaterThan(100);
  });

  it('sees through non-negativity: two suppressed zeros next to a published total are exposed', () => {
    const t = toTable({
      rows: 4,
      cols: undefined,
      counts: [100n, 0n, 0n, 50n],
      margins: { rows: false, cols: false, total: true },
    });
    const w = protectionWidths(t, [{ row: 1 }, { row: 2 }]);
    expect(w.map((p) => [p.recomputable, p.width])).toEqual([
      [false, 0n],
      [false, 0n],
    ]);
    expect(protectionWidths(t, [{ row: 1 }, { row: 2 }, { row: 3 }]).map((p) => p.width)).toEqual([50n, 50n, 50n]);
  });
});
