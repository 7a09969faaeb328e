/**
 * One ρ: the same grammar for a query's ρ (`--rho`, `PrivacyOptions.rho`) and a budget
 * (`--budget`, ledger budgets), decimals and fractions both; one canonical "n/d" on the wire, in
 * the ledger and in the log whichever way the user wrote it; one display form; errors that name
 * the problem and the fix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUDGET_RHO,
  displayCanonicalRho,
  formatRho,
  parseCanonicalRho,
  parseRho,
  parseRhoText,
  QUERY_RHO,
  rho,
  rhoCompare,
  rhoFrom,
  rhoToString,
} from '../../src/dp/rho.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { rational } from '../../src/dp/rational.js';
import { openQueryRho, parseQueryRho, queryRho, queryRhoText } from '../../src/protocol/privacy-terms.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

/** A ρ on the 10^-12 grid within (0, 100], as an exact value. */
const onGrid = fc.bigInt({ min: 1n, max: 100n * 10n ** 12n }).map((picos) => rho(picos, 10n ** 12n));

/** Every way the grammar lets a user write `r`: the decimal, the reduced and an unreduced fraction, an exponent. */
function spellings(r: ReturnType<typeof rho>): string[] {
  const decimal = formatRho(r);
  return [decimal, ` ${decimal} `, `${decimal}e0`, rhoToString(r), `${r.num * 3n}/${r.den * 3n}`];
}

describe('one grammar for ρ', () => {
  it('a query ρ and a budget read every spelling of a value alike, and the plain forms read back what is printed', () => {
    fc.assert(
      fc.property(onGrid, (r) => {
        for (const text of spellings(r)) {
          expect(rhoCompare(parseRhoText(text, QUERY_RHO), r), text).toBe(0);
          expect(rhoCompare(parseRhoText(text, BUDGET_RHO), r), text).toBe(0);
          expect(rhoCompare(parseQueryRho(text), r), text).toBe(0);
        }
        expect(rhoCompare(parseRho(formatRho(r))!, r)).toBe(0);
        expect(rhoCompare(parseRho(rhoToString(r))!, r)).toBe(0);
      }),
    );
  });

  it('the canonical form is one spelling, whatever the user wrote: 0.025, 1/40, 2/80, 2.5e-2 all travel as "1/40"', () => {
    const wire = ['0.025', '1/40', '2/80', '2.5e-2', ' .025 ', '+1/40'].map((t) => queryRhoText(parseQueryRho(t)));
    expect(new Set(wire)).toEqual(new Set(['1/40']));
    expect(openQueryRho('1/40')).toEqual(rational(1n, 40n));
    // Values written before: the canonical texts of ledgers and logs read back unchanged.
    for (const canonical of ['1/20', '1/1', '0/1', '3/10', '1/1000000000000', '100/1']) {
      expect(rhoToString(parseCanonicalRho(canonical)!)).toBe(canonical);
    }
    // An exact value from a library caller is reduced before it is signed into a query.
    expect(queryRhoText(queryRho({ num: 2n, den: 80n }))).toBe('1/40');
  });

  it('displays a canonical ρ as the exact decimal when it terminates, else as the fraction', () => {
    expect(displayCanonicalRho('1/40')).toBe('0.025');
    expect(displayCanonicalRho('1/1')).toBe('1');
    expect(displayCanonicalRho('0/1')).toBe('0');
    expect(displayCanonicalRho('1/3')).toBe('1/3');
    expect(displayCanonicalRho('2/4')).toBe('2/4'); // not canonical: shown as it is, never as a made-up value
  });

  it('a budget may be any non-negative value; a query ρ lies on the 10^-12 grid within [10^-12, 100]', () => {
    expect(rhoToString(parseRhoText('0', BUDGET_RHO))).toBe('0/1');
    expect(rhoToString(parseRhoText('1/3', BUDGET_RHO))).toBe('1/3');
    expect(rhoToString(parseRhoText('1000', BUDGET_RHO))).toBe('1000/1');
    expect(rhoToString(parseRhoText('0.0000000000001', BUDGET_RHO))).toBe('1/10000000000000');
    expect(fedstatErrorOf(() => parseRhoText('1/3', QUERY_RHO)).code).toBe('QUERY_INVALID');
    expect(fedstatErrorOf(() => parseRhoText('0', QUERY_RHO)).code).toBe('QUERY_INVALID');
  });
});

describe('ρ errors name the problem and the fix', () => {
  const cases: [string, RegExp][] = [
    ['', /^--rho is empty; write it like --rho 0\.05$/],
    ['abc', /^--rho is not a decimal number; write it like --rho 0\.05$/],
    ['1/0', /^--rho has a zero denominator; write a fraction like --rho 1\/40$/],
    ['1/x', /^--rho is not a fraction of two whole numbers; write it like --rho 1\/40$/],
    ['1/-2', /^--rho is not a fraction of two whole numbers/],
    [
      '1/3',
      /^--rho 1\/3 is not a decimal of at most 12 places; give a fraction whose denominator divides 10\^12, such as --rho 1\/40$/,
    ],
    ['0.0000000000015', /^--rho has more than 12 decimal places; round it to at most 12$/],
    ['0', /^--rho must be greater than 0; give a positive value such as 0\.05$/],
    ['-1/40', /^--rho must be greater than 0/],
    ['101', /^--rho is above the maximum 100; give a smaller value$/],
    ['1/2000000000000', /^--rho is below the minimum 1\/1000000000000; give a larger value$/],
    ['1'.repeat(65), /^--rho is not a decimal number or fraction of at most 64 characters/],
  ];
  it.each(cases)('--rho %j', (text, message) => {
    const e = fedstatErrorOf(() => parseQueryRho(text, { name: '--rho', spell: (v) => `--rho ${v}` }));
    expect(e.code).toBe('QUERY_INVALID');
    expect(e.message).toMatch(message);
  });

  it('a budget: CONFIG_INVALID, in the words of where it was given', () => {
    const named = { ...BUDGET_RHO, name: '--budget residents', spell: (v: string) => `--budget residents=${v}` };
    expect(fedstatErrorOf(() => parseRhoText('-1', named)).message).toBe(
      '--budget residents must not be negative; give 0 or a positive value such as 0.05',
    );
    expect(fedstatErrorOf(() => parseRhoText('1/0', named)).message).toBe(
      '--budget residents has a zero denominator; write a fraction like --budget residents=1/40',
    );
    expect(fedstatErrorOf(() => parseRhoText('x', named)).code).toBe('CONFIG_INVALID');
  });

  it('a ledger budget names its dataset; a float or a malformed value from a library caller is a TypeError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedstat-rho-'));
    try {
      await expect(BudgetLedger.open(join(dir, 'l'), { budgets: { residents: '1/0' } })).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: 'the budget for dataset residents has a zero denominator; write a fraction like "1/40"',
      });
      const ledger = await BudgetLedger.open(join(dir, 'l'), { budgets: { residents: '1/4', schools: ' 2.5e-1 ' } });
      expect(rhoToString(ledger.budget('residents'))).toBe('1/4');
      expect(rhoToString(ledger.budget('schools'))).toBe('1/4');
      await ledger.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => rhoFrom(0.05 as never)).toThrow(TypeError);
    expect(() => queryRho({ num: 1, den: 40 } as never)).toThrow(TypeError);
    expect(fedstatErrorOf(() => queryRho({ num: 1n, den: 3n })).message).toMatch(
      /^rho 1\/3 is not a decimal of at most 12 places/,
    );
  });
});
