/**
 * The fixed-point encoding of a differentially private round (fixed-point.ts with glm-noise.ts):
 * exact plans are bit for bit what they were before privacy existed; a DP plan's total is exactly
 * Σ(round(S·2^f) + noise) for any noise within its tail bound; one row moves the encoded sums by
 * no more than the planned sensitivity; the kinds' ρ shares sum to the round's ρ exactly and each
 * μ meets its share; the noise is not much more than the Gaussian mechanism's; what voids the
 * proof is refused. FEDSTAT_LEARN_RUNS sets the number of property runs (the long form).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256, toHex } from '../../src/crypto/digest.js';
import { composeRho, distributedRho, skellamRho } from '../../src/dp/accountant.js';
import { compare, rational } from '../../src/dp/rational.js';
import type { Rational } from '../../src/dp/rational.js';
import { FedstatError } from '../../src/errors.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import { decodeGlmTotal, encodeGlmSums, planGlmEncoding } from '../../src/learn/fixed-point.js';
import type { GlmEncodingPlan, SumKind } from '../../src/learn/fixed-point.js';
import { parseFormula } from '../../src/learn/formula.js';
import { drawGlmNoise } from '../../src/learn/glm-noise.js';
import { encodeRows, sumsOfRows } from '../../src/learn/pooled-fit.js';
import { recordBounds } from '../../src/learn/record-bounds.js';
import { emptySums } from '../../src/learn/sums.js';
import type { GlmSums } from '../../src/learn/sums.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { fitScenarioArb, prng, runs } from './arbitraries.js';
import type { FitScenario } from './arbitraries.js';
import { aggregateMasked, seededRandom, T60 } from './dp-sim.js';
import { coded, INSURANCE } from './fixtures.js';

const T40 = (1n << 40n) - 87n;
const KINDS: readonly SumKind[] = ['n', 'gradient', 'information', 'deviance', 'saturated'];
const RHOS: readonly Rational[] = [rational(1n, 1000n), rational(1n, 10n), rational(1n), rational(50n)];

function codingOf(s: FitScenario): ModelCoding {
  return codeModel(parseFormula(s.formula, s.schema, 'd'), s.schema, s.family, 'd');
}

function valuesOf(s: GlmSums, kind: SumKind): number[] {
  if (kind === 'gradient') return Array.from(s.gradient);
  if (kind === 'information') return Array.from(s.information);
  return [kind === 'n' ? s.n : kind === 'deviance' ? s.deviance : s.saturated];
}

/** round(S·2^f) of every entry, in entry order, as the encoder computes it. */
function units(sums: GlmSums, plan: GlmEncodingPlan): bigint[] {
  return KINDS.flatMap((k) => valuesOf(sums, k).map((v) => BigInt(Math.round(v * 2 ** plan.kinds[k].fractionalBits))));
}

