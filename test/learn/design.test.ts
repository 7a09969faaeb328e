import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkModelCoding, codeModel, MAX_COEFFICIENTS, scalingOf } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import { designVector, encodeRecord, offsetOf, responseOf } from '../../src/learn/design-row.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { parseFormula } from '../../src/learn/formula.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { fitScenarioArb, prng, runs } from './arbitraries.js';
import { ABC, INSURANCE, coded } from './fixtures.js';

describe('coefficient names and order are R’s', () => {
  // Each expectation is what R 4 prints for colnames(model.matrix(formula, data)) with these factors.
  it.each([
    ['y ~ a + b + a:b', ['(Intercept)', 'aA2', 'aA3', 'bB2', 'aA2:bB2', 'aA3:bB2']],
    ['y ~ a:b', ['(Intercept)', 'aA1:bB1', 'aA2:bB1', 'aA3:bB1', 'aA1:bB2', 'aA2:bB2', 'aA3:bB2']],
    ['y ~ x:a', ['(Intercept)', 'x:aA1', 'x:aA2', 'x:aA3']],
    ['y ~ a + b - 1', ['aA1', 'aA2', 'aA3', 'bB2']],
    ['y ~ x + a:b - 1', ['x', 'aA1:bB1', 'aA2:bB1', 'aA3:bB1', 'aA1:bB2', 'aA2:bB2', 'aA3:bB2']],
    ['y ~ b:a + a', ['(Intercept)', 'aA2', 'aA3', 'bB2:aA1', 'bB2:aA2', 'bB2:aA3']],
    ['y ~ x + x:a', ['(Intercept)', 'x', 'x:aA2', 'x:aA3']],
    ['y ~ x:z + a', ['(Intercept)', 'aA2', 'aA3', 'x:z']],
    ['y ~ x - 1 + a:x', ['x', 'x:aA1', 'x:aA2', 'x:aA3']],
  ])('%s', (formula, names) => {
    expect(coded(formula).coefficients).toEqual(names);
  });

  it('orders terms by degree, stably, and labels them in the variables’ order of appearance', () => {
    expect(coded('y ~ a:c + b:c + a:b').terms.map((t) => t.label)).toEqual(['a:c', 'c:b', 'a:b']);
  });

  it('records the reference level of every contrast-coded category column, and only those', () => {
    expect(coded('y ~ a + b + a:b').referenceLevels).toEqual({ a: 'A1', b: 'B1' });
    expect(coded('y ~ a + b - 1').referenceLevels).toEqual({ b: 'B1' });
    expect(coded('y ~ x:a').referenceLevels).toEqual({});
  });
});

describe('responses by family', () => {
  const code = (formula: string, family: 'binomial' | 'gaussian' | 'poisson') =>
    codeModel(parseFormula(formula, INSURANCE, 'si'), INSURANCE, family, 'si');
  const rec: DataRecord = {
    insured: '是',
    employed: 1,
    household: 4,
    contribution_months: 12,
    age: 30,
    sex: '女',
    sector: '建筑业',
    district: '青羊区',
    offset_days: 3,
  };

  it('binomial: a two-valued category (second value the event), a named event, or a 0/1 integer', () => {
    expect(responseOf(code('insured ~ age', 'binomial'), rec)).toBe(0); // the event is 否, the second value
    expect(responseOf(code("insured == '是' ~ age", 'binomial'), rec)).toBe(1);
    expect(responseOf(code("district == '青羊区' ~ age", 'binomial'), rec)).toBe(1);
    expect(responseOf(code('employed ~ age', 'binomial'), rec)).toBe(1);
  });

  it('poisson and gaussian take integer responses; poisson an offset, log or not', () => {
    expect(responseOf(code('contribution_months ~ age', 'poisson'), rec)).toBe(12);
    expect(offsetOf(code('contribution_months ~ age + offset(log(household))', 'poisson'), rec)).toBeCloseTo(
      Math.log(4),
      15,
    );
    expect(offsetOf(code('contribution_months ~ age + offset(offset_days)', 'poisson'), rec)).toBe(3);
    expect(offsetOf(code('contribution_months ~ age', 'poisson'), rec)).toBe(0);
    expect(responseOf(code('offset_days ~ age', 'gaussian'), rec)).toBe(3);
  });

  it.each([
    [
      'district ~ age',
      'binomial',
      /a binomial response needs two values, and district has 3 at 1:1; name the event: district == '锦江区'/,
    ],
    [
      'household ~ age',
      'binomial',
      /a binomial response is a 0\/1 integer column or a category column, and household ranges 1\.\.20/,
    ],
    ['insured ~ age', 'gaussian', /a gaussian response is an integer column, and insured is a category column/],
    ["insured == '是' ~ age", 'poisson', /== names a binomial event, and the family is poisson/],
    ['offset_days ~ age', 'poisson', /a poisson response is a count, and offset_days may be negative \(min -30\)/],
    ['fixed ~ age', 'gaussian', /the response fixed is constant/],
    ['employed ~ age + offset(household)', 'binomial', /offset\(\) is for poisson models, and the family is binomial/],
    ['employed ~ single', 'binomial', /single has one value in the schema, so it cannot explain anything/],
    ['employed ~ age + fixed', 'binomial', /fixed is constant \(min = max = 7 in the schema\)/],
  ] as const)('refuses %s for %s', (formula, family, pattern) => {
    const e = fedstatErrorOf(() => code(formula, family));
    expect(e.code).toBe('QUERY_INVALID');
    expect(e.message).toMatch(pattern);
  });

  it(`refuses more than ${MAX_COEFFICIENTS} coefficients`, () => {
    const values = Array.from({ length: 12 }, (_, i) => `v${i}`);
    const schema = parseSchema(
      {
        datasets: {
          d: {
            columns: {
              p: { type: 'category', values },
              q: { type: 'category', values },
              y: { type: 'integer', min: 0, max: 9 },
            },
          },
        },
      },
      'x.json',
    ).datasets['d'] as DatasetSchema;
    const e = fedstatErrorOf(() => codeModel(parseFormula('y ~ p + q + p:q', schema), schema, 'gaussian'));
    expect(e.message).toMatch(/the formula has 144 coefficients, more than the 120 a round can carry/);
  });
});

