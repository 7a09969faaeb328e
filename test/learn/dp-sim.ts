/**
 * Helpers for the DP tests of learn/: a seeded RandomSource (the samplers' interface, replayable),
 * Gaussian noise of a plan's variance added to exact sums, and simulated DP fits of the `workers`
 * records, whose label follows a known logistic model.
 */
import type { RandomSource } from '../../src/dp/random.js';
import { rational } from '../../src/dp/rational.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import type { FamilyName } from '../../src/learn/family.js';
import { planGlmEncoding } from '../../src/learn/fixed-point.js';
import type { GlmEncodingPlan } from '../../src/learn/fixed-point.js';
import { parseFormula } from '../../src/learn/formula.js';
import { dpInferenceTable } from '../../src/learn/dp-inference.js';
import { dpNewtonRound, startDpNewton } from '../../src/learn/dp-newton.js';
import type { DpNewtonState } from '../../src/learn/dp-newton.js';
import { glmNoiseVariance } from '../../src/learn/glm-noise.js';
import type { GlmNoiseVariance } from '../../src/learn/glm-noise.js';
import type { GlmTable } from '../../src/learn/inference.js';
import { encodeRows, sumsOfRows } from '../../src/learn/pooled-fit.js';
import type { EncodedRows } from '../../src/learn/pooled-fit.js';
import { recordBounds } from '../../src/learn/record-bounds.js';
import type { GlmSums } from '../../src/learn/sums.js';
import { prng } from './arbitraries.js';
import { WORKERS_DATASET_JSON, workerRows } from './workers.js';

/** The 60-bit batching prime of BFV_N8192_T60. */
export const T60 = 1152921504606830593n;

export const WORKERS = parseSchema({ datasets: { workers: WORKERS_DATASET_JSON } }, 'schema.json').datasets[
  'workers'
] as DatasetSchema;

export function workersCoding(formula: string, family: FamilyName): ModelCoding {
  return codeModel(parseFormula(formula, WORKERS, 'workers'), WORKERS, family, 'workers');
}

/** The logistic model workerRows draws `insured` from, as coefficients of BINOMIAL_FORMULA. */
export const BINOMIAL_FORMULA = 'insured ~ age + sex + district + income';
export const BINOMIAL_TRUTH: Readonly<Record<string, number>> = {
  '(Intercept)': -1 - 0.02 * 40,
  age: 0.02,
  sex女: 0.3,
  district青羊区: 0,
  district金牛区: -0.4,
  income: 0.00004,
};

/** A RandomSource from a seed (tests only: never for real noise). */
export function seededRandom(seed: number): RandomSource {
  const rand = prng(seed);
  const uint32 = (): number => Math.floor(rand() * 2 ** 32);
  return {
    uint32,
    belowNumber(n: number): number {
      if (n === 1) return 0;
      const limit = Math.floor(2 ** 32 / n) * n;
      for (;;) {
        const v = uint32();
        if (v < limit) return v % n;
      }
    },
    below(n: bigint): bigint {
      const words = Math.ceil((n - 1n).toString(2).length / 32) + 1;
      for (;;) {
        let v = 0n;
        for (let i = 0; i < words; i++) v = (v << 32n) | BigInt(uint32());
        const limit = ((1n << BigInt(32 * words)) / n) * n;
        if (v < limit) return v % n;
      }
    },
  };
}

/** Standard normal draws from a seed (Box–Muller). */
export function normals(seed: number): () => number {
  const rand = prng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** `sums` plus independent N(0, variance of its kind) in every entry: what a DP round releases. */
export function noisy(sums: GlmSums, v: GlmNoiseVariance, normal: () => number): GlmSums {
  const sd = (x: number): number => Math.sqrt(x);
  return {
    n: sums.n + sd(v.n) * normal(),
    gradient: sums.gradient.map((g) => g + sd(v.gradient) * normal()),
    information: sums.information.map((h) => h + sd(v.information) * normal()),
    deviance: sums.deviance + sd(v.deviance) * normal(),
    saturated: sums.saturated + sd(v.saturated) * normal(),
  };
}

/** How a simulated DP fit runs. */
export interface DpSim {
  readonly rho: bigint;
  readonly rhoDen: bigint;
  readonly rounds: number;
  readonly ridge?: number;
  readonly agencies?: number;
  readonly maxRows?: number;
}

/** Plans by coding and inputs: a binomial round's bounds do not depend on β, so most repeat. */
const plans = new WeakMap<ModelCoding, Map<string, GlmEncodingPlan>>();

/** A DP round's plan at β for the simulated federation. */
export function simPlan(coding: ModelCoding, beta: readonly number[], sim: DpSim): GlmEncodingPlan {
  const agencies = sim.agencies ?? 3;
  const bounds = recordBounds(coding, beta);
  const key = JSON.stringify([bounds, sim.maxRows, agencies, `${sim.rho}/${sim.rhoDen}`]);
  const known = plans.get(coding) ?? new Map<string, GlmEncodingPlan>();
  plans.set(coding, known);
  const plan =
    known.get(key) ??
    planGlmEncoding(coding, bounds, sim.maxRows ?? 100_000, agencies, T60, {
      privacy: { rho: rational(sim.rho, sim.rhoDen), threshold: agencies },
    });
  known.set(key, plan);
  return plan;
}

/** A finished simulated fit: its state, last sums and noise, and the table. */
export interface DpSimFit {
  readonly state: DpNewtonState;
  readonly lastSums: GlmSums;
  readonly noise: GlmNoiseVariance;
  readonly table: GlmTable;
}

/** Runs a DP fit of `rows` with Gaussian noise of each round's planned variance (seeded). */
export function simulateDpFit(coding: ModelCoding, rows: EncodedRows, sim: DpSim, seed: number): DpSimFit {
  const normal = normals(seed);
  const ridge = sim.ridge ?? 0;
  let state = startDpNewton(coding, sim.rounds);
  let lastSums: GlmSums | null = null;
  let noise: GlmNoiseVariance | null = null;
  while (state.phase !== 'done') {
    const plan = simPlan(coding, state.beta, sim);
    noise = glmNoiseVariance(plan);
    lastSums = noisy(sumsOfRows(coding, rows, state.beta), noise, normal);
    state = dpNewtonRound(state, lastSums, coding, { ridge, plan });
  }
  const last = lastSums as GlmSums;
  const v = noise as GlmNoiseVariance;
  return { state, lastSums: last, noise: v, table: dpInferenceTable(coding, state, last, ridge, v) };
}

/** `n` workers from `seed`, coded for `coding`. */
export function workerData(coding: ModelCoding, n: number, seed: number): EncodedRows {
  return encodeRows(coding, workerRows(n, seed));
}

/** Σ (v_i + r_i) mod t with pseudo-random masks r_i that sum to 0 mod t, as secure aggregation adds them. */
export function aggregateMasked(vectors: readonly BigUint64Array[], t: bigint, seed: number): BigUint64Array {
  const rand = prng(seed);
  const length = (vectors[0] as BigUint64Array).length;
  const out = new BigUint64Array(length);
  const rest = new BigUint64Array(length);
  vectors.forEach((v, i) => {
    for (let s = 0; s < length; s++) {
      const r =
        i === vectors.length - 1
          ? (t - (rest[s] as bigint)) % t
          : ((BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32))) % t;
      rest[s] = ((rest[s] as bigint) + r) % t;
      out[s] = ((out[s] as bigint) + (v[s] as bigint) + r) % t;
    }
  });
  return out;
}
