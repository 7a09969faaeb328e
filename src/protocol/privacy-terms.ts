/**
 * The privacy terms of a differentially private query, derived the same way by the coordinator
 * and by every agency from the signed query alone (plan, ρ, threshold) and the shared schema:
 * nobody trusts anybody else's μ.
 *
 *  - Sensitivity per measure: one person (one row) moves a COUNT cell by 1 and a SUM cell
 *    (shifted by its offset, see cells.ts) by at most max − offset, in one group only
 *    (src/dp/sensitivity.ts).
 *  - μ per measure: the least integer Skellam parameter whose zCDP cost is ≤ the measure's share
 *    of ρ (src/dp/calibration.ts).
 *  - Each agency adds Skellam(μ/t): any t survivors together carry Skellam(μ) (closed under
 *    addition), so dropouts never leave the release under-noised.
 *  - The per-agency tail bound the no-wrap proof reserves room for.
 *
 * ρ lives on the grid 10^-12·ℤ (at most 12 decimal places): sums of ρ in an agency's ledger then
 * keep a denominator dividing 10^12, so no sequence of queries can grow the ledger's numbers. Its
 * grammar, checks and text forms are rho.ts's (`QUERY_RHO`); the functions below apply them.
 */
import { FedstatError } from '../errors.js';
import type { DatasetSchema, IntegerColumn } from '../federation/schema.js';
import type { Sensitivity } from '../dp/accountant.js';
import { calibrateMu, perAgencyMu } from '../dp/calibration.js';
import { drawNoise, noiseParts, MAX_NOISE_PARTS } from '../dp/noise-vector.js';
import type { RandomSource } from '../dp/random.js';
import { compare, rational, type Rational } from '../dp/rational.js';
import { measureSensitivity, type Measure as NoiseMeasure } from '../dp/sensitivity.js';
import { ceilSqrt, skellamTailBound } from '../dp/tail-bound.js';
import {
  formatRho,
  MAX_RHO,
  MIN_RHO,
  parseCanonicalRho,
  QUERY_RHO,
  RHO_GRID,
  rhoFrom,
  rhoToString,
  type Rho,
  type RhoTextOptions,
} from '../dp/rho.js';
import type { PlanCells } from './cells.js';

/**
 * The most sampler steps (Σ over cells of parts·(⌈√(μ/(t·parts))⌉ + 1): the exact Poisson sampler costs
 * O(√μ) float work per draw, about 5–8 ns per step at large μ) one query may ask of each
 * agency: about 15 s on one core of the benchmark machine (bench `dp`), below the default 30 s
 * deadline.
 */
const MAX_NOISE_WORK = 1n << 31n;

/** The noise of one measure (COUNT, or one SUM column) over all groups. */
interface MeasureNoise {
  /** 'count', or the summed column. */
  readonly measure: string;
  readonly sensitivity: Sensitivity;
  /** This measure's share of ρ: ρ / (number of measures). */
  readonly rho: Rational;
  /** Skellam parameter of the noise any t survivors add together (variance 2μ per cell). */
  readonly mu: Rational;
  /** What each agency adds to each of this measure's cells: Skellam(μ/t). */
  readonly agencyMu: Rational;
  /** |one agency's noise in one cell| ≤ this, except with probability < 2^-100. */
  readonly agencyNoiseBound: bigint;
}

export interface PrivacyTerms {
  /** zCDP ρ the query spends at every agency it asks. */
  readonly rho: Rational;
  readonly threshold: number;
  /** One entry per measure of the plan's cells, in cell order (COUNT first). */
  readonly measures: readonly MeasureNoise[];
  /** The largest per-agency bound over the measures: the room the slot layout reserves. */
  readonly agencyNoiseBound: bigint;
}

/**
 * Parses a user's ρ ("0.05", "1/40", "5e-2") into an exact value on the 10^-12 grid within
 * [10^-12, 100]; QUERY_INVALID with the fix otherwise. `naming` says how messages name the value
 * and spell a fix ("rho = 0.05" unless told; the CLI says "--rho 0.05").
 */
export function parseQueryRho(text: string, naming: Pick<RhoTextOptions, 'name' | 'spell'> = {}): Rho {
  return rhoFrom(text, { ...QUERY_RHO, ...naming });
}

/** A caller's ρ (`PrivacyOptions.rho`), as text or as an exact value, checked like user input. */
export function queryRho(value: Rational | string): Rho {
  return rhoFrom(value, QUERY_RHO);
}

/** The ρ of a signed query: canonical "n/d", on the grid, within [MIN_RHO, MAX_RHO]; BAD_MESSAGE otherwise. */
export function openQueryRho(text: unknown): Rho {
  const rho = typeof text === 'string' ? parseCanonicalRho(text) : null;
  if (rho === null || RHO_GRID % rho.den !== 0n || compare(rho, MIN_RHO) < 0 || compare(rho, MAX_RHO) > 0) {
    throw new FedstatError(
      'BAD_MESSAGE',
      'query privacy.rho must be a canonical fraction n/d on the 1e-12 grid within [1e-12, 100]',
    );
  }
  return rho;
}

