/** Random released tables for the disclosure properties: 1-D or 2-D, up to 8×8, random margins. */
import fc from 'fast-check';
import type { SuppressionTable } from '../../src/disclosure/table.js';
import type { RefTable } from './reference.js';

/** Counts that mix small groups (below typical thresholds, zeros included) and large ones. */
const count = fc.oneof(fc.bigInt({ min: 0n, max: 6n }), fc.bigInt({ min: 0n, max: 300n }));

export function tableArb(maxRows = 8, maxCols = 8, cell: fc.Arbitrary<bigint> = count): fc.Arbitrary<RefTable> {
  return fc
    .record({
      rows: fc.integer({ min: 1, max: maxRows }),
      cols: fc.option(fc.integer({ min: 1, max: maxCols }), { nil: undefined }),
      margins: fc.record({ rows: fc.boolean(), cols: fc.boolean(), total: fc.boolean() }),
    })
    .chain(({ rows, cols, margins }) =>
      fc.array(cell, { minLength: rows * (cols ?? 1), maxLength: rows * (cols ?? 1) }).map((counts): RefTable => ({
        rows,
        cols,
        counts,
        margins: cols === undefined ? { rows: false, cols: false, total: margins.total } : margins,
      })),
    );
}

export function toTable(t: RefTable): SuppressionTable {
  return {
    dims: t.cols === undefined ? [t.rows] : [t.rows, t.cols],
    counts: t.counts,
    marginsReleased: t.margins,
  };
}
