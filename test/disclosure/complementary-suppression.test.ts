import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planSuppression, type SuppressionPlan } from '../../src/disclosure/complementary-suppression.js';
import { protectionWidths } from '../../src/disclosure/recomputable.js';
import { tableArb, toTable } from './arbitraries.js';
import { key, refCells, refIntervals, refRecomputable, type RefTable } from './reference.js';

const minArb = fc.integer({ min: 0, max: 12 });
const withheldCells = (p: SuppressionPlan) => p.withheld.map((w) => w.cell);

describe('planSuppression: known tables', () => {
  it('3×3 with all margins and one small cell: four cells withheld in a rectangle', () => {
    const t: RefTable = {
      rows: 3,
      cols: 3,
      counts: [20n, 30n, 2n, 25n, 40n, 50n, 60n, 15n, 35n],
      margins: { rows: true, cols: true, total: true },
    };
    const plan = planSuppression({ ...toTable(t), minGroupSize: 5 });
    expect(plan.withheld).toEqual([
      { cell: { row: 0, col: 0 }, reason: 'complementary', protects: { row: 0, col: 2 } },
      { cell: { row: 0, col: 2 }, reason: 'primary' },
      { cell: { row: 1, col: 0 }, reason: 'complementary', protects: { row: 0, col: 0 } },
      { cell: { row: 1, col: 2 }, reason: 'complementary', protects: { row: 1, col: 0 } },
    ]);
    // Two rows × two columns, and the reference finds nothing recomputable.
    const cells = withheldCells(plan);
    expect(new Set(cells.map((c) => c.row)).size * new Set(cells.map((c) => c.col)).size).toBe(4);
    expect(refRecomputable(t, cells)).toEqual([]);
    expect([plan.primary, plan.complementary, plan.released.length]).toEqual([1, 3, 16 - 4]);
  });

  it('differencing: "all residents" with every group but one gives it away unless a second group is withheld', () => {
    const t: RefTable = {
      rows: 5,
      cols: undefined,
      counts: [1200n, 830n, 3n, 410n, 97n],
      margins: { rows: false, cols: false, total: true },
    };
    expect(refRecomputable(t, [{ row: 2 }])).toEqual([key({ row: 2 })]); // primary suppression alone leaks
    const plan = planSuppression({ ...toTable(t), minGroupSize: 10 });
    expect(plan.withheld).toEqual([
      { cell: { row: 2 }, reason: 'primary' },
      { cell: { row: 4 }, reason: 'complementary', protects: { row: 2 } },
    ]);
    expect(refRecomputable(t, withheldCells(plan))).toEqual([]);
    expect(plan.released.map((r) => [r.cell, r.count])).toEqual([
      [{ row: 0 }, 1200n],
      [{ row: 1 }, 830n],
      [{ row: 3 }, 410n],
      [{ row: 'total' }, 2540n],
    ]);
  });

  it('without any margin only primary cells are withheld', () => {
    const plan = planSuppression({
      dims: [2, 3],
      counts: [
        [1n, 50n, 60n],
        [70n, 2n, 80n],
      ],
      minGroupSize: 5,
    });
    expect(plan.withheld.map((w) => [w.cell, w.reason])).toEqual([
      [{ row: 0, col: 0 }, 'primary'],
      [{ row: 1, col: 1 }, 'primary'],
    ]);
  });

  it('a small margin is itself withheld, and protected', () => {
    const t: RefTable = {
      rows: 2,
      cols: 2,
      counts: [1n, 2n, 40n, 50n],
      margins: { rows: true, cols: true, total: true },
    };
    const plan = planSuppression({ ...toTable(t), minGroupSize: 5 });
    const primary = plan.withheld.filter((w) => w.reason === 'primary').map((w) => key(w.cell));
    expect(primary).toEqual([key({ row: 0, col: 0 }), key({ row: 0, col: 1 }), key({ row: 0, col: 'total' })]);
    expect(refRecomputable(t, withheldCells(plan))).toEqual([]);
  });

  it('two suppressed zeros under a published total get a complement (non-negativity), unless zeros are public', () => {
    const t: RefTable = {
      rows: 4,
      cols: undefined,
      counts: [10n, 0n, 0n, 6n],
      margins: { rows: false, cols: false, total: true },
    };
    const plan = planSuppression({ ...toTable(t), minGroupSize: 5 });
    expect(plan.withheld.map((w) => key(w.cell))).toEqual([1, 2, 3].map((row) => key({ row })));
    const exact = refIntervals(t, withheldCells(plan))!;
    for (const [, [lo, hi]] of exact) expect(hi > lo).toBe(true);
    expect(planSuppression({ ...toTable(t), minGroupSize: 5, knownZeros: true }).withheld).toEqual([]);
    // protection 0n asks only for the linear minimum: the two zeros are then enough.
    const linear = planSuppression({ ...toTable(t), minGroupSize: 5, protection: 0n });
    expect(linear.withheld.map((w) => w.reason)).toEqual(['primary', 'primary']);
    expect(refRecomputable(t, withheldCells(linear))).toEqual([]);
  });

  it('validates its arguments', () => {
    expect(() => planSuppression({ dims: [2], counts: [1n, -1n], minGroupSize: 5 })).toThrow(RangeError);
    expect(() => planSuppression({ dims: [2], counts: [1n], minGroupSize: 5 })).toThrow(RangeError);
    expect(() => planSuppression({ dims: [2], counts: [1n, 2n], minGroupSize: 1.5 })).toThrow(RangeError);
    expect(() =>
      planSuppression({ dims: [2], counts: [1n, 2n], minGroupSize: 5, marginsReleased: { rows: true } }),
    ).toThrow(TypeError);
    expect(() => planSuppression({ dims: [2], counts: [1, 2] as unknown as bigint[], minGroupSize: 5 })).toThrow(
      TypeError,
    );
    expect(() => planSuppression({ dims: [2, 2], counts: [[1n, 2n], [3n]], minGroupSize: 5 })).toThrow(RangeError);
  });
});