/** The canonical text of ρ in a signed query (`rhoToString`: the envelope, ledger and log share one form). */
export function queryRhoText(rho: Rho): string {
  return rhoToString(rho);
}

/**
 * Everything both sides need to add, carry and read the noise of one DP query. ρ is split evenly
 * over the measures (zCDP composes by addition, so the release is ρ-zCDP in total): each measure
 * gets its own μ from its own sensitivity, so a COUNT released beside SUM(income) is not drowned
 * in noise sized for incomes.
 */
export function privacyTerms(cells: PlanCells, schema: DatasetSchema, rho: Rational, threshold: number): PrivacyTerms {
  if (!Number.isSafeInteger(threshold) || threshold < 1)
    throw new RangeError('privacyTerms: threshold must be a positive integer');
  const share = rational(rho.num, rho.den * BigInt(cells.measures.length));
  const measures = cells.measures.map((m, j): MeasureNoise => {
    let noised: NoiseMeasure = { kind: 'count' };
    if (m.kind === 'sum') {
      const col = schema.columns[m.column ?? ''] as IntegerColumn;
      const offset = cells.offsets[j] ?? 0n;
      noised = { kind: 'sum', min: BigInt(col.min) - offset, max: BigInt(col.max) - offset };
    }
    const sensitivity = measureSensitivity(noised);
    const mu = calibrateMu(share, sensitivity);
    const agencyMu = perAgencyMu(mu, threshold);
    if (noiseParts(agencyMu) > MAX_NOISE_PARTS) {
      throw new FedstatError(
        'PLAN_UNSAFE',
        `the noise ${m.kind === 'count' ? 'COUNT(*)' : `SUM(${m.column ?? ''})`} needs (μ = ${formatRho(mu)}) is beyond what agencies sample; raise rho or narrow the column's bounds`,
      );
    }
    return Object.freeze({
      measure: m.kind === 'count' ? 'count' : (m.column ?? ''),
      sensitivity,
      rho: share,
      mu,
      agencyMu,
      agencyNoiseBound: skellamTailBound(agencyMu),
    });
  });
  const work = measures.reduce((w, m) => {
    const parts = BigInt(noiseParts(m.agencyMu));
    return w + BigInt(cells.groupCount) * parts * (ceilSqrt(m.agencyMu.num, m.agencyMu.den * parts) + 1n);
  }, 0n);
  if (work > MAX_NOISE_WORK) {
    throw new FedstatError(
      'PLAN_UNSAFE',
      `drawing this query's noise would take about ${work / 1_000_000n} million sampler steps at each agency (the limit is ${MAX_NOISE_WORK / 1_000_000n} million, about 15 s); raise rho, narrow the bounds of the summed columns, or group by fewer columns`,
    );
  }
  const agencyNoiseBound = measures.reduce((b, m) => (m.agencyNoiseBound > b ? m.agencyNoiseBound : b), 0n);
  return Object.freeze({ rho, threshold, measures: Object.freeze(measures), agencyNoiseBound });
}

/** Cells drawn between two yields to the event loop (a few ms of sampling at most). */
const CHUNK_CELLS = 256;

/**
 * One agency's noise for every cell (group × measure, cell order): Skellam(μ_j/t) for measure j,
 * drawn in chunks; the generator yields between chunks so a caller can let other work run.
 */
function* cellNoiseChunks(
  terms: PrivacyTerms,
  groupCount: number,
  out: BigInt64Array,
  random?: RandomSource,
): Generator<void, void, void> {
  const m = terms.measures.length;
  for (const [j, measure] of terms.measures.entries()) {
    for (let g0 = 0; g0 < groupCount; g0 += CHUNK_CELLS) {
      const n = Math.min(CHUNK_CELLS, groupCount - g0);
      const draws = drawNoise(measure.agencyMu, n, random);
      for (let i = 0; i < n; i++) out[(g0 + i) * m + j] = draws[i] ?? 0n;
      yield;
    }
  }
}

/** One agency's noise for every cell, at once. */
export function drawCellNoise(terms: PrivacyTerms, groupCount: number, random?: RandomSource): BigInt64Array {
  const out = new BigInt64Array(groupCount * terms.measures.length);
  for (const _ of cellNoiseChunks(terms, groupCount, out, random)) {
    /* drawn */
  }
  return out;
}

/**
 * The same draws as `drawCellNoise`, yielding to the event loop between chunks: wide SUM bounds
 * make each draw cost O(√μ), and an agency must keep answering Describe and other queries.
 */
export async function drawCellNoiseYielding(
  terms: PrivacyTerms,
  groupCount: number,
  random?: RandomSource,
): Promise<BigInt64Array> {
  const out = new BigInt64Array(groupCount * terms.measures.length);
  for (const _ of cellNoiseChunks(terms, groupCount, out, random))
    await new Promise<void>((resolve) => setImmediate(resolve));
  return out;
}
