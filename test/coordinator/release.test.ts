/**
 * The release step on its own: decrypted cell totals in, released rows out. Exact releases with
 * ROLLUP / CUBE margins are checked against totals computed here from the interior cells, and
 * their suppression against the disclosure module's independent recomputability check; noisy
 * releases are checked for consistency (a margin is the sum of its noisy cells) and honesty
 * (clamped counts, intervals that widen with the cells a margin totals).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { release, type Release } from '../../src/coordinator/release.js';
import { protectionWidths } from '../../src/disclosure/recomputable.js';
import type { Cell } from '../../src/disclosure/table.js';
import { parseSchema, type DatasetSchema } from '../../src/federation/schema.js';
import { planCells } from '../../src/protocol/cells.js';
import { parseQueryRho, privacyTerms } from '../../src/protocol/privacy-terms.js';
import { parseQuery } from '../../src/query/parse.js';
import { marginsOf } from '../../src/query/plan.js';

const A = ['a0', 'a1', 'a2', 'a3', 'a4'];
const B = ['b0', 'b1', 'b2', 'b3'];

function schemaOf(rows: number, cols: number): { schema: ReturnType<typeof parseSchema>; ds: DatasetSchema } {
  const schema = parseSchema(
    {
      datasets: {
        t: {
          maxRows: 1000,
          columns: {
            a: { type: 'category', values: A.slice(0, rows) },
            b: { type: 'category', values: B.slice(0, cols) },
            x: { type: 'integer', min: -5, max: 10 },
          },
        },
      },
    },
    't.json',
  );
  return { schema, ds: schema.datasets['t']! };
}

const policy = (minGroupSize: number, exactRelease = true) => ({
  minAgencies: 1,
  minGroupSize,
  exactRelease,
  transparencyLog: false,
});

/** Cell coordinates of a released or withheld row, from its group values. */
function cellOf(group: Readonly<Record<string, unknown>>, twoD: boolean): Cell {
  const pos = (v: unknown, values: string[]): number | 'total' => (v === null ? 'total' : values.indexOf(v as string));
  return twoD ? { row: pos(group['a'], A), col: pos(group['b'], B) } : { row: pos(group['a'], A) };
}

const tableArb = fc.record({
  rows: fc.integer({ min: 1, max: 5 }),
  cols: fc.integer({ min: 1, max: 4 }),
  twoD: fc.boolean(),
  cube: fc.boolean(),
  minGroupSize: fc.integer({ min: 1, max: 8 }),
  seed: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 7, max: 40 })), {
    minLength: 20,
    maxLength: 20,
  }),
});

