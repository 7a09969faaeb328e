/**
 * The integer vector of a federated-averaging round (src/learn/fl/fl-encoding.ts): for random
 * plans, exact and DP, the slots of any number of agencies up to the planned one, with data and
 * noise anywhere up to their bounds, sum mod t and decode to exactly the plaintext total over
 * 2^f; a value past its bound is DATA_INVALID naming the kind, a total past the plan BAD_MESSAGE;
 * plans that could wrap, overflow 2^53, need too many ciphertexts or too much noise work are
 * PLAN_UNSAFE; ρ is shared out whole within each group of kinds. Randomly rounded updates of five
 * agencies, two dropped, decode to the survivors' sum exactly. FEDSTAT_LEARN_RUNS sets the runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, compare, rational, ZERO, type Rational } from '../../../src/dp/rational.js';
import {
  AUC_BINS,
  decodeFlTotal,
  drawFlNoise,
  encodeFlUnits,
  FL_KINDS,
  flNoiseVariance,
  planFlEncoding,
  type FlEncodingInputs,
  type FlEncodingPlan,
  type FlKind,
} from '../../../src/learn/fl/fl-encoding.js';
import { RoundingStream } from '../../../src/learn/fl/rounding-stream.js';
import { fedstatErrorOf } from '../../helpers/fedstat-error.js';
import { SeededRandom } from '../../helpers/seeded-random.js';
import { prng, runs } from '../arbitraries.js';

/** The 60-bit batching prime of BFV_N8192_T60 (test/he/bfv.test.ts checks SEAL picks it). */
const T60 = 1152921504606830593n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const BASE: FlEncodingInputs = {
  parameters: 40,
  output: 'binary',
  validation: true,
  updateBound: 1,
  maxRows: 10_000,
  agencies: 3,
  plainModulus: T60,
  slotsPerCiphertext: 8192,
  maxCiphertexts: 32,
  privacy: null,
};

/** Random plan inputs, exact or DP (ρ from 1/1000 to 10, threshold up to the agencies). */
const inputsArb: fc.Arbitrary<FlEncodingInputs> = fc
  .record({
    parameters: fc.integer({ min: 1, max: 600 }),
    output: fc.constantFrom<'binary' | 'regression'>('binary', 'regression'),
    validation: fc.boolean(),
    updateBound: fc.double({ min: 1e-3, max: 100, noNaN: true }),
    maxRows: fc.integer({ min: 1, max: 2_000_000 }),
    agencies: fc.integer({ min: 1, max: 12 }),
    dp: fc.option(
      fc.record({ rho: fc.integer({ min: 1, max: 10_000 }), t: fc.double({ min: 0, max: 1, noNaN: true }) }),
    ),
  })
  .map(({ dp, ...i }) => ({
    ...i,
    plainModulus: T60,
    slotsPerCiphertext: 8192,
    maxCiphertexts: 32,
    privacy:
      dp === null
        ? null
        : { rho: rational(dp.rho, 1000), threshold: 1 + Math.min(i.agencies - 1, Math.floor(dp.t * i.agencies)) },
  }));

/** The plan, or null when it is refused as unsafe (the property then does not apply). */
function tryPlan(inputs: FlEncodingInputs): FlEncodingPlan | null {
  try {
    return planFlEncoding(inputs);
  } catch (e) {
    if ((e as { code?: string }).code === 'PLAN_UNSAFE') return null;
    throw e;
  }
}

/** A uniform bigint in [−b, b] from `rnd`, or one of the ends a quarter of the time each. */
function within(rnd: () => number, b: bigint): bigint {
  const u = rnd();
  if (u < 0.25) return b;
  if (u < 0.5) return -b;
  const x = (BigInt(Math.floor(rnd() * 2 ** 30)) << 30n) | BigInt(Math.floor(rnd() * 2 ** 30));
  return (x % (2n * b + 1n)) - b;
}