describe('planSuppression: properties over random 1-D and 2-D tables (up to 8×8, random margins)', () => {
  it('no withheld cell is recomputable (independent GF(p) rank check), every withheld cell has a reason', () => {
    fc.assert(
      fc.property(tableArb(), minArb, (t, min) => {
        const plan = planSuppression({ ...toTable(t), minGroupSize: min });
        expect(refRecomputable(t, withheldCells(plan))).toEqual([]);
        // And the non-negativity certificate holds at this size (the enumeration below checks it on small tables).
        for (const p of protectionWidths(toTable(t), withheldCells(plan)))
          expect(p.width === null || p.width >= 1n).toBe(true);
        const cells = refCells(t);
        const hidden = new Map(plan.withheld.map((w) => [key(w.cell), w]));
        // Primary exactly for the small cells; complementary ones name a withheld cell they protect.
        for (const c of cells) expect(hidden.get(key(c.cell))?.reason === 'primary').toBe(c.count < BigInt(min));
        for (const w of plan.withheld) {
          if (w.reason === 'complementary') expect(hidden.has(key(w.protects!))).toBe(true);
          else expect(w.protects).toBeUndefined();
        }
        // Released + withheld partition the release, released counts are the true ones.
        expect(plan.released.length + plan.withheld.length).toBe(cells.length);
        for (const r of plan.released) expect(r.count).toBe(cells.find((c) => key(c.cell) === key(r.cell))!.count);
        expect(plan.primary + plan.complementary).toBe(plan.withheld.length);
        if (plan.primary === 0) expect(plan.withheld).toEqual([]);
      }),
      { numRuns: 250 },
    );
  });

  it('is deterministic, and does not depend on how the counts are laid out (flat or nested)', () => {
    fc.assert(
      fc.property(tableArb(), minArb, (t, min) => {
        const a = planSuppression({ ...toTable(t), minGroupSize: min });
        const b = planSuppression({ ...toTable(t), minGroupSize: BigInt(min) });
        expect(b).toEqual(a);
        if (t.cols !== undefined) {
          const nested = Array.from({ length: t.rows }, (_, i) => t.counts.slice(i * t.cols!, (i + 1) * t.cols!));
          expect(planSuppression({ ...toTable(t), counts: nested, minGroupSize: min })).toEqual(a);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('every withheld cell keeps an attacker interval at least `protection` wide (exhaustive enumeration, small tables)', () => {
    let compared = 0;
    fc.assert(
      fc.property(
        tableArb(3, 3, fc.bigInt({ min: 0n, max: 5n })),
        fc.integer({ min: 1, max: 4 }),
        fc.bigInt({ min: 1n, max: 3n }),
        (t, min, protection) => {
          const plan = planSuppression({ ...toTable(t), minGroupSize: min, protection });
          expect(plan.protection).toBe(protection);
          const exact = refIntervals(t, withheldCells(plan), protection);
          if (exact === undefined) return;
          compared++;
          for (const w of plan.withheld) {
            const [lo, hi] = exact.get(key(w.cell))!;
            expect(hi - lo >= protection).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(compared).toBeGreaterThan(100);
  });
});
