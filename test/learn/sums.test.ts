import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeModel } from '../../src/learn/design.js';
import { encodeRecord } from '../../src/learn/design-row.js';
import { familyOf } from '../../src/learn/family.js';
import { parseFormula } from '../../src/learn/formula.js';
import { encodeRows, sumsOf, sumsOfRows } from '../../src/learn/pooled-fit.js';
import { recordBounds } from '../../src/learn/record-bounds.js';
import { accumulate, addSums, emptySums, packedIndex, unpackInformation } from '../../src/learn/sums.js';
import type { GlmSums } from '../../src/learn/sums.js';
import { fitScenarioArb, prng, runs } from './arbitraries.js';

describe('the packed information matrix', () => {
  it('holds the upper triangle row by row: (0,0) (0,1) … (0,d-1) (1,1) … (d-1,d-1)', () => {
    const d = 4;
    const order: string[] = [];
    for (let j = 0; j < d; j++) for (let k = j; k < d; k++) order[packedIndex(d, j, k)] = `${j}${k}`;
    expect(order).toEqual(['00', '01', '02', '03', '11', '12', '13', '22', '23', '33']);
    expect(emptySums(d).information.length).toBe(10);
  });

  it('unpacks to a symmetric matrix', () => {
    const s = emptySums(3);
    s.information.set([1, 2, 3, 4, 5, 6]);
    expect(Array.from(unpackInformation(s))).toEqual([1, 2, 3, 2, 4, 5, 3, 5, 6]);
  });
});

function relClose(a: ArrayLike<number>, b: ArrayLike<number>, rel: number): boolean {
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i] as number), Math.abs(b[i] as number));
  for (let i = 0; i < a.length; i++)
    if (Math.abs((a[i] as number) - (b[i] as number)) > rel * Math.max(scale, 1e-300)) return false;
  return true;
}

describe('sums over a partition add up to the pooled sums', () => {
  it('for random schemas, formulas, coefficients and partitions', () => {
    fc.assert(
      fc.property(fitScenarioArb, fc.integer(), (s, seed) => {
        const coding = codeModel(parseFormula(s.formula, s.schema), s.schema, s.family);
        const rand = prng(seed);
        const beta = coding.columns.map(() => rand() - 0.5);
        const pooled = sumsOf(coding, s.rows, beta);
        const parts = Array.from({ length: s.parts }, (_, p) =>
          sumsOf(
            coding,
            s.rows.filter((_, i) => s.partition[i] === p),
            beta,
          ),
        );
        const total: GlmSums = parts.reduce(addSums, emptySums(coding.columns.length));
        expect(total.n).toBe(pooled.n);
        expect(relClose(total.gradient, pooled.gradient, 1e-12)).toBe(true);
        expect(relClose(total.information, pooled.information, 1e-12)).toBe(true);
        expect(relClose([total.deviance, total.saturated], [pooled.deviance, pooled.saturated], 1e-12)).toBe(true);
        // The pre-coded path computes the same sums, bit for bit.
        expect(sumsOfRows(coding, encodeRows(coding, s.rows), beta)).toEqual(pooled);
      }),
      { numRuns: runs(60) },
    );
  });

  it('addSums refuses sums of different sizes', () => {
    expect(() => addSums(emptySums(2), emptySums(3))).toThrow(RangeError);
  });
});

describe('per-record bounds (the DP sensitivities) hold for every row', () => {
  it('score, weight, deviance and the norms of one row’s contributions, at random β', () => {
    fc.assert(
      fc.property(fitScenarioArb, fc.integer(), fc.double({ min: 0.1, max: 40, noNaN: true }), (s, seed, spread) => {
        const coding = codeModel(parseFormula(s.formula, s.schema), s.schema, s.family);
        const rand = prng(seed);
        const beta = coding.columns.map(() => (rand() - 0.5) * spread);
        for (const withBeta of [true, false]) {
          if (!withBeta && coding.family === 'gaussian') continue;
          const b = recordBounds(coding, withBeta ? beta : undefined);
          for (const rec of s.rows.slice(0, 40)) {
            const one = accumulate(emptySums(coding.columns.length), coding, encodeRecord(coding, rec), beta);
            const slack = 1 + 1e-12;
            const g = Array.from(one.gradient, Math.abs);
            expect(Math.max(...g)).toBeLessThanOrEqual(b.score * slack);
            expect(Math.hypot(...g)).toBeLessThanOrEqual(b.gradientL2 * slack);
            const info = unpackInformation(one);
            expect(Math.max(...Array.from(info, Math.abs))).toBeLessThanOrEqual(b.weight * slack);
            expect(Math.hypot(...info)).toBeLessThanOrEqual(b.informationFrobenius * slack);
            expect(one.deviance).toBeLessThanOrEqual(b.deviance * slack);
          }
        }
      }),
      { numRuns: runs(60) },
    );
  });

  it('binomial: |score| ≤ 1 and w ≤ 1/4 at any η, with a finite deviance', () => {
    const fam = familyOf('binomial');
    for (const eta of [-30, -3, 0, 2, 30]) {
      for (const y of [0, 1]) {
        const t = fam.rowTerms(y, eta);
        expect(Math.abs(t.score)).toBeLessThanOrEqual(1);
        expect(t.weight).toBeLessThanOrEqual(0.25);
        expect(Number.isFinite(t.deviance)).toBe(true);
      }
    }
  });
});