/** One agency's values and noise for `plan`, anywhere up to their bounds. */
function contribution(plan: FlEncodingPlan, rnd: () => number): { values: Float64Array; noise?: BigInt64Array } {
  const values = new Float64Array(plan.entries);
  const noise = plan.inputs.privacy === null ? undefined : new BigInt64Array(plan.entries);
  for (const kind of FL_KINDS) {
    const k = plan.kinds[kind];
    for (let i = k.firstEntry; i < k.firstEntry + k.entries; i++) {
      values[i] = Number(within(rnd, k.dataBound));
      if (noise !== undefined) noise[i] = within(rnd, k.noise?.agencyNoiseBound ?? 0n);
    }
  }
  return noise === undefined ? { values } : { values, noise };
}

/** Σ slots mod t, as the decryption of the masked, encrypted sum gives it. */
function sumSlots(slots: readonly BigUint64Array[], t: bigint): BigUint64Array {
  const out = new BigUint64Array(slots[0]?.length ?? 0);
  for (const s of slots) for (let i = 0; i < s.length; i++) out[i] = ((out[i] as bigint) + (s[i] as bigint)) % t;
  return out;
}

/** The decoded kind's entries, in slot order, with the histogram split back together. */
function decodedKind(totals: ReturnType<typeof decodeFlTotal>, kind: FlKind): number[] {
  if (kind === 'update') return Array.from(totals.update);
  if (kind === 'histogram') return [...totals.positives, ...totals.negatives];
  return [totals[kind]];
}

