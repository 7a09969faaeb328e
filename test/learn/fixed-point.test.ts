/**
 * The fixed-point encoding of a round's sums (src/learn/fixed-point.ts): agencies' encoded sums,
 * masked with secure-aggregation-style masks that cancel mod t and added mod t, decode to the
 * float total within the plan's error bound; fits through the encoding equal the float fits; the
 * extremes of the bounds decode exactly, the bound is not vacuous, and impossible plans refuse.
 * FEDSTAT_FIXED_POINT_RUNS sets the number of property runs (the long form).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { addSlotsModT } from '../../src/he/packing.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import type { FamilyName } from '../../src/learn/family.js';
import { decodeGlmTotal, encodeGlmSums, planGlmEncoding } from '../../src/learn/fixed-point.js';
import type { FixedPointOptions, GlmEncodingPlan, SumKind } from '../../src/learn/fixed-point.js';
import { parseFormula } from '../../src/learn/formula.js';
import { encodeRows, fitWithSums, sumsOfRows } from '../../src/learn/pooled-fit.js';
import type { GlmFit } from '../../src/learn/pooled-fit.js';
import { recordBounds } from '../../src/learn/record-bounds.js';
import { addSums, emptySums } from '../../src/learn/sums.js';
import type { GlmSums } from '../../src/learn/sums.js';
import { fitScenarioArb, prng } from './arbitraries.js';
import type { FitScenario } from './arbitraries.js';

/** The 60-bit batching prime of BFV_N8192_T60 (test/he/bfv.test.ts checks SEAL picks it). */
const T60 = 1152921504606830593n;
const T40 = (1n << 40n) - 87n;
const KINDS: readonly SumKind[] = ['n', 'gradient', 'information', 'deviance', 'saturated'];

function runs(defaultRuns: number): number {
  const env = Number(process.env['FEDSTAT_FIXED_POINT_RUNS']);
  return Number.isSafeInteger(env) && env > 0 ? env : defaultRuns;
}

function codingOf(s: FitScenario): ModelCoding {
  return codeModel(parseFormula(s.formula, s.schema, 'd'), s.schema, s.family, 'd');
}

/** `resp ~ c` with a d-level category: d coefficients (intercept and d − 1 dummies). */
function codingWith(d: number, family: FamilyName): ModelCoding {
  const resp =
    family === 'binomial'
      ? { type: 'integer', min: 0, max: 1 }
      : family === 'poisson'
        ? { type: 'integer', min: 0, max: 400 }
        : { type: 'integer', min: -300, max: 300 };
  const values = Array.from({ length: d }, (_, i) => `l${i}`);
  const columns = { id: { type: 'id', format: 'text' }, resp, c: { type: 'category', values } };
  const schema = parseSchema({ datasets: { d: { columns } } }, 'fixed-point.json').datasets['d'] as DatasetSchema;
  return codeModel(parseFormula('resp ~ c', schema, 'd'), schema, family, 'd');
}

function entriesOf(d: number): number {
  return (d * (d + 1)) / 2 + d + 3;
}

function randomMod(rand: () => number, t: bigint): bigint {
  const hi = BigInt(Math.floor(rand() * 2 ** 32));
  const lo = BigInt(Math.floor(rand() * 2 ** 32));
  return ((hi << 32n) | lo) % t;
}

/** Σ (v_i + r_i) mod t with uniform-looking masks r_i mod t that sum to 0, as secure aggregation adds them. */
function aggregate(vectors: readonly BigUint64Array[], t: bigint, seed: number): BigUint64Array {
  const rand = prng(seed);
  const length = (vectors[0] as BigUint64Array).length;
  const rest = new BigUint64Array(length);
  const masked = vectors.map((v, i) => {
    const mask = new BigUint64Array(length);
    for (let s = 0; s < length; s++) {
      mask[s] = i === vectors.length - 1 ? (t - (rest[s] as bigint)) % t : randomMod(rand, t);
      rest[s] = ((rest[s] as bigint) + (mask[s] as bigint)) % t;
    }
    return addSlotsModT(v, mask, t);
  });
  return masked.reduce((a, b) => addSlotsModT(a, b, t));
}

function valuesOf(s: GlmSums, kind: SumKind): number[] {
  if (kind === 'gradient') return Array.from(s.gradient);
  if (kind === 'information') return Array.from(s.information);
  return [kind === 'n' ? s.n : kind === 'deviance' ? s.deviance : s.saturated];
}

