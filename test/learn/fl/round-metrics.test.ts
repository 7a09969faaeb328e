/**
 * What the coordinator reads off a round's totals (src/learn/fl/round-metrics.ts): the AUC of the
 * validation histogram equals the Mann–Whitney AUC of the binned scores (ties ½) computed pair by
 * pair, is null for an empty class, and floors noisy negative bins; the RMSE of a regression is
 * the one of its held-out predictions on the response's scale; the mean update is Σn·Δ/Σn (exact)
 * or one DP-SGD step over the noisy count floored at 1.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUC_BINS, type FlTotals } from '../../../src/learn/fl/fl-encoding.js';
import { aucFromHistogram, meanUpdate, roundMetrics } from '../../../src/learn/fl/round-metrics.js';
import { fedstatErrorOf } from '../../helpers/fedstat-error.js';
import { runs } from '../arbitraries.js';

const score = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/** The bin local-round.ts puts a predicted probability in. */
function binOf(p: number): number {
  return Math.min(AUC_BINS - 1, Math.max(0, Math.floor(p * AUC_BINS)));
}

function histogram(scores: readonly number[]): Float64Array {
  const h = new Float64Array(AUC_BINS);
  for (const p of scores) h[binOf(p)]!++;
  return h;
}

/** Mann–Whitney over every (positive, negative) pair of binned scores, ties counted ½. */
function mannWhitney(pos: readonly number[], neg: readonly number[]): number {
  let wins = 0;
  for (const p of pos)
    for (const n of neg) {
      const a = binOf(p);
      const b = binOf(n);
      wins += a > b ? 1 : a === b ? 0.5 : 0;
    }
  return wins / (pos.length * neg.length);
}

function totalsOf(t: Partial<FlTotals>): FlTotals {
  return {
    update: new Float64Array(0),
    examples: 0,
    loss: 0,
    validationCount: 0,
    validationLoss: 0,
    positives: new Float64Array(AUC_BINS),
    negatives: new Float64Array(AUC_BINS),
    ...t,
  };
}

describe('aucFromHistogram', () => {
  it('equals the pairwise Mann–Whitney AUC of the binned scores on random data', () => {
    // Scores skewed by class so the AUC ranges over (0, 1), not only around ½.
    const data = fc.record({
      pos: fc.array(score, { minLength: 1, maxLength: 80 }),
      neg: fc.array(score, { minLength: 1, maxLength: 80 }),
      shift: fc.double({ min: -1, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(data, ({ pos, neg, shift }) => {
        const moved = pos.map((p) => Math.min(0.999, Math.max(0, p + shift)));
        const auc = aucFromHistogram(histogram(moved), histogram(neg));
        expect(auc).not.toBeNull();
        expect(Math.abs((auc as number) - mannWhitney(moved, neg))).toBeLessThanOrEqual(1e-12);
      }),
      { numRuns: runs(200) },
    );
  });

  it('gives 1 for separated classes, 0 reversed, ½ in one bin', () => {
    const low = histogram([0.01, 0.02]);
    const high = histogram([0.9, 0.95, 0.99]);
    expect(aucFromHistogram(high, low)).toBe(1);
    expect(aucFromHistogram(low, high)).toBe(0);
    expect(aucFromHistogram(histogram([0.5]), histogram([0.5, 0.501]))).toBe(0.5);
  });

  it('is null for an empty class, noisy or not', () => {
    const some = histogram([0.2, 0.7]);
    const none = new Float64Array(AUC_BINS);
    expect(aucFromHistogram(some, none)).toBeNull();
    expect(aucFromHistogram(none, some)).toBeNull();
    const negative = new Float64Array(AUC_BINS).fill(-2);
    expect(aucFromHistogram(some, negative)).toBeNull();
  });

  it('floors noisy negative bins at 0: the AUC of the floored histogram', () => {
    // decoded bins are integers (counts plus integer Skellam noise), negative ones only by noise
    const noisy = fc.array(fc.integer({ min: -5, max: 20 }), { minLength: AUC_BINS, maxLength: AUC_BINS });
    fc.assert(
      fc.property(noisy, noisy, (p, n) => {
        const floor = (a: number[]): Float64Array => Float64Array.from(a, (v) => Math.max(0, v));
        const got = aucFromHistogram(Float64Array.from(p), Float64Array.from(n));
        const want = aucFromHistogram(floor(p), floor(n));
        expect(got).toBe(want);
        if (got !== null) expect(got >= 0 && got <= 1).toBe(true);
      }),
      { numRuns: runs(100) },
    );
  });
});

describe('roundMetrics', () => {
  it('gives a regression the RMSE of its held-out predictions on the response scale', () => {
    const row = fc.record({ p: fc.double({ min: -2, max: 2, noNaN: true }), y: fc.integer({ min: -50, max: 50 }) });
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 50 }), (rows, scale) => {
        // local-round.ts: the loss is ½(p − y/scale)² with p on the training scale
        const validationLoss = rows.reduce((s, r) => s + 0.5 * (r.p - r.y / scale) ** 2, 0);
        const m = roundMetrics(
          totalsOf({ examples: 10, loss: 3, validationCount: rows.length, validationLoss }),
          'regression',
          scale,
        );
        const rmse = Math.sqrt(rows.reduce((s, r) => s + (scale * r.p - r.y) ** 2, 0) / rows.length);
        expect(Math.abs((m.metric as number) - rmse)).toBeLessThanOrEqual(1e-9 * Math.max(1, rmse));
        expect(m.validationLoss).toBe(validationLoss / rows.length);
        expect(m.trainLoss).toBe(0.3);
      }),
      { numRuns: runs(100) },
    );
  });

  it('gives a binary round the AUC of its histogram, and nulls where nothing was counted', () => {
    const positives = histogram([0.8, 0.6]);
    const negatives = histogram([0.1, 0.7]);
    const m = roundMetrics(
      totalsOf({ examples: 4, loss: 2, validationCount: 4, validationLoss: 1, positives, negatives }),
      'binary',
      1,
    );
    expect(m).toEqual({ trainLoss: 0.5, validationLoss: 0.25, metric: 0.75 });
    // a noisy count below one: no mean is taken
    expect(roundMetrics(totalsOf({ examples: 0.4, validationCount: 0.9 }), 'binary', 1)).toEqual({
      trainLoss: null,
      validationLoss: null,
      metric: null,
    });
    // a noisy negative validation loss is floored at 0
    expect(roundMetrics(totalsOf({ validationCount: 5, validationLoss: -3 }), 'regression', 2).validationLoss).toBe(0);
  });
});

describe('meanUpdate', () => {
  it('is Σn·Δ / Σn in an exact round and −lr·Σg / max(1, n̂) in a DP round', () => {
    const update = Float64Array.of(6, -3, 0.75);
    expect(Array.from(meanUpdate(totalsOf({ update, examples: 3 }), false, 0.1))).toEqual([2, -1, 0.25]);
    expect(Array.from(meanUpdate(totalsOf({ update, examples: 3 }), true, 0.5))).toEqual([-1, 0.5, -0.125]);
    // a noisy count below 1 is floored at 1, never divided by
    expect(Array.from(meanUpdate(totalsOf({ update, examples: -4 }), true, 1))).toEqual([-6, 3, -0.75]);
    const e = fedstatErrorOf(() => meanUpdate(totalsOf({ update, examples: 0 }), false, 0.1));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toMatch(/no agency holds a training record/);
  });
});