describe('planFlEncoding', () => {
  it('keeps every kind below t/2 for the planned agencies and every agency value a safe integer', () => {
    fc.assert(
      fc.property(inputsArb, (inputs) => {
        const plan = tryPlan(inputs);
        fc.pre(plan !== null);
        const half = T60 / 2n;
        let next = 0;
        for (const kind of FL_KINDS) {
          const k = plan.kinds[kind];
          expect(k.firstEntry).toBe(next);
          next += k.entries;
          expect(k.dataBound <= MAX_SAFE).toBe(true);
          const room = k.noise?.agencyNoiseBound ?? 0n;
          expect(BigInt(inputs.agencies) * (k.dataBound + room) < half).toBe(true);
          expect(k.noise === null).toBe(inputs.privacy === null || k.entries === 0);
        }
        expect(plan.entries).toBe(next);
        expect(plan.kinds.update.entries).toBe(inputs.parameters);
        expect(plan.kinds.histogram.entries).toBe(inputs.validation && inputs.output === 'binary' ? 2 * AUC_BINS : 0);
        expect(plan.ciphertextCount).toBe(Math.ceil(next / 8192));
        expect(plan.noiseWork === 0n).toBe(inputs.privacy === null);
      }),
      { numRuns: runs(60) },
    );
  });

  it("gives each group of kinds the round's whole ρ, split by weight (update 16 : 1 : 1; 1 : 1 : 2)", () => {
    fc.assert(
      fc.property(inputsArb, (inputs) => {
        fc.pre(inputs.privacy !== null);
        const plan = tryPlan(inputs);
        fc.pre(plan !== null && plan.inputs.privacy !== null);
        const rho = plan.inputs.privacy.rho;
        const sum = (kinds: FlKind[]): Rational =>
          kinds.reduce((s, k) => add(s, plan.kinds[k].noise?.rho ?? ZERO), ZERO);
        expect(compare(sum(['update', 'examples', 'loss']), rho)).toBe(0);
        expect(compare(sum(['validationCount', 'validationLoss', 'histogram']), inputs.validation ? rho : ZERO)).toBe(
          0,
        );
        const share = (k: FlKind): Rational => plan.kinds[k].noise?.rho ?? ZERO;
        expect(compare(share('update'), rational(rho.num * 16n, rho.den * 18n))).toBe(0);
        if (inputs.validation) {
          const weight = inputs.output === 'binary' ? 4n : 2n;
          expect(compare(share('validationLoss'), rational(rho.num, rho.den * weight))).toBe(0);
        }
      }),
      { numRuns: runs(40) },
    );
  });

  it('gives an exact 100k-row plan an update bound below 2^53 (an agency computes it in doubles)', () => {
    // 10^5 rows × U = 10 at 2^37 would be 1.4·10^17: an update coordinate of 0.66 would not be a safe integer.
    const plan = planFlEncoding({ ...BASE, maxRows: 100_000, updateBound: 10 });
    expect(plan.kinds.update.dataBound <= MAX_SAFE).toBe(true);
    const n = 100_000;
    const value = Math.round(n * 10 * 2 ** plan.kinds.update.fractionalBits) - 1;
    const values = new Float64Array(plan.entries);
    values[0] = value;
    expect(() => encodeFlUnits(values, plan)).not.toThrow();
  });

  it('takes fewer exact loss bits where maxRows capped losses would pass 2^53: the seed scenario, the default', () => {
    for (const [maxRows, bits] of [
      [10_000, 24],
      [50_000_000, 23],
      [1_000_000_000, 19],
    ] as const) {
      const plan = planFlEncoding({ ...BASE, maxRows });
      expect(plan.kinds.loss.fractionalBits).toBe(bits);
      expect(plan.kinds.validationLoss.fractionalBits).toBe(bits);
      expect(plan.kinds.loss.dataBound <= MAX_SAFE).toBe(true);
      expect(plan.kinds.loss.dataBound * 2n > MAX_SAFE || bits === 24).toBe(true);
    }
  });

  it('refuses (PLAN_UNSAFE) too many parameters, too many agencies, 2^53 overflows and too much noise work', () => {
    const tooBig = fedstatErrorOf(() => planFlEncoding({ ...BASE, parameters: 8192 * 2, maxCiphertexts: 2 }));
    expect(tooBig.code).toBe('PLAN_UNSAFE');
    expect(tooBig.message).toMatch(/needs 3 ciphertexts per agency, more than the 2 allowed; use a smaller model/);
    // exact: no fractional bits ≥ 12 leave room for this many agencies' weighted updates
    const wide = fedstatErrorOf(() => planFlEncoding({ ...BASE, agencies: 2 ** 30, maxRows: 1_000_000 }));
    expect(wide.code).toBe('PLAN_UNSAFE');
    expect(wide.message).toMatch(/too large for the plain modulus/);
    // DP: a small plain modulus wraps at the first kind whose totals do not fit
    const dp = { rho: rational(1, 10), threshold: 2 };
    const wrap = fedstatErrorOf(() => planFlEncoding({ ...BASE, plainModulus: 1n << 20n, privacy: dp }));
    expect(wrap.code).toBe('PLAN_UNSAFE');
    expect(wrap.details['kind']).toBe('update');
    expect(wrap.message).toMatch(/the update entries of 3 agencies could wrap the plain modulus/);
    // a DP update summed over 2^48 records of 66 units each would leave 2^53
    const safe = fedstatErrorOf(() => planFlEncoding({ ...BASE, maxRows: 2 ** 48, privacy: dp }));
    expect(safe.code).toBe('PLAN_UNSAFE');
    expect(safe.details['kind']).toBe('update');
    expect(safe.message).toMatch(/could exceed 2\^53/);
    const work = fedstatErrorOf(() =>
      planFlEncoding({ ...BASE, parameters: 100_000, privacy: { rho: rational(1, 1000), threshold: 2 } }),
    );
    expect(work.code).toBe('PLAN_UNSAFE');
    expect(work.message).toMatch(/sampler steps at each agency .* raise rho/);
  });

  it('refuses malformed inputs with a RangeError naming them', () => {
    expect(() => planFlEncoding({ ...BASE, parameters: 0 })).toThrow(/parameters/);
    expect(() => planFlEncoding({ ...BASE, updateBound: Number.NaN })).toThrow(/updateBound/);
    expect(() => planFlEncoding({ ...BASE, privacy: { rho: rational(0), threshold: 1 } })).toThrow(/rho/);
    expect(() => planFlEncoding({ ...BASE, privacy: { rho: rational(1), threshold: 4 } })).toThrow(/threshold/);
  });
});