/** |decoded − expected| within the plan's error bound plus float rounding of the sums themselves. */
function expectWithinBound(decoded: GlmSums, expected: GlmSums, plan: GlmEncodingPlan): void {
  for (const kind of KINDS) {
    const k = plan.kinds[kind];
    const got = valuesOf(decoded, kind);
    const want = valuesOf(expected, kind);
    want.forEach((w, i) => {
      const rounding = 1e-14 * (Math.abs(w) + expected.n * k.recordBound);
      if (kind === 'n') expect(got[i]).toBe(w);
      else expect(Math.abs((got[i] as number) - w), `${kind} ${i}`).toBeLessThanOrEqual(k.errorBound + rounding);
    });
  }
}

/** Sums of `rows` rows each adding sign·b to every entry (n = rows): the extreme of the bounds. */
function extremeSums(plan: GlmEncodingPlan, rows: number, sign: 1 | -1): GlmSums {
  const s = emptySums(plan.coefficients);
  s.n = rows;
  s.gradient.fill(sign * rows * plan.kinds.gradient.recordBound);
  s.information.fill(sign * rows * plan.kinds.information.recordBound);
  s.deviance = sign * rows * plan.kinds.deviance.recordBound;
  s.saturated = sign * rows * plan.kinds.saturated.recordBound;
  return s;
}

function caught(fn: () => unknown): FedstatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FedstatError) return e;
    throw e;
  }
  throw new Error('expected a FedstatError');
}

function attempt(fn: () => GlmFit): GlmFit | FedstatError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FedstatError) return e;
    throw e;
  }
}

function close(a: number, b: number, rel: number, scale = 0): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), scale);
}

describe('agencies’ encoded, masked sums decode to the float total', () => {
  it('within the proven error bound, for random codings, partitions, limb counts and planned agencies', () => {
    fc.assert(
      fc.property(
        fitScenarioArb,
        fc.integer(),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(0, 1e3, 1e6, 1e7),
        fc.integer({ min: 1, max: 3 }),
        (s, seed, spare, rowsPlanned, slotFactor) => {
          const coding = codingOf(s);
          const rand = prng(seed);
          const beta = coding.columns.map(() => rand() - 0.5);
          const parts = Array.from({ length: s.parts }, (_, p) =>
            sumsOfRows(
              coding,
              encodeRows(
                coding,
                s.rows.filter((_, i) => s.partition[i] === p),
              ),
              beta,
            ),
          );
          const maxRows = Math.max(rowsPlanned, ...parts.map((p) => p.n), 1);
          const options: FixedPointOptions = { slotsPerCiphertext: entriesOf(coding.columns.length) * slotFactor };
          const plan = planGlmEncoding(coding, recordBounds(coding, beta), maxRows, s.parts + spare, T60, options);
          expect(plan.limbs).toBeLessThanOrEqual(slotFactor);
          const total = aggregate(
            parts.map((p) => encodeGlmSums(p, plan)),
            T60,
            seed,
          );
          expectWithinBound(decodeGlmTotal(total, plan), parts.reduce(addSums), plan);
        },
      ),
      { numRuns: runs(40) },
    );
  });
});

describe('a fit through the encoding', () => {
  it('equals the float fit to 1e-9 relative in coefficients and standard errors', () => {
    let fitted = 0;
    fc.assert(
      fc.property(
        fitScenarioArb,
        fc.integer(),
        fc.constantFrom<[number, boolean]>([1, true], [100, true], [1e6, false], [1e7, false]),
        (s, seed, [rowsFactor, oneLimb]) => {
          const coding = codingOf(s);
          const parts = Array.from({ length: s.parts }, (_, p) =>
            encodeRows(
              coding,
              s.rows.filter((_, i) => s.partition[i] === p),
            ),
          );
          const biggest = Math.max(1, ...parts.map((p) => p.y.length));
          // One limb: the coarsest encoding, with maxRows within 100× the rows; else the default budget.
          const maxRows = oneLimb ? biggest * rowsFactor : rowsFactor;
          const options: FixedPointOptions = oneLimb ? { slotsPerCiphertext: entriesOf(coding.columns.length) } : {};
          const fitOptions = { ridge: s.ridge, tolerance: 1e-10 };
          const float = attempt(() =>
            fitWithSums(
              coding,
              (beta) => parts.map((rows) => sumsOfRows(coding, rows, beta)).reduce(addSums),
              fitOptions,
            ),
          );
          let round = 0;
          const fixed = attempt(() =>
            fitWithSums(
              coding,
              (beta) => {
                const plan = planGlmEncoding(coding, recordBounds(coding, beta), maxRows, s.parts, T60, options);
                const slots = parts.map((rows) => encodeGlmSums(sumsOfRows(coding, rows, beta), plan));
                return decodeGlmTotal(aggregate(slots, T60, seed + round++), plan);
              },
              fitOptions,
            ),
          );
          if (float instanceof FedstatError || fixed instanceof FedstatError) {
            expect(fixed instanceof FedstatError && float instanceof FedstatError).toBe(true);
            expect((fixed as FedstatError).code).toBe((float as FedstatError).code);
            return;
          }
          fitted++;
          float.table.terms.forEach((p, j) => {
            const f = fixed.table.terms[j]!;
            expect(close(f.estimate, p.estimate, 1e-9, p.stderr), `${p.term} ${f.estimate} vs ${p.estimate}`).toBe(
              true,
            );
            expect(close(f.stderr, p.stderr, 1e-9), `${p.term} stderr ${f.stderr} vs ${p.stderr}`).toBe(true);
          });
          expect(close(fixed.table.deviance, float.table.deviance, 1e-9, 1e-9)).toBe(true);
          expect(fixed.table.n).toBe(float.table.n);
        },
      ),
      { numRuns: runs(20) },
    );
    expect(fitted).toBeGreaterThan(0);
  });
});

