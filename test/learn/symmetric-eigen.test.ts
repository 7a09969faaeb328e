/**
 * The symmetric eigen-decomposition (symmetric-eigen.ts): V·Λ·Vᵀ gives the matrix back, V is
 * orthonormal, eigenvalues match known ones, and functions of the matrix (its inverse) are right.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromEigen, symmetricEigen } from '../../src/learn/symmetric-eigen.js';
import { runs } from './arbitraries.js';

/** Random symmetric d×d matrices, entries spread over a few orders of magnitude. */
const symmetricArb = fc
  .record({
    d: fc.integer({ min: 1, max: 14 }),
    entries: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 196, maxLength: 196 }),
    scale: fc.constantFrom(1e-6, 1, 1e4),
  })
  .map(({ d, entries, scale }) => {
    const a = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = i; j < d; j++) {
        const v = (entries[i * 14 + j] as number) * scale;
        a[i * d + j] = v;
        a[j * d + i] = v;
      }
    return { a, d };
  });

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) ** 2;
  return Math.sqrt(s);
}

function multiply(a: ArrayLike<number>, b: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++)
      for (let j = 0; j < d; j++)
        out[i * d + j] = (out[i * d + j] as number) + (a[i * d + k] as number) * (b[k * d + j] as number);
  return out;
}

describe('symmetricEigen', () => {
  it('reconstructs the matrix with orthonormal eigenvectors', () => {
    fc.assert(
      fc.property(symmetricArb, ({ a, d }) => {
        const e = symmetricEigen(a, d);
        const back = fromEigen(e, (v) => v);
        expect(norm(back.map((v, i) => v - (a[i] as number)))).toBeLessThanOrEqual(1e-12 * Math.max(norm(a), 1e-300));
        const vtv = fromEigen({ values: new Float64Array(d).fill(1), vectors: e.vectors }, (v) => v);
        const identity = Float64Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0));
        expect(norm(vtv.map((v, i) => v - (identity[i] as number)))).toBeLessThan(1e-12);
      }),
      { numRuns: runs(100) },
    );
  });

  it('gives the inverse of a positive definite matrix as a function of it', () => {
    fc.assert(
      fc.property(symmetricArb, ({ a, d }) => {
        // AᵀA + I is positive definite with eigenvalues ≥ 1.
        const spd = multiply(a, a, d).map((v, i) => v + (i % (d + 1) === 0 ? 1 : 0));
        const inv = fromEigen(symmetricEigen(spd, d), (v) => 1 / v);
        const product = multiply(spd, inv, d);
        product.forEach((v, i) => expect(Math.abs(v - (i % (d + 1) === 0 ? 1 : 0))).toBeLessThan(1e-9 * norm(spd)));
      }),
      { numRuns: runs(60) },
    );
  });

  it('finds known eigenvalues: repeated ones, a zero, a negative', () => {
    const sorted = (a: number[], d: number): number[] => Array.from(symmetricEigen(a, d).values).sort((x, y) => x - y);
    expect(sorted([2, 0, 0, 0, 2, 0, 0, 0, 2], 3)).toEqual([2, 2, 2]);
    const [lo, hi] = sorted([1, 1, 1, 1], 2);
    expect(lo).toBeCloseTo(0, 14);
    expect(hi).toBeCloseTo(2, 14);
    const [neg, pos] = sorted([0, 3, 3, 0], 2);
    expect(neg).toBeCloseTo(-3, 14);
    expect(pos).toBeCloseTo(3, 14);
  });

  it('refuses a matrix of the wrong size or with a non-finite entry', () => {
    expect(() => symmetricEigen([1, 2, 3], 2)).toThrow(RangeError);
    expect(() => symmetricEigen([1, Number.NaN, Number.NaN, 1], 2)).toThrow(RangeError);
  });
});
