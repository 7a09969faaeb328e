/**
 * The privacy terms both sides derive from a signed query: per-measure sensitivities from the
 * schema bounds, ρ split over the measures with each μ the least that meets its share (so the
 * whole release is ρ-zCDP by composition), and ρ held to the 10^-12 grid on the wire.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { composeRho, skellamRho } from '../../src/dp/accountant.js';
import { compare, rational, sub } from '../../src/dp/rational.js';
import { parseSchema } from '../../src/federation/schema.js';
import { planCells } from '../../src/protocol/cells.js';
import { openQueryRho, parseQueryRho, privacyTerms, queryRho, queryRhoText } from '../../src/protocol/privacy-terms.js';
import { parseQuery } from '../../src/query/parse.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

const schema = parseSchema(
  {
    datasets: {
      r: {
        maxRows: 1_000_000,
        columns: {
          d: { type: 'category', values: ['x', 'y', 'z'] },
          age: { type: 'integer', min: 0, max: 120 },
          balance: { type: 'integer', min: -50_000, max: 50_000 },
          debt: { type: 'integer', min: -900, max: -100 },
        },
      },
    },
  },
  'schema.json',
);
const ds = schema.datasets['r']!;

describe('privacy terms', () => {
  it("takes each measure's sensitivity from the schema bounds of what the agencies noise (shifted sums)", () => {
    const plan = parseQuery('SELECT d, COUNT(*), SUM(age), SUM(balance), AVG(debt) FROM r GROUP BY d', schema);
    const terms = privacyTerms(planCells(plan, ds), ds, parseQueryRho('0.4'), 3);
    expect(terms.measures.map((m) => [m.measure, m.sensitivity.l1])).toEqual([
      ['count', 1n],
      ['age', 120n],
      ['balance', 100_000n],
      ['debt', 800n], // debt − (−900) ∈ [0, 800]
    ]);
    for (const m of terms.measures) expect(m.sensitivity.l2Squared).toBe(m.sensitivity.l1 ** 2n);
    expect(terms.measures.every((m) => compare(m.rho, rational(1n, 10n)) === 0)).toBe(true);
  });

  it('is ρ-zCDP in total, each μ is the least integer meeting its share, and each agency adds μ/t', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 7 }),
        fc.boolean(),
        (milli, t, withSums) => {
          const rho = rational(BigInt(milli), 1000n);
          const plan = parseQuery(
            withSums ? 'SELECT COUNT(*), SUM(age), AVG(balance) FROM r' : 'SELECT d, COUNT(*) FROM r GROUP BY d',
            schema,
          );
          const terms = privacyTerms(planCells(plan, ds), ds, rho, t);
          const spent = composeRho(terms.measures.map((m) => skellamRho(m.mu, m.sensitivity)));
          expect(compare(spent, rho)).toBeLessThanOrEqual(0);
          for (const m of terms.measures) {
            expect(m.mu.den).toBe(1n);
            if (m.mu.num > 1n) expect(compare(skellamRho(sub(m.mu, rational(1n)), m.sensitivity), m.rho)).toBe(1);
            expect(m.agencyMu).toEqual(rational(m.mu.num, BigInt(t)));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps ρ on the 10^-12 grid and within range, from users and on the wire', () => {
    expect(parseQueryRho('0.05')).toEqual(rational(1n, 20n));
    expect(parseQueryRho('1e-12')).toEqual(rational(1n, 10n ** 12n));
    expect(fedstatErrorOf(() => parseQueryRho('0.0000000000015')).message).toMatch(/more than 12 decimal places/);
    expect(fedstatErrorOf(() => parseQueryRho('0')).code).toBe('QUERY_INVALID');
    expect(fedstatErrorOf(() => parseQueryRho('101')).message).toMatch(/above the maximum/);
    expect(fedstatErrorOf(() => queryRho(rational(1n, 3n))).code).toBe('QUERY_INVALID');
    expect(openQueryRho(queryRhoText(rational(1n, 20n)))).toEqual(rational(1n, 20n));
    for (const bad of ['0.05', '2/40', '1/3', '0/1', '101/1', '-1/2', 1, null, '1/0']) {
      expect(fedstatErrorOf(() => openQueryRho(bad)).code).toBe('BAD_MESSAGE');
    }
  });

  it('refuses a query whose noise would take an agency too long to draw, and says how to fix it', () => {
    const wide = parseSchema(
      {
        datasets: {
          w: {
            columns: {
              g: { type: 'category', values: Array.from({ length: 4096 }, (_, i) => `v${i}`) },
              v: { type: 'integer', min: 0, max: 2_000_000 },
            },
          },
        },
      },
      'w.json',
    );
    const ws = wide.datasets['w']!;
    const plan = parseQuery('SELECT g, SUM(v) FROM w GROUP BY g', wide);
    const e = fedstatErrorOf(() => privacyTerms(planCells(plan, ws), ws, parseQueryRho('0.1'), 3));
    expect(e.code).toBe('PLAN_UNSAFE');
    expect(e.message).toMatch(
      /million sampler steps at each agency.*raise rho, narrow the bounds of the summed columns, or group by fewer columns/,
    );
    // The same SUM over one group is fine.
    expect(
      privacyTerms(planCells(parseQuery('SELECT SUM(v) FROM w', wide), ws), ws, parseQueryRho('0.1'), 3).measures,
    ).toHaveLength(2);
  });

  it('refuses a SUM whose noise no agency could sample', () => {
    const wide = parseSchema(
      { datasets: { w: { columns: { v: { type: 'integer', min: 0, max: 9_000_000_000_000 } } } } },
      'w.json',
    );
    const plan = parseQuery('SELECT SUM(v) FROM w', wide);
    const e = fedstatErrorOf(() =>
      privacyTerms(planCells(plan, wide.datasets['w']!), wide.datasets['w']!, parseQueryRho('0.001'), 1),
    );
    expect(e.code).toBe('PLAN_UNSAFE');
    expect(e.message).toMatch(/raise rho or narrow the column's bounds/);
  });
});