describe('the bound', () => {
  const cases: [string, ModelCoding, bigint, FixedPointOptions][] = [
    ['binomial, one limb, t60', codingWith(11, 'binomial'), T60, { slotsPerCiphertext: entriesOf(11) }],
    ['poisson, default budget, t60', codingWith(11, 'poisson'), T60, {}],
    ['poisson, t40', codingWith(5, 'poisson'), T40, {}],
  ];
  it.each(cases)('holds at the extremes (%s): every agency at +b or −b per row decodes exactly', (_, coding, t, o) => {
    const agencies = 9;
    const maxRows = 1_000_000;
    const plan = planGlmEncoding(coding, recordBounds(coding), maxRows, agencies, t, o);
    if (t === T40) expect(plan.limbs).toBeGreaterThan(1);
    for (const signs of [[1], [-1], [1, -1]] as const) {
      const sums = Array.from({ length: agencies }, (_, a) => extremeSums(plan, maxRows, signs[a % signs.length]!));
      const decoded = decodeGlmTotal(
        aggregate(
          sums.map((x) => encodeGlmSums(x, plan)),
          t,
          7,
        ),
        plan,
      );
      expectWithinBound(decoded, sums.reduce(addSums), plan);
    }
  });

  it('is not vacuous: f is the most that fits, twice the rows cost a bit, a bit more wraps', () => {
    const coding = codingWith(11, 'binomial');
    const options = { slotsPerCiphertext: entriesOf(11) }; // one limb
    const agencies = 64;
    const maxRows = 10_000_000;
    const plan = planGlmEncoding(coding, recordBounds(coding), maxRows, agencies, T60, options);
    const info = plan.kinds.information;
    expect(plan.limbs).toBe(1);
    expect(plan.proof.join('\n')).toContain('f + 1 would not fit');
    // The planned worst case uses more than half of what a slot can hold: A·C > H/2.
    expect(BigInt(agencies) * info.agencyBound * 2n).toBeGreaterThan((T60 - 1n) / 2n);
    const doubled = planGlmEncoding(coding, recordBounds(coding), 2 * maxRows, agencies, T60, options);
    expect(doubled.kinds.information.fractionalBits).toBe(info.fractionalBits - 1);
    // An agency past maxRows is refused rather than allowed to wrap.
    expect(caught(() => encodeGlmSums(extremeSums(plan, maxRows + 1, 1), plan)).code).toBe('DATA_INVALID');
    // A plan one bit greedier than the proof allows: the same extremes wrap.
    const greedy: GlmEncodingPlan = {
      ...plan,
      kinds: Object.fromEntries(
        KINDS.map((k) => {
          const e = plan.kinds[k];
          if (k === 'n' || e.recordBound === 0) return [k, e];
          return [
            k,
            {
              ...e,
              fractionalBits: e.fractionalBits + 1,
              agencyBound: 2n * e.agencyBound,
              topLimbBound: 2n * e.topLimbBound,
            },
          ];
        }),
      ) as GlmEncodingPlan['kinds'],
    };
    const sums = Array.from({ length: agencies }, () => extremeSums(plan, maxRows, 1));
    const slots = aggregate(
      sums.map((x) => encodeGlmSums(x, greedy)),
      T60,
      3,
    );
    const wrapped = decodeGlmTotal(slots, greedy);
    const expected = agencies * maxRows * info.recordBound;
    expect(wrapped.information[0]).toBeLessThan(0);
    expect(Math.abs((wrapped.information[0] as number) - expected)).toBeGreaterThan(1e6);
    // The honest plan sees those slots as implausible rather than decoding them.
    expect(caught(() => decodeGlmTotal(slots, plan)).code).toBe('BAD_MESSAGE');
  });
});

