/**
 * Chart axes: value axes step by 1, 2 or 5 × 10^k, cover every value with whole steps and carry a
 * tick at each end; a constant series gets a band around it; round axes span exactly the rounds
 * with whole-number ticks; tick labels carry the step's decimals without float noise.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTick, roundAxis, scale, valueAxis } from '../../src/cli/plot-axis.js';

/** True when `step` is 1, 2 or 5 times a power of ten (to float precision). */
function isNiceStep(step: number): boolean {
  const mantissa = step / 10 ** Math.floor(Math.log10(step));
  return [1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-9);
}

const finite = fc.double({ min: -1e12, max: 1e12, noNaN: true, noDefaultInfinity: true });

describe('valueAxis', () => {
  it('covers every value with a 1-2-5 step and a tick on each end of its domain', () => {
    fc.assert(
      fc.property(fc.array(finite, { minLength: 1, maxLength: 50 }), (values) => {
        const axis = valueAxis(values);
        expect(isNiceStep(axis.step)).toBe(true);
        for (const v of values) {
          expect(v).toBeGreaterThanOrEqual(axis.min);
          expect(v).toBeLessThanOrEqual(axis.max);
        }
        expect(axis.max).toBeGreaterThan(axis.min);
        expect(axis.ticks[0]).toBeCloseTo(axis.min, 6);
        expect((axis.ticks.at(-1) as number) / axis.step).toBeCloseTo(axis.max / axis.step, 6);
        expect(axis.ticks.length).toBeGreaterThanOrEqual(2);
        expect(axis.ticks.length).toBeLessThanOrEqual(12);
      }),
    );
  });

  it('gives known series their textbook ticks', () => {
    expect(valueAxis([0, 1]).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(valueAxis([0.23, 0.71])).toEqual({
      min: 0.2,
      max: 0.8,
      step: 0.1,
      ticks: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
    });
    expect(valueAxis([3, 97]).ticks).toEqual([0, 20, 40, 60, 80, 100]);
    expect(valueAxis([-0.3, 0.3]).ticks).toEqual([-0.4, -0.2, 0, 0.2, 0.4]);
    expect(valueAxis([0.3, 0.9]).ticks).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    expect(valueAxis([0.31, 0.39]).ticks).toEqual([0.3, 0.32, 0.34, 0.36, 0.38, 0.4]);
  });

  it('widens a constant series to a band around it, and an empty one to [0, 1]', () => {
    expect(valueAxis([0.5, 0.5])).toMatchObject({ min: 0.44, max: 0.56 });
    expect(valueAxis([0])).toMatchObject({ min: -1, max: 1 });
    expect(valueAxis([-200])).toMatchObject({ min: -220, max: -180 });
    expect(valueAxis([0.5, 0.5 + 2 ** -53])).toMatchObject({ min: 0.44, max: 0.56 });
    expect(valueAxis([5e-324]).step).toBeGreaterThan(1e-302);
    expect(valueAxis([])).toMatchObject({ min: 0, max: 1 });
  });

  it('refuses a span no float can hold', () => {
    expect(() => valueAxis([-Number.MAX_VALUE, Number.MAX_VALUE])).toThrow(RangeError);
  });
});

describe('roundAxis', () => {
  it('spans exactly the rounds, with whole-number 1-2-5 ticks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (first, extra) => {
        const axis = roundAxis(first, first + extra);
        if (extra > 0) expect([axis.min, axis.max]).toEqual([first, first + extra]);
        expect(Number.isInteger(axis.step) && isNiceStep(axis.step)).toBe(true);
        expect(axis.ticks.every((t) => Number.isInteger(t) && t >= axis.min && t <= axis.max)).toBe(true);
        expect(axis.ticks.length).toBeGreaterThanOrEqual(1);
      }),
    );
    expect(roundAxis(1, 30).ticks).toEqual([5, 10, 15, 20, 25, 30]);
    expect(roundAxis(1, 3).ticks).toEqual([1, 2, 3]);
  });

  it('centres a single round', () => {
    expect(roundAxis(4, 4)).toEqual({ min: 3.5, max: 4.5, step: 1, ticks: [4] });
  });
});

describe('scale and formatTick', () => {
  it('maps the domain ends to the pixel ends, either way round', () => {
    const axis = valueAxis([0, 1]);
    expect([scale(0, axis, 286, 74), scale(1, axis, 286, 74), scale(0.5, axis, 286, 74)]).toEqual([286, 74, 180]);
  });

  it('prints the step’s decimals and never float noise', () => {
    const axis = valueAxis([0, 0.2]);
    expect(axis.ticks.map((t) => formatTick(t, axis.step))).toEqual(['0.00', '0.05', '0.10', '0.15', '0.20']);
    expect(formatTick(1500, 500)).toBe('1500');
    expect(formatTick(2e7, 1e7)).toBe('2.00e+7');
    expect(formatTick(3e-8, 1e-8)).toBe('3.00e-8');
    expect(formatTick(0, 1e-8)).toBe('0');
  });
});
