import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { BlindingKey } from '../../src/psi/blinding-key.js';
import { ELEMENT_BYTES } from '../../src/psi/group.js';
import { hashIds } from '../../src/psi/hash-to-group.js';
import { matchBlindedSets, type BlindedSetOf } from '../../src/psi/match.js';

const RUNS = process.env['FEDSTAT_LONG'] === '1' ? 2000 : 150;

/** Value number k of a test universe: SHA-256(k) with the top bit cleared (canonical, not low order). */
function value(k: number): Uint8Array {
  const v = new Uint8Array(createHash('sha256').update(`value-${k}`).digest());
  v[31]! &= 0x7f;
  return v;
}

function packed(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * ELEMENT_BYTES);
  values.forEach((k, i) => out.set(value(k), i * ELEMENT_BYTES));
  return out;
}

interface Spec {
  readonly side: 'left' | 'right';
  readonly values: number[];
}

const specs = fc.array(
  fc.record({
    side: fc.constantFrom<'left' | 'right'>('left', 'right'),
    values: fc.uniqueArray(fc.nat(30), { maxLength: 20 }),
  }),
  { minLength: 1, maxLength: 6 },
);

const setsOf = (s: readonly Spec[]): BlindedSetOf[] =>
  s.map((spec, a) => ({ agency: `agency-${a}`, side: spec.side, elements: packed(spec.values) }));

function badMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isFedstatError(e, 'BAD_MESSAGE')) return e.message;
    throw e;
  }
  throw new Error('expected BAD_MESSAGE');
}