describe('plans that cannot be made', () => {
  it('refuse a model whose sums do not fit the slot budget, saying how many coefficients fit', () => {
    const coding = codingWith(40, 'binomial');
    const e = caught(() => planGlmEncoding(coding, recordBounds(coding), 1000, 5, T60, { slotsPerCiphertext: 512 }));
    expect(e.code).toBe('PLAN_UNSAFE');
    expect(e.message).toContain('40 coefficients has 863 sums');
    expect(e.message).toContain('at most 30 coefficients fit');
    expect(e.details).toMatchObject({ coefficients: 40, maxCoefficients: 30 });
    // The default budget, one ciphertext of 8192 slots, holds d = 120 (7,383 sums) in one limb.
    const big = codingWith(120, 'binomial');
    expect(planGlmEncoding(big, recordBounds(big), 1e7, 64, T60)).toMatchObject({ limbs: 1, slotsUsed: 7383 });
  });

  it('refuse a precision that the budget cannot give, naming the entry kind', () => {
    const coding = codingWith(20, 'poisson');
    const options = { slotsPerCiphertext: entriesOf(20) };
    const e = caught(() => planGlmEncoding(coding, recordBounds(coding), 1e7, 64, T40, options));
    expect(e.code).toBe('PLAN_UNSAFE');
    expect(e.message).toMatch(
      /^the gradient sums \(each row adds up to [\d.]+, up to 10000000 rows at each of 64 agencies\) need \d+ fractional bits/,
    );
    expect(e.details).toMatchObject({ kind: 'gradient', limbs: 1 });
    // More slots (limbs) make the same plan possible.
    expect(
      planGlmEncoding(coding, recordBounds(coding), 1e7, 64, T40, { slotsPerCiphertext: 8192 }).limbs,
    ).toBeGreaterThan(1);
    expect(caught(() => planGlmEncoding(coding, recordBounds(coding), 10, 2 ** 20, 1n << 20n)).code).toBe(
      'PLAN_UNSAFE',
    );
  });
});

describe('encoding and decoding refuse what voids the proof', () => {
  const coding = codingWith(4, 'binomial');
  const plan = planGlmEncoding(coding, recordBounds(coding), 100, 3, T60);

  it('an agency’s non-finite or out-of-bound entry is DATA_INVALID, naming the entry only', () => {
    const s = emptySums(4);
    s.gradient[2] = Number.NaN;
    expect(caught(() => encodeGlmSums(s, plan)).message).toMatch(
      /^gradient entry 2 of this agency's round sums is not/,
    );
    s.gradient[2] = 101;
    expect(caught(() => encodeGlmSums(s, plan)).details).toEqual({ kind: 'gradient', entry: 2 });
    s.gradient[2] = 0;
    s.n = 101;
    expect(caught(() => encodeGlmSums(s, plan)).code).toBe('DATA_INVALID');
    expect(() => encodeGlmSums(emptySums(5), plan)).toThrow(RangeError);
  });

  it('decrypted slots beyond what the agencies can total, or stray unused slots, are BAD_MESSAGE', () => {
    // More agencies than planned: four full counts exceed the three planned (one limb: n's slot is n).
    const narrow = planGlmEncoding(coding, recordBounds(coding), 100, 3, T60, { slotsPerCiphertext: entriesOf(4) });
    const full = encodeGlmSums(extremeSums(narrow, 100, 1), narrow);
    expect(decodeGlmTotal(aggregate([full, full, full], T60, 1), narrow).n).toBe(300);
    expect(caught(() => decodeGlmTotal(aggregate([full, full, full, full], T60, 1), narrow)).code).toBe('BAD_MESSAGE');
    const one = encodeGlmSums(extremeSums(plan, 100, 1), plan);
    const stray = aggregate([one], T60, 1);
    stray[plan.slotsUsed] = 1n;
    expect(caught(() => decodeGlmTotal(stray, plan)).code).toBe('BAD_MESSAGE');
    const rand = prng(5);
    const garbage = new BigUint64Array(one.length).map(() => randomMod(rand, T60));
    expect(caught(() => decodeGlmTotal(garbage, plan)).code).toBe('BAD_MESSAGE');
  });
});
