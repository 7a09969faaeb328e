import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CitizenIdAllocator, formatCitizenId, parseCitizenId } from '../../src/seed/citizen-id.js';
import {
  addYears,
  ageOn,
  birthDayRange,
  civilOfDay,
  compactDate,
  dayNumber,
  parseIsoDate,
} from '../../src/seed/civil-date.js';
import { isValidGb11643 } from '../../src/util/gb11643.js';

describe('civil dates', () => {
  it('birthDayRange holds exactly the birth days of that age (checked against ageOn)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: dayNumber(1990, 1, 1), max: dayNumber(2030, 12, 31) }),
        fc.integer({ min: 0, max: 100 }),
        (ref, age) => {
          const [first, last] = birthDayRange(ref, age);
          return (
            ageOn(first, ref) === age &&
            ageOn(last, ref) === age &&
            ageOn(first - 1, ref) === age + 1 &&
            ageOn(last + 1, ref) === age - 1
          );
        },
      ),
    );
  });

  it('handles leap days and formats compact dates', () => {
    expect(addYears(dayNumber(2024, 2, 29), 1)).toBe(dayNumber(2025, 2, 28));
    expect(addYears(dayNumber(2024, 2, 29), -4)).toBe(dayNumber(2020, 2, 29));
    expect(compactDate(dayNumber(2003, 7, 9))).toBe('20030709');
    expect(civilOfDay(dayNumber(1999, 12, 31))).toEqual({ year: 1999, month: 12, day: 31 });
    expect(parseIsoDate('2025-12-31')).toBe(dayNumber(2025, 12, 31));
    expect(parseIsoDate('2025-02-29')).toBeUndefined();
    expect(parseIsoDate('31/12/2025')).toBeUndefined();
    expect(() => birthDayRange(0, -1)).toThrow(RangeError);
  });
});

describe('formatCitizenId / parseCitizenId', () => {
  it('matches a published example (GB 11643 check character X)', () => {
    // The widely cited sample number 11010519491231002X.
    expect(formatCitizenId('110105', '19491231', 2)).toBe('11010519491231002X');
  });

  it('produces valid IDs whose fields parse back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 110000, max: 659999 }),
        fc.integer({ min: dayNumber(1925, 1, 1), max: dayNumber(2025, 12, 31) }),
        fc.integer({ min: 1, max: 999 }),
        (region, day, seq) => {
          const id = formatCitizenId(String(region), compactDate(day), seq);
          const p = parseCitizenId(id);
          const c = civilOfDay(day);
          return (
            isValidGb11643(id) &&
            p !== undefined &&
            p.region === String(region) &&
            p.year === c.year &&
            p.month === c.month &&
            p.day === c.day &&
            p.sequence === seq &&
            p.male === (seq % 2 === 1)
          );
        },
      ),
    );
    expect(parseCitizenId('12345')).toBeUndefined();
  });
});

describe('CitizenIdAllocator', () => {
  it('hands out distinct sequences of the right parity per key, disjoint across partitions, until full', () => {
    const per: Map<string, Set<number>> = new Map();
    for (let partition = 0; partition < 3; partition++) {
      const a = new CitizenIdAllocator({
        regionCount: 2,
        firstDay: 100,
        lastDay: 101,
        partition,
        partitions: 3,
        salt: 12345,
      });
      for (const male of [true, false]) {
        const key = `1/101/${male}`;
        const seen = per.get(key) ?? new Set<number>();
        per.set(key, seen);
        for (let k = 0; k < a.slotsPerKey; k++) {
          const seq = a.allocate(1, 101, male);
          expect(seq).toBeDefined();
          expect(seq! % 2).toBe(male ? 1 : 0);
          expect(seq! >= 2 && seq! <= 999).toBe(true);
          expect(seen.has(seq!)).toBe(false); // unique within the key across all partitions
          seen.add(seq!);
        }
        expect(a.allocate(1, 101, male)).toBeUndefined();
      }
      // Other keys are untouched.
      expect(a.allocate(0, 100, true)).toBeDefined();
    }
    // The three partitions together use every sequence of each parity: 499 = 167 + 166 + 166.
    expect(per.get('1/101/true')!.size).toBe(499);
    expect(per.get('1/101/false')!.size).toBe(499);
  });

  it('rejects out-of-range keys and options with RangeError', () => {
    const a = new CitizenIdAllocator({ regionCount: 1, firstDay: 0, lastDay: 9, partition: 0, partitions: 1, salt: 0 });
    expect(a.slotsPerKey).toBe(499);
    expect(() => a.allocate(0, 10, true)).toThrow(RangeError);
    expect(() => a.allocate(1, 0, true)).toThrow(RangeError);
    expect(
      () => new CitizenIdAllocator({ regionCount: 1, firstDay: 0, lastDay: 9, partition: 1, partitions: 1, salt: 0 }),
    ).toThrow(RangeError);
    expect(
      () => new CitizenIdAllocator({ regionCount: 0, firstDay: 0, lastDay: 9, partition: 0, partitions: 1, salt: 0 }),
    ).toThrow(RangeError);
  });
});