/** What the decoder must return: Σ_a (V_a + z_a), scaled by 2^-f, entry by entry. */
function expectExactTotal(decoded: GlmSums, totals: readonly bigint[], plan: GlmEncodingPlan): void {
  for (const kind of KINDS) {
    const k = plan.kinds[kind];
    const got = valuesOf(decoded, kind);
    got.forEach((g, i) => expect(g).toBe(Number(totals[k.firstEntry + i]) * 2 ** -k.fractionalBits));
  }
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

const PINNED: [string, ModelCoding, number, number, bigint, object, string][] = [
  [
    'binomial',
    coded('insured ~ age + sex + sector + district + monthly_income', 'binomial', INSURANCE),
    1e6,
    5,
    T60,
    {},
    '23b81b080987c1a45bc9bd61f5e17f7064d27bbcbde8b02afb49f876c78e7950',
  ],
  [
    'poisson',
    coded('contribution_months ~ age + sector + sex + sector:sex', 'poisson', INSURANCE),
    1e7,
    64,
    T60,
    {},
    '9472e0f3a756a81b7db618604f4c813dde064e51d0a8089a4d5b1055161c316f',
  ],
  [
    'poisson, t40',
    coded('contribution_months ~ age + sector', 'poisson', INSURANCE),
    1e7,
    16,
    T40,
    {},
    '1f1f963b1bb8d8df309a31a14def95fee610cdf123fbc2b6b6f375d2f04f0337',
  ],
  [
    'gaussian',
    coded('y ~ a + x + a:x + b', 'gaussian'),
    1000,
    3,
    T60,
    { slotsPerCiphertext: 64, maxCiphertexts: 4 },
    'fda4679783697d675ee7c531a39f2eb37d536e2264de165732761e53741f7424',
  ],
];

describe('exact plans', () => {
  // Digests of canonicalJson(plan) and of an encoding, taken from the encoder before privacy existed.
  it.each(PINNED)('are bit for bit the plans made before privacy (%s)', (_, coding, rows, a, t, o, digest) => {
    const beta = coding.columns.map((_, j) => (j % 3) * 0.25 - 0.2);
    const plan = planGlmEncoding(coding, recordBounds(coding, beta), rows, a, t, o);
    expect('privacy' in plan).toBe(false);
    expect(toHex(sha256(new TextEncoder().encode(canonicalJson(plan))))).toBe(digest);
  });

  it('encode as they did', () => {
    const coding = coded('contribution_months ~ age + sector', 'poisson', INSURANCE);
    const plan = planGlmEncoding(coding, recordBounds(coding), 1e7, 16, T40);
    const s = emptySums(coding.columns.length);
    s.n = 123456;
    s.gradient.forEach((_, j) => (s.gradient[j] = (j - 2.5) * 98765.4321));
    s.information.forEach((_, j) => (s.information[j] = j * 4567.891));
    s.deviance = 3e5 + 0.125;
    s.saturated = -2e4 - 0.3;
    const out = encodeGlmSums(s, plan);
    expect(toHex(sha256(new Uint8Array(out.buffer)))).toBe(
      '0730f72c54b7e80632d6530e885eeed4b4b99ee411ad0baa2eae833f65a1e513',
    );
  });
});

/** A DP plan for a property (with the record bounds it was made from): coding, rows, agencies, t and ρ drawn. */
const dpPlanBoundsArb = fc
  .record({
    formula: fc.constantFrom(
      ['insured ~ age + sex + sector + district + monthly_income', 'binomial'] as const,
      ['contribution_months ~ age + sector + sex + sector:sex', 'poisson'] as const,
      ['household ~ age + sector + district', 'gaussian'] as const,
    ),
    maxRows: fc.constantFrom(1, 1000, 1e6, 1e7),
    agencies: fc.integer({ min: 1, max: 64 }),
    t: fc.constantFrom(T60, T40),
    rho: fc.constantFrom(...RHOS),
    thresholdShare: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ formula: [formula, family], maxRows, agencies, t, rho, thresholdShare }) => {
    const coding = coded(formula, family, INSURANCE);
    const beta = coding.columns.map((_, j) => (j % 2) * 0.3);
    const threshold = 1 + Math.floor(thresholdShare * (agencies - 1));
    const options = { maxCiphertexts: 2, privacy: { rho, threshold } };
    const bounds = recordBounds(coding, beta);
    return { plan: planGlmEncoding(coding, bounds, maxRows, agencies, t, options), bounds };
  });
const dpPlanArb = dpPlanBoundsArb.map(({ plan }) => plan);

describe('a DP plan’s total', () => {
  it('is Σ(V + noise) exactly for data and noise at their bounds: no wrap within the tail bound', () => {
    fc.assert(
      fc.property(dpPlanArb, fc.integer(), (plan, seed) => {
        const rand = prng(seed);
        const parts = Array.from({ length: plan.agencies }, () => {
          const sign = rand() < 0.5 ? 1 : -1;
          const s = emptySums(plan.coefficients);
          s.n = rand() < 0.5 ? plan.maxRows : 0;
          for (const kind of ['gradient', 'information'] as const)
            s[kind].fill(sign * plan.maxRows * plan.kinds[kind].recordBound);
          s.deviance = sign * plan.maxRows * plan.kinds.deviance.recordBound;
          s.saturated = -sign * plan.maxRows * plan.kinds.saturated.recordBound;
          const noise = new BigInt64Array(plan.entries);
          for (const kind of KINDS) {
            const b = plan.privacy?.kinds[kind]?.agencyNoiseBound ?? 0n;
            const z = rand() < 0.8 ? BigInt(sign) * b : BigInt(Math.floor((rand() * 2 - 1) * Number(b)));
            noise.fill(z, plan.kinds[kind].firstEntry, plan.kinds[kind].firstEntry + plan.kinds[kind].entries);
          }
          return { s, noise };
        });
        const totals = parts
          .map(({ s, noise }) => units(s, plan).map((v, i) => v + (noise[i] as bigint)))
          .reduce((a, b) => a.map((x, i) => x + (b[i] as bigint)));
        const slots = aggregateMasked(
          parts.map(({ s, noise }) => encodeGlmSums(s, plan, noise)),
          plan.plainModulus,
          seed,
        );
        expectExactTotal(decodeGlmTotal(slots, plan), totals, plan);
      }),
      { numRuns: runs(30) },
    );
  });

  it('is Σ(V + noise) exactly for agencies’ real sums and drawn noise', async () => {
    await fc.assert(
      fc.asyncProperty(fitScenarioArb, fc.constantFrom(...RHOS), fc.integer(), async (s, rho, seed) => {
        const coding = codingOf(s);
        const rand = prng(seed);
        const beta = coding.columns.map(() => rand() - 0.5);
        const sums = Array.from({ length: s.parts }, (_, p) =>
          sumsOfRows(
            coding,
            encodeRows(
              coding,
              s.rows.filter((_, i) => s.partition[i] === p),
            ),
            beta,
          ),
        );
        const maxRows = Math.max(1, ...sums.map((x) => x.n));
        const plan = planGlmEncoding(coding, recordBounds(coding, beta), maxRows, s.parts, T60, {
          privacy: { rho, threshold: s.parts },
        });
        const random = seededRandom(seed);
        const noises: BigInt64Array[] = [];
        for (let a = 0; a < s.parts; a++) noises.push(await drawGlmNoise(plan, random));
        const totals = sums
          .map((x, a) => units(x, plan).map((v, i) => v + (noises[a]?.[i] as bigint)))
          .reduce((a, b) => a.map((x, i) => x + (b[i] as bigint)));
        const slots = aggregateMasked(
          sums.map((x, a) => encodeGlmSums(x, plan, noises[a])),
          T60,
          seed,
        );
        expectExactTotal(decodeGlmTotal(slots, plan), totals, plan);
      }),
      { numRuns: runs(20) },
    );
  });
});