describe('encodeFlUnits and decodeFlTotal', () => {
  it('decode the sum mod t of 1..agencies contributions to exactly the plaintext total over 2^f', () => {
    fc.assert(
      fc.property(inputsArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), (inputs, share, seed) => {
        const plan = tryPlan(inputs);
        fc.pre(plan !== null);
        const rnd = prng(seed);
        const k = 1 + Math.min(inputs.agencies - 1, Math.floor(share * inputs.agencies));
        const parts = Array.from({ length: k }, () => contribution(plan, rnd));
        const slots = parts.map((c) => encodeFlUnits(c.values, plan, c.noise));
        for (const s of slots) {
          expect(s.length).toBe(plan.ciphertextCount * 8192);
          expect(s.every((v, i) => v < T60 && (i < plan.entries || v === 0n))).toBe(true);
        }
        const totals = decodeFlTotal(sumSlots(slots, T60), plan);
        for (const kind of FL_KINDS) {
          const kp = plan.kinds[kind];
          const got = decodedKind(totals, kind);
          expect(got.length).toBe(kind === 'update' || kind === 'histogram' ? kp.entries : 1);
          for (let i = 0; i < kp.entries; i++) {
            let exact = 0n;
            for (const c of parts)
              exact += BigInt(c.values[kp.firstEntry + i] as number) + (c.noise?.[kp.firstEntry + i] ?? 0n);
            expect(got[i]).toBe(Number(exact) * 2 ** -kp.fractionalBits);
          }
        }
      }),
      { numRuns: runs(40) },
    );
  });

  it("refuses (DATA_INVALID, naming the kind only) a value past its kind's bound or not an integer", () => {
    const plans = [planFlEncoding(BASE), planFlEncoding({ ...BASE, privacy: { rho: rational(1, 10), threshold: 2 } })];
    for (const plan of plans) {
      const noise = plan.inputs.privacy === null ? undefined : new BigInt64Array(plan.entries);
      for (const kind of FL_KINDS) {
        const k = plan.kinds[kind];
        if (k.entries === 0) continue;
        for (const bad of [Number(k.dataBound) + 1, -Number(k.dataBound) - 1, 0.5]) {
          const values = new Float64Array(plan.entries);
          values[k.firstEntry + k.entries - 1] = bad;
          const e = fedstatErrorOf(() => encodeFlUnits(values, plan, noise));
          expect(e.code).toBe('DATA_INVALID');
          expect(e.details['kind']).toBe(kind);
          expect(e.message).toContain(kind);
          expect(e.message).not.toContain(String(bad));
        }
        const values = new Float64Array(plan.entries);
        values[k.firstEntry] = -Number(k.dataBound);
        expect(() => encodeFlUnits(values, plan, noise)).not.toThrow();
      }
    }
  });

  it('refuses noise that is missing, superfluous or past its tail bound', () => {
    const exact = planFlEncoding(BASE);
    const dp = planFlEncoding({ ...BASE, privacy: { rho: rational(1, 10), threshold: 2 } });
    expect(() => encodeFlUnits(new Float64Array(exact.entries), exact, new BigInt64Array(exact.entries))).toThrow(
      RangeError,
    );
    expect(() => encodeFlUnits(new Float64Array(dp.entries), dp)).toThrow(RangeError);
    const noise = new BigInt64Array(dp.entries);
    noise[0] = (dp.kinds.update.noise?.agencyNoiseBound ?? 0n) + 1n;
    expect(() => encodeFlUnits(new Float64Array(dp.entries), dp, noise)).toThrow(/tail bound/);
    expect(() => encodeFlUnits(new Float64Array(dp.entries - 1), dp, noise)).toThrow(RangeError);
  });

  it('refuses (BAD_MESSAGE) a slot total past what the planned agencies can send, or a used unused slot', () => {
    for (const plan of [
      planFlEncoding(BASE),
      planFlEncoding({ ...BASE, output: 'regression', privacy: { rho: rational(3, 10), threshold: 3 } }),
    ]) {
      const width = plan.ciphertextCount * 8192;
      for (const kind of FL_KINDS) {
        const k = plan.kinds[kind];
        if (k.entries === 0) continue;
        const max = 3n * (k.dataBound + (k.noise?.agencyNoiseBound ?? 0n));
        const at = k.firstEntry + k.entries - 1;
        for (const [total, ok] of [
          [max, true],
          [-max, true],
          [max + 1n, false],
          [-max - 1n, false],
        ] as const) {
          const slots = new BigUint64Array(width);
          slots[at] = total < 0n ? T60 + total : total;
          if (ok)
            expect(decodedKind(decodeFlTotal(slots, plan), kind)[k.entries - 1]).toBe(
              Number(total) * 2 ** -k.fractionalBits,
            );
          else expect(fedstatErrorOf(() => decodeFlTotal(slots, plan)).code).toBe('BAD_MESSAGE');
        }
        const beyond = new BigUint64Array(width);
        beyond[at] = T60;
        expect(fedstatErrorOf(() => decodeFlTotal(beyond, plan)).code).toBe('BAD_MESSAGE');
      }
      const stray = new BigUint64Array(width);
      stray[plan.entries] = 1n;
      const e = fedstatErrorOf(() => decodeFlTotal(stray, plan));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.message).toMatch(/check the contributors' keys and signatures/);
      expect(() => decodeFlTotal(new BigUint64Array(width + 1), plan)).toThrow(RangeError);
    }
  });
});