describe('records', () => {
  const coding = coded('y ~ a + x + a:x');

  it('codes dummies and scaled integers; validates every value it reads', () => {
    // x in -10..30 with an intercept and the a main effect present: centred at 10, scaled by 20.
    expect(Array.from(designVector(coding, { a: 'A3', x: 30, y: 5 }))).toEqual([1, 0, 1, 1, 0, 1]);
    expect(Array.from(designVector(coding, { a: 'A1', x: 0, y: 5 }))).toEqual([1, 0, 0, -0.5, 0, 0]);
    expect(Array.from(designVector(coding, { a: 'A2', x: '20', y: '5' }))).toEqual([1, 1, 0, 0.5, 0.5, 0]);
  });

  it.each([
    [{ a: 'A9', x: 1, y: 1 }, /a record's a holds a value outside its schema domain/],
    [{ a: 'A1', x: 31, y: 1 }, /a record's x is not a whole number in -10\.\.30/],
    [{ a: 'A1', x: 1.5, y: 1 }, /x is not a whole number/],
    [{ a: 'A1', y: 1 }, /a record's x is missing/],
    [{ a: 'A1', x: 1, y: 'many' }, /a record's y is not a whole number in -100\.\.100/],
  ])('refuses %j', (rec, pattern) => {
    const e = fedstatErrorOf(() => encodeRecord(coding, rec));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toMatch(pattern);
    expect(e.message).not.toMatch(/A9|31|1\.5|many/); // never the value itself
  });
});

describe('ModelCoding as JSON', () => {
  it('survives JSON and is accepted by checkModelCoding; any edit is refused by field', () => {
    const coding = codeModel(
      parseFormula("insured == '是' ~ age + sex + sector + age:sex + offset_days", INSURANCE, 'si'),
      INSURANCE,
      'binomial',
      'si',
    );
    const json = JSON.parse(JSON.stringify(coding)) as Record<string, unknown>;
    expect(checkModelCoding(json, INSURANCE, 'si')).toEqual(coding);
    const tampered = JSON.parse(JSON.stringify(coding)) as { terms: { factors: { center?: number }[] }[] };
    tampered.terms[0]!.factors[0]!.center = 1;
    expect(fedstatErrorOf(() => checkModelCoding(tampered, INSURANCE, 'si')).message).toMatch(/"terms" does not match/);
    expect(
      fedstatErrorOf(() => checkModelCoding({ ...json, eta: { min: -30, max: 31 } }, INSURANCE, 'si')).details['field'],
    ).toBe('eta');
    expect(fedstatErrorOf(() => checkModelCoding({ ...json, extra: 1 }, INSURANCE, 'si')).details['field']).toBe(
      'extra',
    );
    expect(
      fedstatErrorOf(() => checkModelCoding({ ...json, formula: 'insured ~ citizen_id' }, INSURANCE, 'si')).message,
    ).toMatch(/identifier/);
  });
});

/** A random valid record for the coding's dataset (integers often at their bounds). */
function randomRecord(schema: DatasetSchema, rand: () => number): DataRecord {
  const rec: Record<string, string | number> = {};
  for (const [name, c] of Object.entries(schema.columns)) {
    if (c.type === 'category') rec[name] = c.values[Math.floor(rand() * c.values.length)] as string;
    if (c.type === 'integer') {
      const u = rand();
      rec[name] = u < 0.2 ? c.min : u < 0.4 ? c.max : c.min + Math.floor(rand() * (c.max - c.min + 1));
    }
  }
  return rec;
}

/** The design vector on the original scale, computed directly: products of indicators and raw integers. */
function originalVector(coding: ModelCoding, rec: DataRecord): number[] {
  return coding.columns.map((c) => {
    const term = coding.terms[c.term];
    if (term === undefined) return 1;
    return term.factors.reduce(
      (p, x, k) =>
        x.kind === 'integer' ? p * Number(rec[x.column]) : p * (rec[x.column] === x.values[c.levels[k] ?? -1] ? 1 : 0),
      1,
    );
  });
}

describe('the design, over random schemas and formulas', () => {
  it('keeps every entry within |x_j| ≤ 1, with at most terms + 1 non-zero entries (the DP bound)', () => {
    fc.assert(
      fc.property(fitScenarioArb, fc.integer(), (s, seed) => {
        const coding = codeModel(parseFormula(s.formula, s.schema), s.schema, s.family);
        const rand = prng(seed);
        for (let i = 0; i < 30; i++) {
          const x = designVector(coding, randomRecord(s.schema, rand));
          expect(x.every((v) => Math.abs(v) <= 1)).toBe(true);
          expect(x.filter((v) => v !== 0).length).toBeLessThanOrEqual(coding.terms.length + 1);
        }
      }),
      { numRuns: runs(100) },
    );
  });

  it('maps scaled coefficients back exactly: x′·β′ = x·(Mᵀβ′) on every record', () => {
    fc.assert(
      fc.property(fitScenarioArb, fc.integer(), (s, seed) => {
        const coding = codeModel(parseFormula(s.formula, s.schema), s.schema, s.family);
        const d = coding.columns.length;
        const rand = prng(seed);
        const betaScaled = coding.columns.map(() => rand() * 4 - 2);
        const m = scalingOf(coding);
        const beta = coding.columns.map((_, j) =>
          betaScaled.reduce((sum, b, i) => sum + (m[i * d + j] as number) * b, 0),
        );
        for (let i = 0; i < 20; i++) {
          const rec = randomRecord(s.schema, rand);
          const etaScaled = Array.from(designVector(coding, rec)).reduce(
            (sum, v, j) => sum + v * (betaScaled[j] as number),
            0,
          );
          const x = originalVector(coding, rec);
          const eta = x.reduce((sum, v, j) => sum + v * (beta[j] as number), 0);
          const scale = x.reduce((sum, v, j) => sum + Math.abs(v * (beta[j] as number)), 0);
          expect(Math.abs(eta - etaScaled)).toBeLessThanOrEqual(1e-12 * Math.max(1, scale));
        }
      }),
      { numRuns: runs(100) },
    );
  });

  it('centres a term only where the lower-order columns exist', () => {
    expect(coded('y ~ x + a + x:a').terms.map((t) => t.centred)).toEqual([true, false, true]);
    expect(coded('y ~ a + x:a').terms.map((t) => t.centred)).toEqual([false, false]);
    expect(coded('y ~ x - 1').terms.map((t) => t.centred)).toEqual([false]);
    expect(coded('y ~ x + z + x:z').terms.map((t) => t.centred)).toEqual([true, true, true]);
    expect(coded('y ~ x:z').terms.map((t) => t.centred)).toEqual([false]);
    const f = coded('y ~ x:z').terms[0]!.factors;
    expect(f.map((x) => (x.kind === 'integer' ? [x.center, x.scale] : null))).toEqual([
      [0, 30],
      [0, 8],
    ]);
  });
});

it('ABC is the R example schema', () => {
  expect(Object.keys(ABC.columns)).toEqual(['a', 'b', 'c', 'x', 'z', 'y']);
});