describe('the sensitivity', () => {
  it('bounds what removing one row does to the encoded sums, per kind, in L1 and L2', () => {
    fc.assert(
      fc.property(fitScenarioArb, fc.constantFrom(...RHOS), fc.integer(), (s, rho, seed) => {
        const coding = codingOf(s);
        const rand = prng(seed);
        const beta = coding.columns.map(() => rand() - 0.5);
        const gone = Math.floor(rand() * s.rows.length);
        const with_ = sumsOfRows(coding, encodeRows(coding, s.rows), beta);
        const without = sumsOfRows(
          coding,
          encodeRows(
            coding,
            s.rows.filter((_, i) => i !== gone),
          ),
          beta,
        );
        const plan = planGlmEncoding(coding, recordBounds(coding, beta), s.rows.length, 2, T60, {
          privacy: { rho, threshold: 2 },
        });
        const a = units(with_, plan);
        const b = units(without, plan);
        for (const kind of KINDS) {
          const k = plan.kinds[kind];
          const diff = a
            .slice(k.firstEntry, k.firstEntry + k.entries)
            .map((v, i) => v - (b[k.firstEntry + i] as bigint));
          const sens = plan.privacy?.kinds[kind]?.sensitivity ?? { l1: 0n, l2Squared: 0n };
          expect(
            diff.reduce((t, x) => t + (x < 0n ? -x : x), 0n),
            `${kind} L1`,
          ).toBeLessThanOrEqual(sens.l1);
          expect(
            diff.reduce((t, x) => t + x * x, 0n),
            `${kind} L2²`,
          ).toBeLessThanOrEqual(sens.l2Squared);
        }
      }),
      { numRuns: runs(40) },
    );
  });
});

describe('the accounting', () => {
  it('splits ρ into shares that sum to it exactly, each μ meeting its share with τ or more survivors', () => {
    fc.assert(
      fc.property(dpPlanArb, (plan) => {
        const noise = plan.privacy;
        if (noise === undefined) throw new Error('a DP plan has privacy');
        const kinds = KINDS.map((k) => noise.kinds[k]).filter((k) => k !== null);
        expect(compare(composeRho(kinds.map((k) => k.rho)), noise.rho)).toBe(0);
        const spent = composeRho(kinds.map((k) => skellamRho(k.mu, k.sensitivity)));
        expect(compare(spent, noise.rho)).toBeLessThanOrEqual(0);
        for (const k of kinds) {
          expect(compare(skellamRho(k.mu, k.sensitivity), k.rho)).toBeLessThanOrEqual(0);
          const s = noise.threshold + 1;
          expect(compare(distributedRho(k.mu, noise.threshold, s, k.sensitivity), k.rho)).toBeLessThanOrEqual(0);
          expect(compare(k.agencyMu, rational(k.mu.num, k.mu.den * BigInt(noise.threshold)))).toBe(0);
        }
        // The saturated log-likelihood is identically 0 but for poisson: not noised, no share.
        expect(noise.kinds.saturated === null).toBe(plan.kinds.saturated.recordBound === 0);
      }),
      { numRuns: runs(40) },
    );
  });
});

