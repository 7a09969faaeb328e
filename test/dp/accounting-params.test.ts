import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FedstatError } from '../../src/errors.js';
import { parseDecimal, parseDelta, parsePrivacyRho } from '../../src/dp/privacy-parameters.js';
import { compare, formatUp, fromDouble, rational, toNumberDown, toNumberUp } from '../../src/dp/rational.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof FedstatError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return undefined;
}

describe('parsing privacy parameters', () => {
  it('decimals are exact rationals', () => {
    expect(parsePrivacyRho('0.05')).toEqual(rational(1n, 20n));
    expect(parsePrivacyRho(' 5e-2 ')).toEqual(rational(1n, 20n));
    expect(parsePrivacyRho('.5')).toEqual(rational(1n, 2n));
    expect(parsePrivacyRho('1')).toEqual(rational(1n));
    expect(parsePrivacyRho('0.1')).toEqual(rational(1n, 10n)); // not the double 0.1000000000000000055…
    expect(parseDecimal('1.25E+2')).toEqual(rational(125n));
    expect(parseDecimal('-3.5')).toEqual(rational(-7n, 2n));
  });

  it('any decimal string round-trips through BigInt arithmetic', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 0, max: 20 }), (digits, scale) => {
        const s = digits.toString().padStart(scale + 1, '0');
        const text = scale === 0 ? s : `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
        return compare(parseDecimal(text)!, rational(digits, 10n ** BigInt(scale))) === 0;
      }),
    );
  });

  it('out-of-range and malformed values fail with a clear one-line QUERY_INVALID (or the given code)', () => {
    expect(codeOf(() => parsePrivacyRho('0'))).toBe(
      'QUERY_INVALID: rho must be greater than 0; give a positive value such as 0.05',
    );
    expect(codeOf(() => parsePrivacyRho('-0.1'))).toMatch(/^QUERY_INVALID: rho must be greater than 0/);
    expect(codeOf(() => parsePrivacyRho('abc'))).toBe(
      'QUERY_INVALID: rho is not a decimal number; write it like rho = 0.05',
    );
    expect(codeOf(() => parsePrivacyRho('NaN'))).toMatch(/not a decimal/);
    expect(codeOf(() => parsePrivacyRho('Infinity'))).toMatch(/not a decimal/);
    expect(codeOf(() => parsePrivacyRho('1e99999'))).toMatch(/not a decimal/);
    expect(codeOf(() => parsePrivacyRho('1e-13'))).toBe(
      'QUERY_INVALID: rho is below the minimum 1/1000000000000; give a larger value',
    );
    expect(codeOf(() => parsePrivacyRho('0.' + '0'.repeat(80) + '1'))).toMatch(/not a decimal/);
    expect(codeOf(() => parsePrivacyRho('101'))).toBe(
      'QUERY_INVALID: rho is above the maximum 100; give a smaller value',
    );
    expect(
      codeOf(() => parsePrivacyRho('2', { max: rational(3n, 2n), name: 'budget.rho', code: 'CONFIG_INVALID' })),
    ).toBe('CONFIG_INVALID: budget.rho is above the maximum 3/2; give a smaller value');
    expect(parseDelta('1e-6')).toBe(1e-6);
    expect(codeOf(() => parseDelta('1'))).toMatch(/^QUERY_INVALID: delta must be strictly between 0 and 1/);
    expect(codeOf(() => parseDelta('0'))).toMatch(/strictly between 0 and 1/);
    expect(codeOf(() => parseDelta('1e-400'))).toMatch(/too small/);
    expect(codeOf(() => parseDelta('x'))).toMatch(/not a decimal/);
  });
});

describe('rational rounding for display', () => {
  it('toNumberUp / toNumberDown bracket the exact value by adjacent doubles', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.bigInt({ min: 1n, max: 10n ** 30n }),
        (n, d) => {
          const r = rational(n, d);
          const up = toNumberUp(r);
          const down = toNumberDown(r);
          return compare(fromDouble(up), r) >= 0 && compare(fromDouble(down), r) <= 0 && (up === down || up > down);
        },
      ),
    );
    expect(toNumberUp(rational(1n, 10n))).toBe(0.1); // the double 0.1 is just above 1/10
    expect(toNumberDown(rational(1n, 10n))).toBeLessThan(0.1);
    expect(toNumberUp(rational(1n, 3n))).toBeGreaterThan(1 / 3 - 1e-17);
    expect(formatUp(rational(1n, 3n), 4)).toBe('0.3334');
    expect(formatUp(rational(1n, 20n))).toBe('0.05');
    expect(formatUp(rational(-1n, 3n), 2)).toBe('-0.33');
  });
});