describe('matchBlindedSets', () => {
  it('agrees with a naive reference: equal values share a position, others never do', () => {
    fc.assert(
      fc.property(specs, (s) => {
        const m = matchBlindedSets(setsOf(s));
        const total = s.reduce((n, spec) => n + spec.values.length, 0);
        expect(m.positionCount).toBe(total);
        expect(m.leftPresent.length).toBe(total);
        expect(m.rightPresent.length).toBe(total);

        const positionOfValue = new Map<number, number>();
        const valueAtPosition = new Map<number, number>();
        const expectLeft = new Uint8Array(total);
        const expectRight = new Uint8Array(total);
        s.forEach((spec, a) => {
          const positions = m.positions.get(`agency-${a}`)!;
          expect(positions.length).toBe(spec.values.length);
          spec.values.forEach((v, i) => {
            const p = positions[i]!;
            expect(p).toBeLessThan(total);
            expect(positionOfValue.get(v) ?? p).toBe(p); // equal values → equal positions
            expect(valueAtPosition.get(p) ?? v).toBe(v); // equal positions → equal values
            positionOfValue.set(v, p);
            valueAtPosition.set(p, v);
            (spec.side === 'left' ? expectLeft : expectRight)[p] = 1;
          });
        });
        expect(m.leftPresent).toEqual(expectLeft);
        expect(m.rightPresent).toEqual(expectRight);

        const onSide = (side: string, v: number): boolean => s.some((x) => x.side === side && x.values.includes(v));
        expect(m.stats.distinct).toBe(positionOfValue.size);
        expect(m.stats.matched).toBe(
          [...positionOfValue.keys()].filter((v) => onSide('left', v) && onSide('right', v)).length,
        );
        const overlaps = s.flatMap((l, i) =>
          l.side !== 'left'
            ? []
            : s.flatMap((r, j) =>
                r.side !== 'right'
                  ? []
                  : [
                      {
                        left: `agency-${i}`,
                        right: `agency-${j}`,
                        count: l.values.filter((v) => r.values.includes(v)).length,
                      },
                    ],
              ),
        );
        const byPair = (x: { left: string; right: string }): string => `${x.left}|${x.right}`;
        expect([...m.stats.overlaps].sort((x, y) => byPair(x).localeCompare(byPair(y)))).toEqual(
          overlaps.sort((x, y) => byPair(x).localeCompare(byPair(y))),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('draws positions as a Fisher–Yates prefix: a zero random source gives first-appearance order', () => {
    const m = matchBlindedSets(
      setsOf([
        { side: 'left', values: [5, 6, 7] },
        { side: 'right', values: [7, 8, 5] },
      ]),
      () => 0,
    );
    expect([...m.positions.get('agency-0')!]).toEqual([0, 1, 2]);
    expect([...m.positions.get('agency-1')!]).toEqual([2, 3, 0]);
    expect([...m.leftPresent]).toEqual([1, 1, 1, 0, 0, 0]);
    expect([...m.rightPresent]).toEqual([1, 0, 1, 1, 0, 0]);
    expect(m.stats).toEqual({ distinct: 4, matched: 2, overlaps: [{ left: 'agency-0', right: 'agency-1', count: 2 }] });
  });

  it('rejects random words above the largest multiple of the bound (no modulo bias)', () => {
    const s = setsOf([{ side: 'left', values: [1, 2, 3] }]);
    // P = 3: the first draw is uniform below 3, so 2^32 - 1 (≡ 0 mod 3, past 3 × floor(2^32 / 3)) is rejected.
    const words = (list: number[]): (() => number) => {
      let i = 0;
      return () => list[i++] ?? 0;
    };
    const rejected = matchBlindedSets(s, words([2 ** 32 - 1, 2, 1]));
    const direct = matchBlindedSets(s, words([2, 1]));
    expect([...rejected.positions.get('agency-0')!]).toEqual([...direct.positions.get('agency-0')!]);
    expect([...direct.positions.get('agency-0')!]).toEqual([2, 0, 1]); // swaps (0,2), then (1,2)
    expect(() => matchBlindedSets(s, () => -1)).toThrow(RangeError);
    expect(() => matchBlindedSets(s, () => 0.5)).toThrow(RangeError);
  });

  it('spreads one agency over all positions when nothing matches (its positions reveal nothing)', () => {
    const seen = new Set<number>();
    for (let r = 0; r < 200; r++) {
      const m = matchBlindedSets(
        setsOf([
          { side: 'left', values: [1] },
          { side: 'right', values: [2, 3, 4] },
        ]),
      );
      seen.add(m.positions.get('agency-0')![0]!);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });

  it('refuses truncated, non-canonical and repeating sets naming the agency, and repeated agencies', () => {
    const good = packed([1, 2]);
    expect(badMessage(() => matchBlindedSets([{ agency: 'hr', side: 'left', elements: good.subarray(1) }]))).toMatch(
      /^blinded set from agency hr is truncated/,
    );
    const low = Uint8Array.from(good);
    low.fill(0, ELEMENT_BYTES);
    expect(badMessage(() => matchBlindedSets([{ agency: 'ps', side: 'right', elements: low }]))).toContain(
      'agency ps: element 1 is non-canonical',
    );
    const twice = packed([1, 2, 1]);
    expect(
      badMessage(() =>
        matchBlindedSets([
          { agency: 'a', side: 'left', elements: good },
          { agency: 'b', side: 'right', elements: twice },
        ]),
      ),
    ).toContain('agency b: element 2 repeats');
    expect(() =>
      matchBlindedSets([
        { agency: 'a', side: 'left', elements: good },
        { agency: 'a', side: 'right', elements: good },
      ]),
    ).toThrow(RangeError);
    expect(matchBlindedSets([]).positionCount).toBe(0);
  });

  it('links the ids two sides share, end to end through hashing and both side keys', () => {
    const residence = [
      ['R1', 'R2', 'R3', 'R4'],
      ['R5', 'R6'],
    ];
    const insurance = [
      ['R2', 'X1', 'R6'],
      ['R4', 'X2', 'R6'],
    ];
    const leftKey = BlindingKey.generate();
    const rightKey = BlindingKey.generate();
    // Each side blinds its own hashed ids; the other side blinds them again.
    const twice = (ids: string[], own: BlindingKey, other: BlindingKey): Uint8Array =>
      other.blind(own.blind(hashIds(ids)));
    const m = matchBlindedSets([
      ...residence.map((ids, i) => ({
        agency: `ps-${i}`,
        side: 'left' as const,
        elements: twice(ids, leftKey, rightKey),
      })),
      ...insurance.map((ids, i) => ({
        agency: `hr-${i}`,
        side: 'right' as const,
        elements: twice(ids, rightKey, leftKey),
      })),
    ]);
    const linked = new Set<string>();
    residence.forEach((ids, i) => {
      const positions = m.positions.get(`ps-${i}`)!;
      ids.forEach((id, j) => {
        if (m.rightPresent[positions[j]!] === 1) linked.add(id);
      });
    });
    expect([...linked].sort()).toEqual(['R2', 'R4', 'R6']);
    expect(m.stats.matched).toBe(3);
    expect(m.stats.distinct).toBe(8);
    expect(m.positions.get('hr-0')![2]).toBe(m.positions.get('hr-1')![2]); // R6 in both insurance agencies
  });
});
