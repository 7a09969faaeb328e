/**
 * DP Newton (dp-newton.ts) and its table (dp-inference.ts): with a large ρ the fit is the exact
 * pooled fit; with a moderate ρ the true coefficients fall inside the 95 % intervals at about the
 * nominal rate, where intervals without the noise would not; agencies' real Skellam noise through
 * the encoding gives a sound fit; the state survives a checkpoint; noise that swamps a term is
 * refused naming it; nothing is ever NaN. FEDSTAT_SOAK=1 runs 1000 simulated fits instead of 200.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { DP_INTERVALS, dpInferenceTable } from '../../src/learn/dp-inference.js';
import { dpNewtonRound, startDpNewton } from '../../src/learn/dp-newton.js';
import type { DpNewtonState } from '../../src/learn/dp-newton.js';
import type { FamilyName } from '../../src/learn/family.js';
import { decodeGlmTotal, encodeGlmSums } from '../../src/learn/fixed-point.js';
import { parseFormula } from '../../src/learn/formula.js';
import { drawGlmNoise, glmNoiseVariance } from '../../src/learn/glm-noise.js';
import type { GlmNoiseVariance } from '../../src/learn/glm-noise.js';
import type { GlmTable } from '../../src/learn/inference.js';
import { encodeRows, fitWithSums, sumsOfRows } from '../../src/learn/pooled-fit.js';
import type { EncodedRows } from '../../src/learn/pooled-fit.js';
import type { GlmSums } from '../../src/learn/sums.js';
import { fitScenarioArb, prng, runs } from './arbitraries.js';
import {
  aggregateMasked,
  BINOMIAL_FORMULA,
  BINOMIAL_TRUTH,
  normals,
  noisy,
  seededRandom,
  simPlan,
  simulateDpFit,
  T60,
  workerData,
  workersCoding,
} from './dp-sim.js';
import type { DpSim } from './dp-sim.js';
import { workerRows } from './workers.js';

const SOAK = process.env['FEDSTAT_SOAK'] === '1';

/** y ~ x + z, binomial, x and z uniform integers in [−100, 100] (internal scale x/100). */
const SIM: DatasetSchema = parseSchema(
  {
    datasets: {
      sim: {
        columns: {
          x: { type: 'integer', min: -100, max: 100 },
          z: { type: 'integer', min: -100, max: 100 },
          y: { type: 'integer', min: 0, max: 1 },
        },
      },
    },
  },
  'sim.json',
).datasets['sim'] as DatasetSchema;
const SIM_CODING = codeModel(parseFormula('y ~ x + z', SIM, 'sim'), SIM, 'binomial', 'sim');
/** The true coefficients on the original scale. */
const SIM_TRUTH = [-0.5, 0.008, -0.006];

function simRecords(n: number, seed: number): DataRecord[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => {
    const x = Math.floor(rand() * 201) - 100;
    const z = Math.floor(rand() * 201) - 100;
    const eta = (SIM_TRUTH[0] as number) + (SIM_TRUTH[1] as number) * x + (SIM_TRUTH[2] as number) * z;
    return { x, z, y: rand() < 1 / (1 + Math.exp(-eta)) ? 1 : 0 };
  });
}

function covers(table: GlmTable, truth: readonly number[]): boolean[] {
  return table.terms.map((t, j) => t.ci95[0] <= (truth[j] as number) && (truth[j] as number) <= t.ci95[1]);
}

function expectFinite(table: GlmTable): void {
  for (const t of table.terms) expect([t.estimate, t.stderr, t.z, t.p, ...t.ci95].every(Number.isFinite)).toBe(true);
  expect(
    [table.deviance, table.nullDeviance, table.aic, table.dispersion, ...table.covariance].every(Number.isFinite),
  ).toBe(true);
}

const NO_NOISE: GlmNoiseVariance = { n: 0, gradient: 0, information: 0, deviance: 0, saturated: 0 };

describe('startDpNewton', () => {
  it('takes 2 to 100 announced rounds and starts at β = 0', () => {
    for (const bad of [1, 101, 2.5]) expect(() => startDpNewton(SIM_CODING, bad)).toThrow(RangeError);
    expect(startDpNewton(SIM_CODING, 2)).toMatchObject({ round: 0, rounds: 2, phase: 'newton', beta: [0, 0, 0] });
  });
});

