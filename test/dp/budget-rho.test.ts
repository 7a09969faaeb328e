import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatRho,
  parseCanonicalRho,
  parseRho,
  rho,
  rhoAdd,
  rhoCompare,
  rhoSubClamped,
  rhoToString,
} from '../../src/dp/rho.js';

/** Independent reference: a decimal string with at most 12 fraction digits as an integer count of 10^-12. */
function picos(text: string): bigint {
  const [whole, frac = ''] = text.split('.');
  return BigInt(whole || '0') * 10n ** 12n + BigInt((frac + '0'.repeat(12)).slice(0, 12));
}
const decimal = fc
  .tuple(
    fc.bigInt({ min: 0n, max: 10n ** 6n }),
    fc.bigInt({ min: 0n, max: 10n ** 12n - 1n }),
    fc.integer({ min: 0, max: 12 }),
  )
  .map(([w, f, digits]) => (digits === 0 ? w.toString() : `${w}.${f.toString().padStart(12, '0').slice(0, digits)}`));

describe('exact ρ arithmetic', () => {
  it('0.1 + 0.2 is exactly 0.3 (and a float would not be)', () => {
    const sum = rhoAdd(parseRho('0.1')!, parseRho('0.2')!);
    expect(rhoCompare(sum, parseRho('0.3')!)).toBe(0);
    expect(formatRho(sum)).toBe('0.3');
    expect(0.1 + 0.2 === 0.3).toBe(false);
  });

  it('ten charges of 0.1 exhaust a budget of 1 exactly', () => {
    let total = rho(0n);
    for (let i = 0; i < 10; i++) total = rhoAdd(total, parseRho('0.1')!);
    expect(rhoToString(total)).toBe('1/1');
    expect(rhoSubClamped(parseRho('1')!, total).num).toBe(0n);
  });

  it('parsing and adding decimals agrees with integer arithmetic in units of 10^-12', () => {
    fc.assert(
      fc.property(fc.array(decimal, { minLength: 1, maxLength: 20 }), (texts) => {
        const total = texts.map((t) => parseRho(t)!).reduce(rhoAdd);
        const reference = texts.map(picos).reduce((a, b) => a + b);
        expect(total.num * 10n ** 12n).toBe(reference * total.den);
        expect(picos(formatRho(total))).toBe(reference); // formatting is exact too
      }),
    );
  });

  it('fractions compare and subtract exactly (1/3 + 1/6 = 1/2; 1/3 < 0.3334)', () => {
    expect(rhoToString(rhoAdd(parseRho('1/3')!, parseRho('1/6')!))).toBe('1/2');
    expect(rhoCompare(parseRho('1/3')!, parseRho('0.3334')!)).toBe(-1);
    expect(rhoCompare(parseRho('1/3')!, parseRho('0.3333')!)).toBe(1);
    expect(formatRho(parseRho('2/6')!)).toBe('1/3');
    expect(formatRho(parseRho('1/8')!)).toBe('0.125');
    expect(rhoToString(rhoSubClamped(parseRho('0.1')!, parseRho('0.2')!))).toBe('0/1');
  });

  it('canonical form round-trips and has one spelling', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 30n }), (n, d) => {
        const r = rho(n, d);
        expect(parseCanonicalRho(rhoToString(r))).toEqual(r);
        expect(rhoCompare(parseRho(formatRho(r))!, r)).toBe(0);
        expect(r.num * d).toBe(n * r.den);
      }),
    );
    expect(parseCanonicalRho('2/4')).toBeNull();
    expect(parseCanonicalRho('1')).toBeNull();
  });

  it('rejects everything that is not a plain non-negative decimal or fraction', () => {
    for (const bad of [
      '',
      '.',
      '1.',
      '-0.1',
      '+1',
      '1e-3',
      ' 1',
      '0x10',
      '1/0',
      '1/-2',
      'NaN',
      'Infinity',
      '1,5',
      '1'.repeat(65),
    ]) {
      expect(parseRho(bad), bad).toBeNull();
    }
    expect(rhoToString(parseRho('.5')!)).toBe('1/2');
    expect(() => rho(-1n)).toThrow(RangeError);
    expect(() => rho(1n, 0n)).toThrow(RangeError);
  });
});