describe('drawFlNoise and flNoiseVariance', () => {
  it('draws one value per entry within each kind’s tail bound, and zero for an exact plan', async () => {
    const plan = planFlEncoding({ ...BASE, privacy: { rho: rational(1, 2), threshold: 2 } });
    const noise = await drawFlNoise(plan, new SeededRandom('fl-noise'));
    expect(noise.length).toBe(plan.entries);
    for (const kind of FL_KINDS) {
      const k = plan.kinds[kind];
      const bound = k.noise?.agencyNoiseBound ?? 0n;
      for (let i = k.firstEntry; i < k.firstEntry + k.entries; i++) {
        const z = noise[i] as bigint;
        expect(z <= bound && -z <= bound).toBe(true);
      }
    }
    expect(noise.some((z) => z !== 0n)).toBe(true);
    await expect(drawFlNoise(planFlEncoding(BASE))).rejects.toThrow(/exact/);
    // 2·(μ/τ)·k·2^−2f in real units: Skellam(m) has variance 2m
    const u = plan.kinds.update;
    const mu = Number(u.noise?.agencyMu.num) / Number(u.noise?.agencyMu.den);
    expect(flNoiseVariance(plan, 'update', 3)).toBe(2 * mu * 3 * 2 ** (-2 * u.fractionalBits));
    expect(flNoiseVariance(planFlEncoding(BASE), 'update', 3)).toBe(0);
  });
});

describe('quantized updates over survivors', () => {
  it('decode to exactly the sum of the survivors’ randomly rounded n·Δ when 2 of 5 agencies drop out', () => {
    const plan = planFlEncoding({ ...BASE, agencies: 5, updateBound: 2, maxRows: 5000 });
    const f = plan.kinds.update.fractionalBits;
    fc.assert(
      fc.property(
        fc.integer(),
        fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { minLength: 2, maxLength: 2 }),
        (seed, dropped) => {
          const rnd = prng(seed);
          const rounding = new RoundingStream(
            Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : Math.floor(rnd() * 256))),
          );
          const agencies = Array.from({ length: 5 }, () => {
            const n = 1 + Math.floor(rnd() * 5000);
            const values = new Float64Array(plan.entries);
            for (let j = 0; j < plan.kinds.update.entries; j++) {
              const delta = (2 * rnd() - 1) * (2 / Math.sqrt(plan.kinds.update.entries));
              values[j] = rounding.round(n * delta * 2 ** f);
              // unbiased rounding moves each value by less than one unit
              expect(Math.abs((values[j] as number) - n * delta * 2 ** f)).toBeLessThan(1);
            }
            values[plan.kinds.examples.firstEntry] = n;
            return values;
          });
          const survivors = agencies.filter((_, a) => !dropped.includes(a));
          const totals = decodeFlTotal(
            sumSlots(
              survivors.map((v) => encodeFlUnits(v, plan)),
              T60,
            ),
            plan,
          );
          for (let j = 0; j < plan.kinds.update.entries; j++) {
            const exact = survivors.reduce((s, v) => s + BigInt(v[j] as number), 0n);
            expect(totals.update[j]).toBe(Number(exact) * 2 ** -f);
          }
          expect(totals.examples).toBe(
            survivors.reduce((s, v) => s + (v[plan.kinds.examples.firstEntry] as number), 0),
          );
        },
      ),
      { numRuns: runs(30) },
    );
  });
});
