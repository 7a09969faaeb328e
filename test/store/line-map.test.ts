import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineMap, mergeSorted } from '../../src/store/line-map.js';

describe('LineMap', () => {
  it('numbers records like a walk over the lines that skips the left-out ones', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 80 }), (leftOut) => {
        // Line 1 is the header; line i + 2 is left out when leftOut[i].
        const excluded = leftOut.flatMap((x, i) => (x ? [i + 2] : []));
        const records = leftOut.flatMap((x, i) => (x ? [] : [i + 2]));
        const map = new LineMap(excluded);
        records.forEach((line, r) => {
          expect(map.lineOf(r)).toBe(line);
          expect(map.recordOf(line)).toBe(r);
        });
      }),
    );
  });

  it('merges sorted line lists', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(1000)), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const a = sorted.filter((_, i) => i % 3 === 0);
        const b = sorted.filter((_, i) => i % 3 !== 0);
        expect(mergeSorted(a, b)).toEqual(sorted);
      }),
    );
  });
});
