/**
 * The whole path agrees with the JS rule about adversarial cells: random files whose cells hold
 * NUL, byte order marks (also opening a row), controls, odd spaces, quotes, commas, signs,
 * exponents and NFC-sensitive characters, quoted or not, loaded through the real DuckDB store in
 * skip mode. The rows loaded, the lines reported and their reasons must be what diagnoseCell
 * says of the cells as written, and the load must never fail with "SQL and JS validation
 * disagree" (which is how a BOM opening a row used to stop `agency serve`).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { QueryPlan } from '../../src/query/plan.js';
import { diagnoseCell } from '../../src/store/cell-rules.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { DuckDbAgencyStore } from '../../src/store/store.js';
import { adversarialCell, CELL_COLUMNS, DECLARED, withOddChar } from './adversarial-cells.js';
import { ID1 as ID, tempDir, writeCsv } from './helpers.js';

const dir = tempDir('csv-cells');
let store: DuckDbAgencyStore;
beforeAll(async () => {
  store = await openDuckDbStore(':memory:');
});
afterAll(async () => {
  await store.close();
});

const [category, integer, , gb, text] = CELL_COLUMNS;
const schema = parseSchema({ datasets: { t: { columns: { c: category, n: integer, g: gb, s: text } } } }, 'test')
  .datasets['t']!;
const NAMES = ['c', 'n', 'g', 's'] as const;
const plan: QueryPlan = {
  dataset: 't',
  groupBy: ['c'],
  select: [{ kind: 'aggregate', fn: 'sum', column: 'n', alias: 'n' }],
  where: null,
};

/** A cell as written: quoted (quotes doubled) or, when CSV allows, bare. */
function field(cell: string, quote: boolean): string {
  return quote || /[",]/.test(cell) || cell === '' ? `"${cell.replaceAll('"', '""')}"` : cell;
}

// Line breaks inside a cell are refused for the whole file (csv-scan.ts), tested elsewhere.
const junk = adversarialCell.filter((c) => !/[\r\n]/.test(c));
// Mostly valid cells, so that valid rows are common and each row has few bad cells.
const cellArb = (valid: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: valid, weight: 4 },
    { arbitrary: withOddChar(valid).filter((c) => !/[\r\n]/.test(c)), weight: 1 },
    { arbitrary: junk, weight: 1 },
  );
const rowArb = fc.tuple(
  cellArb(fc.constantFrom(...DECLARED, ...DECLARED.map((v) => v.normalize('NFD')))),
  cellArb(fc.integer({ min: -1000, max: 1000 }).map(String)),
  cellArb(fc.constant(ID)),
  cellArb(fc.string({ minLength: 1, maxLength: 6 })),
  fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
);

describe('loading adversarial cells', () => {
  it('reports exactly the rows diagnoseCell refuses, with its reasons, and loads the rest', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 1, maxLength: 10 }), async (rows) => {
        const lines = rows.map(([c, n, g, s, quoted]) =>
          [c, n, g, s].map((v, i) => field(v, quoted[i] ?? false)).join(','),
        );
        const file = writeCsv(dir, [NAMES.join(','), ...lines].join('\n') + '\n');
        const report = await store.loadCsv('t', schema, file, { onInvalid: 'skip' });

        const expected = rows.flatMap(([c, n, g, s], i) => {
          const cells = [c, n, g, s];
          for (const [pos, name] of NAMES.entries()) {
            const cell = cells[pos] ?? '';
            const reason = diagnoseCell(schema.columns[name]!, cell === '' ? null : cell);
            if (reason !== null) return [{ line: i + 2, column: name, value: cell, reason }];
          }
          return [];
        });
        expect(report.invalid).toEqual(expected);
        expect(report.rowsLoaded).toBe(rows.length - expected.length);

        const sums = new Map<number, [bigint, bigint]>();
        rows.forEach(([c, n], i) => {
          if (expected.some((e) => e.line === i + 2)) return;
          const code = (DECLARED as readonly string[]).indexOf(c.normalize('NFC'));
          const [count, sum] = sums.get(code) ?? [0n, 0n];
          sums.set(code, [count + 1n, sum + BigInt(n)]);
        });
        const agg = await store.aggregate(plan, schema);
        expect(new Map(agg.groups)).toEqual(sums);
      }),
      { numRuns: 40 },
    );
  });
});