describe('with a large ρ', () => {
  // [name, formula, family, rounds, rows, tolerance of stderr and deviances]: gaussian and poisson
  // sensitivities grow with the response bound (poisson with e^η_max, 20× the largest count), so their
  // noise needs more rows to fade.
  const cases: [string, string, FamilyName, number, number, number][] = [
    ['binomial', BINOMIAL_FORMULA, 'binomial', 8, 8000, 0.02],
    ['gaussian', 'visits ~ age + district + months', 'gaussian', 3, 8000, 0.05],
    ['poisson with an offset', 'visits ~ age + district + offset(log(months))', 'poisson', 8, 40_000, 0.2],
  ];
  it.each(cases)(
    'the fit is the exact pooled fit up to its stated noise (%s)',
    (_, formula, family, rounds, n, tol) => {
      const coding = workersCoding(formula, family);
      const rows = workerData(coding, n, 21);
      const pooled = fitWithSums(coding, (beta) => sumsOfRows(coding, rows, beta));
      const dp = simulateDpFit(coding, rows, { rho: 100n, rhoDen: 1n, rounds }, 5).table;
      expectFinite(dp);
      expect(dp.converged).toBe(true);
      pooled.table.terms.forEach((p, j) => {
        const t = dp.terms[j]!;
        // The DP estimate differs from the pooled one by the noise alone: within 4 of its sd.
        const noiseSd = Math.sqrt(Math.max(0, t.stderr ** 2 - p.stderr ** 2));
        expect(Math.abs(t.estimate - p.estimate), p.term).toBeLessThan(4 * noiseSd + 0.01 * p.stderr);
        expect(t.stderr / p.stderr - 1, p.term).toBeGreaterThan(-0.001);
        expect(t.stderr / p.stderr - 1, p.term).toBeLessThan(tol);
      });
      expect(Math.abs(dp.nullDeviance / pooled.table.nullDeviance - 1)).toBeLessThan(tol);
      expect(Math.abs(dp.deviance / pooled.table.deviance - 1)).toBeLessThan(tol);
      expect(Math.abs(dp.n - pooled.table.n)).toBeLessThanOrEqual(5);
    },
  );
});

describe('with a moderate ρ', () => {
  it('the true coefficients fall inside the 95 % intervals at about the nominal rate', () => {
    const fits = SOAK ? 1000 : 200;
    const sim: DpSim = { rho: 1n, rhoDen: 1000n, rounds: 5 };
    let covered = 0;
    let coveredWithoutNoise = 0;
    let trials = 0;
    for (let i = 0; i < fits; i++) {
      const fit = simulateDpFit(SIM_CODING, encodeRows(SIM_CODING, simRecords(10_000, i)), sim, 7919 * i + 1);
      const samplingOnly = dpInferenceTable(SIM_CODING, fit.state, fit.lastSums, 0, NO_NOISE);
      expectFinite(fit.table);
      covered += covers(fit.table, SIM_TRUTH).filter(Boolean).length;
      coveredWithoutNoise += covers(samplingOnly, SIM_TRUTH).filter(Boolean).length;
      trials += SIM_TRUTH.length;
    }
    // At this ρ the noise's variance is 2 to 5 times the sampling variance (one round's ρ = 0.001).
    expect(covered / trials).toBeGreaterThanOrEqual(0.9);
    expect(covered / trials).toBeLessThanOrEqual(0.99);
    expect(coveredWithoutNoise / trials).toBeLessThan(0.85);
  });
});

/** One round through the agencies: each encodes its sums with its own drawn noise; the total decodes. */
async function federatedSums(
  coding: ModelCoding,
  parts: readonly EncodedRows[],
  beta: readonly number[],
  sim: DpSim,
  seed: number,
): Promise<{ sums: GlmSums; exact: GlmSums; noise: GlmNoiseVariance; plan: ReturnType<typeof simPlan> }> {
  const plan = simPlan(coding, beta, { ...sim, agencies: parts.length });
  const slots = [];
  for (const [a, rows] of parts.entries()) {
    const noise = await drawGlmNoise(plan, seededRandom(seed * 31 + a));
    slots.push(encodeGlmSums(sumsOfRows(coding, rows, beta), plan, noise));
  }
  const all = parts.map((rows) => sumsOfRows(coding, rows, beta));
  const exact = all.reduce((x, y) => ({
    n: x.n + y.n,
    gradient: x.gradient.map((g, j) => g + (y.gradient[j] as number)),
    information: x.information.map((h, j) => h + (y.information[j] as number)),
    deviance: x.deviance + y.deviance,
    saturated: x.saturated + y.saturated,
  }));
  const sums = decodeGlmTotal(aggregateMasked(slots, T60, seed), plan);
  return { sums, exact, noise: glmNoiseVariance(plan), plan };
}