describe('exact release with margins', () => {
  it('publishes true interior and margin totals, withholds below minGroupSize, and no withheld cell can be recomputed or narrowed', () => {
    fc.assert(
      fc.property(tableArb, ({ rows, cols: c, twoD, cube, minGroupSize, seed }) => {
        const cols = twoD ? c : 1;
        const { schema, ds } = schemaOf(rows, cols);
        const sql = twoD
          ? `SELECT a, b, COUNT(*) AS n, SUM(x) AS s FROM t GROUP BY ${cube ? 'CUBE' : 'ROLLUP'}(a, b)`
          : `SELECT a, COUNT(*) AS n, SUM(x) AS s FROM t GROUP BY ${cube ? 'CUBE' : 'ROLLUP'}(a)`;
        const plan = parseQuery(sql, schema);
        const cells = planCells(plan, ds);
        const groups = rows * cols;
        const counts = Array.from({ length: groups }, (_, g) => BigInt(seed[g % seed.length] ?? 0));
        // Each row's x is in [-5, 10]: pick a true sum and store it shifted by the offset (-5).
        const sums = counts.map((n, g) => n * BigInt((g % 16) - 5));
        const totals = counts.flatMap((n, g) => [n, (sums[g] ?? 0n) + 5n * n]);
        const r: Release = release({ plan, schema: ds, cells, totals, policy: policy(minGroupSize) });

        const truth = (cell: Cell): { n: bigint; s: bigint } => {
          let n = 0n;
          let s = 0n;
          for (let g = 0; g < groups; g++) {
            const i = Math.floor(g / cols);
            const j = g % cols;
            if ((cell.row === 'total' || cell.row === i) && (!twoD || cell.col === 'total' || cell.col === j)) {
              n += counts[g] ?? 0n;
              s += sums[g] ?? 0n;
            }
          }
          return { n, s };
        };
        for (const row of r.rows) {
          const t = truth(cellOf(row, twoD));
          expect(row['n']).toBe(t.n);
          expect(row['s']).toBe(t.s);
        }
        const withheld = r.suppression.withheld.map((g) => cellOf(g, twoD));
        for (const w of withheld) expect(truth(w).n).toBeGreaterThan(0n); // zeros are public, never listed
        expect(r.suppressed).toBe(withheld.length);
        expect(r.suppression.primary + r.suppression.complementary).toBe(withheld.length);
        // Every published count reaches minGroupSize, except a grand total of 0 (derivable from the public empty cells).
        for (const row of r.rows)
          expect((row['n'] as bigint) >= BigInt(minGroupSize) || (row['n'] === 0n && row['a'] === null)).toBe(true);
        // Nothing disappears silently: every non-zero cell is published or listed as withheld.
        const nonZero = [...Array(groups).keys()].filter((g) => (counts[g] ?? 0n) > 0n).length;
        expect(
          r.rows.filter((row) => row['a'] !== null && (!twoD || row['b'] !== null)).length +
            withheld.filter((w) => w.row !== 'total' && (!twoD || w.col !== 'total')).length,
        ).toBe(nonZero);
        // Independent check: from what is published (and non-negativity), no withheld count is pinned down.
        const table = {
          dims: twoD ? ([rows, cols] as const) : ([rows] as const),
          counts,
          marginsReleased: marginsOf(plan),
        };
        for (const p of protectionWidths(table, withheld))
          expect(!p.recomputable && (p.width === null || p.width >= 1n)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps SQL semantics without margins: empty groups are not rows, small ones are withheld and listed', () => {
    const { schema, ds } = schemaOf(3, 1);
    const plan = parseQuery('SELECT a, COUNT(*) AS n FROM t GROUP BY a', schema);
    const r = release({ plan, schema: ds, cells: planCells(plan, ds), totals: [0n, 3n, 12n], policy: policy(5) });
    expect(r.rows).toEqual([{ a: 'a2', n: 12n }]);
    expect(r.suppression).toEqual({ minGroupSize: 5, primary: 1, complementary: 0, withheld: [{ a: 'a1' }] });
  });

  it('withholds the one cell of a 1-D ROLLUP whose total would give it away', () => {
    const { schema, ds } = schemaOf(3, 1);
    const plan = parseQuery('SELECT a, COUNT(*) AS n FROM t GROUP BY ROLLUP(a)', schema);
    const r = release({ plan, schema: ds, cells: planCells(plan, ds), totals: [20n, 3n, 12n], policy: policy(5) });
    // a1 (3) is primary; publishing a0, a2 and the total would give a1 = 35 − 20 − 12: a complement goes too.
    expect(r.suppression.primary).toBe(1);
    expect(r.suppression.complementary).toBe(1);
    expect(r.rows).toEqual([
      { a: 'a0', n: 20n },
      { a: null, n: 35n },
    ]);
  });
});

describe('differentially private release', () => {
  it("margins are sums of the noisy cells, counts are clamped at 0, and a margin's interval reflects the cells it totals", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -40, max: 60 }), { minLength: 20, maxLength: 20 }), (noisy) => {
        const { schema, ds } = schemaOf(5, 4);
        const plan = parseQuery('SELECT a, b, COUNT(*) AS n FROM t GROUP BY CUBE(a, b)', schema);
        const cells = planCells(plan, ds);
        const terms = privacyTerms(cells, ds, parseQueryRho('0.5'), 3);
        const totals = noisy.map(BigInt);
        const r = release({
          plan,
          schema: ds,
          cells,
          totals,
          policy: policy(1, false),
          noise: { terms, survivors: 4, delta: 1e-9 },
        });
        const sumOf = (cell: Cell): bigint =>
          totals.reduce((s, v, g) => {
            const i = Math.floor(g / 4);
            const j = g % 4;
            return (cell.row === 'total' || cell.row === i) && (cell.col === 'total' || cell.col === j) ? s + v : s;
          }, 0n);
        r.rows.forEach((row, k) => {
          const cell = cellOf(row, true);
          const raw = sumOf(cell);
          expect(row['n']).toBe(raw < 0n ? 0n : raw);
          const members = (cell.row === 'total' ? 5 : 1) * (cell.col === 'total' ? 4 : 1);
          const u = r.uncertainty?.[k]?.['n'];
          const oneCell = Math.sqrt(
            (((2 * Number(terms.measures[0]!.mu.num)) / Number(terms.measures[0]!.mu.den)) * 4) / 3,
          );
          expect(u?.stderr).toBeCloseTo(oneCell * Math.sqrt(members), 6);
          expect(u!.ci95[0] as bigint).toBeGreaterThanOrEqual(0n);
        });
        // Released or withheld: every cell of the 30-cell CUBE table is accounted for.
        expect(r.rows.length + r.suppressed).toBe(20 + 5 + 4 + 1);
        expect(r.privacy?.survivors).toBe(4);
      }),
      { numRuns: 200 },
    );
  });
});