describe('the noise', () => {
  it('is at least 2^8 units and within 1.3× the Gaussian mechanism’s variance L2²/(2ρ) of one row', () => {
    fc.assert(
      fc.property(dpPlanBoundsArb, ({ plan, bounds }) => {
        const rowL2: Record<string, number> = {
          gradient: bounds.gradientL2,
          information: bounds.informationFrobenius,
          deviance: bounds.deviance,
          saturated: plan.kinds.saturated.recordBound,
        };
        for (const kind of ['gradient', 'information', 'deviance', 'saturated'] as const) {
          const k = plan.privacy?.kinds[kind];
          if (k === undefined || k === null) continue;
          const mu = Number(k.mu.num) / Number(k.mu.den);
          expect(2 * mu).toBeGreaterThanOrEqual(2 ** 16);
          const real = 2 * mu * 2 ** (-2 * plan.kinds[kind].fractionalBits);
          const rho = Number(k.rho.num) / Number(k.rho.den);
          const ideal = (rowL2[kind] as number) ** 2 / (2 * rho);
          expect(real).toBeGreaterThanOrEqual(ideal);
          // Beyond 10^6 rows the float summation's error bound (ν) grows the sensitivity too.
          if (plan.maxRows <= 1e6) expect(real, kind).toBeLessThanOrEqual(1.3 * ideal);
        }
      }),
      { numRuns: runs(40) },
    );
  });
});

describe('what voids the proof is refused', () => {
  const coding = coded('insured ~ age + sex + sector', 'binomial', INSURANCE);
  const privacy = { rho: rational(1n, 10n), threshold: 2 };
  const plan = planGlmEncoding(coding, recordBounds(coding), 1000, 3, T60, { privacy });
  const exact = planGlmEncoding(coding, recordBounds(coding), 1000, 3, T60);
  const sums = emptySums(coding.columns.length);

  it('a DP plan without noise, an exact plan with noise, a draw beyond its tail bound', async () => {
    expect(() => encodeGlmSums(sums, plan)).toThrow(/needs this agency's noise/);
    expect(() => encodeGlmSums(sums, exact, new BigInt64Array(exact.entries))).toThrow(RangeError);
    const noise = await drawGlmNoise(plan, seededRandom(1));
    noise[1] = (plan.privacy?.kinds.gradient?.agencyNoiseBound ?? 0n) + 1n;
    expect(() => encodeGlmSums(sums, plan, noise)).toThrow(/tail bound/);
  });

  it('data in the room kept for the noise is DATA_INVALID', () => {
    const k = plan.kinds.gradient;
    const room = plan.privacy?.kinds.gradient?.agencyNoiseBound ?? 0n;
    const s = emptySums(coding.columns.length);
    s.gradient[0] = Number(k.agencyBound - room + 1n) * 2 ** -k.fractionalBits;
    const e = caught(() => encodeGlmSums(s, plan, new BigInt64Array(plan.entries)));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.details).toEqual({ kind: 'gradient', entry: 0 });
  });

  it('noise beyond what agencies sample in time is PLAN_UNSAFE, naming the fix', () => {
    const many = coded(
      'insured ~ age + sex + sector + district + sector:district + sex:district',
      'binomial',
      INSURANCE,
    );
    const tiny = { rho: rational(1n, 10n ** 12n), threshold: 1 };
    const e = caught(() => planGlmEncoding(many, recordBounds(many), 1e6, 3, T60, { privacy: tiny }));
    expect(e.code).toBe('PLAN_UNSAFE');
    expect(e.message).toMatch(/raise rho/);
  });

  it('a malformed ρ or threshold is a RangeError', () => {
    const bad = (p: { rho: Rational; threshold: number }): unknown =>
      planGlmEncoding(coding, recordBounds(coding), 1000, 3, T60, { privacy: p });
    expect(() => bad({ rho: rational(0n), threshold: 2 })).toThrow(RangeError);
    expect(() => bad({ rho: rational(1n, 10n), threshold: 0 })).toThrow(RangeError);
    expect(() => bad({ rho: rational(1n, 10n), threshold: 1.5 })).toThrow(RangeError);
  });

  it('the proof states the noise: each kind’s μ, its bound B, and C = data + B', () => {
    const text = plan.proof.join('\n');
    expect(text).toContain('|V| ≤ C = ⌈maxRows·b·σ·2^f⌉ + B');
    expect(text).toMatch(/gradient: ρ = \S+, Δ1 = \d+, Δ2² = \d+ \(units\), μ = \d+, μ\/τ = \S+, B = \d+/);
    expect(text).toContain('saturated: identically 0 for this family, not noised');
  });
});