describe('through the agencies’ encoding', () => {
  it('drawn Skellam noise gives released sums of the planned variance and a sound fit', async () => {
    const records = simRecords(9000, 99);
    const parts = [0, 1, 2].map((a) =>
      encodeRows(
        SIM_CODING,
        records.filter((_, i) => i % 3 === a),
      ),
    );
    const sim: DpSim = { rho: 1n, rhoDen: 100n, rounds: 5, maxRows: 5000 };
    let state = startDpNewton(SIM_CODING, sim.rounds);
    let last: Awaited<ReturnType<typeof federatedSums>> | null = null;
    for (let round = 1; state.phase !== 'done'; round++) {
      const r = await federatedSums(SIM_CODING, parts, state.beta, sim, round);
      // Every released entry is within 6 sd of the exact sum (the rounding is far below the noise).
      const sd = (v: number): number => 6 * Math.sqrt(v) + 1e-9;
      r.sums.gradient.forEach((g, j) =>
        expect(Math.abs(g - (r.exact.gradient[j] as number))).toBeLessThan(sd(r.noise.gradient)),
      );
      r.sums.information.forEach((h, j) =>
        expect(Math.abs(h - (r.exact.information[j] as number))).toBeLessThan(sd(r.noise.information)),
      );
      expect(Math.abs(r.sums.n - r.exact.n)).toBeLessThan(sd(r.noise.n));
      state = dpNewtonRound(state, r.sums, SIM_CODING, { ridge: 0, plan: r.plan });
      last = r;
    }
    if (last === null) throw new Error('no round ran');
    const table = dpInferenceTable(SIM_CODING, state, last.sums, 0, last.noise);
    expectFinite(table);
    // Given the plan instead of its variance, the table assumes the threshold's noise: here all three.
    expect(dpInferenceTable(SIM_CODING, state, last.sums, 0, last.plan)).toEqual(table);
    table.terms.forEach((t, j) => expect(Math.abs(t.estimate - (SIM_TRUTH[j] as number))).toBeLessThan(4 * t.stderr));
  });
});

describe('the state', () => {
  it('is JSON: a fit resumed from a checkpoint at any round ends as the uninterrupted one', () => {
    const coding = workersCoding(BINOMIAL_FORMULA, 'binomial');
    const rows = workerData(coding, 3000, 4);
    const sim: DpSim = { rho: 1n, rhoDen: 10n, rounds: 5 };
    type Step = { state: DpNewtonState; sums: GlmSums; noise: GlmNoiseVariance };
    const round = (state: DpNewtonState, i: number): Step => {
      const plan = simPlan(coding, state.beta, sim);
      const noise = glmNoiseVariance(plan);
      const sums = noisy(sumsOfRows(coding, rows, state.beta), noise, normals(100 + i));
      return { state: dpNewtonRound(state, sums, coding, { ridge: 0.5, plan }), sums, noise };
    };
    const run = (checkpointAt: number): GlmTable => {
      let step: Step = {
        state: startDpNewton(coding, sim.rounds),
        sums: sumsOfRows(coding, rows, []),
        noise: NO_NOISE,
      };
      for (let i = 0; step.state.phase !== 'done'; i++) {
        const state = i === checkpointAt ? (JSON.parse(JSON.stringify(step.state)) as DpNewtonState) : step.state;
        step = round(state, i);
      }
      return dpInferenceTable(coding, step.state, step.sums, 0.5, step.noise);
    };
    const straight = run(-1);
    for (const at of [0, 2, 4]) expect(run(at)).toEqual(straight);
    expect(straight.iterations).toBe(5);
    expect(DP_INTERVALS).toMatch(/delta method/);
  });
});

describe('noise that swamps a term', () => {
  it('is refused naming the coefficient, with the fix', () => {
    const coding = workersCoding(BINOMIAL_FORMULA, 'binomial');
    // 金牛区 keeps a handful of rows: the noise is larger than what they say about its coefficient.
    let kept = 0;
    const records = workerRows(6000, 8).filter((r) => r['district'] !== '金牛区' || kept++ < 6);
    const e = (() => {
      try {
        simulateDpFit(coding, encodeRows(coding, records), { rho: 1n, rhoDen: 20n, rounds: 4 }, 3);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(FedstatError);
    expect((e as FedstatError).code).toBe('QUERY_INVALID');
    expect((e as FedstatError).details).toMatchObject({ reason: 'too-noisy', coefficient: 'district金牛区' });
    expect((e as FedstatError).message).toMatch(/raise rho/);
  });

  it('never leaves NaN in a table: a finite table or a FedstatError, on random models and data', () => {
    fc.assert(
      fc.property(fitScenarioArb, fc.constantFrom(10n, 1n, 1000n), fc.integer(), (s, den, seed) => {
        const coding = codeModel(parseFormula(s.formula, s.schema, 'd'), s.schema, s.family, 'd');
        try {
          const fit = simulateDpFit(
            coding,
            encodeRows(coding, s.rows),
            { rho: 1n, rhoDen: den, rounds: 4, ridge: s.ridge },
            seed,
          );
          expectFinite(fit.table);
        } catch (e) {
          if (!(e instanceof FedstatError)) throw e;
          expect(['QUERY_INVALID', 'PLAN_UNSAFE']).toContain(e.code);
        }
      }),
      { numRuns: runs(40) },
    );
  });
});

it('the workers truth is what the binomial formula estimates', () => {
  expect(Object.keys(BINOMIAL_TRUTH)).toEqual(workersCoding(BINOMIAL_FORMULA, 'binomial').coefficients);
});
