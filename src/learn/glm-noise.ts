/**
 * The differential privacy of one GLM Newton round (issue 13): the distributed Skellam noise each
 * kind of round sum carries, how an agency draws its share, and the variance the decoded total has.
 * fixed-point.ts plans the room for it; dp-newton.ts reads the variance.
 *
 * - Neighbours: one row added or removed at one agency (docs/privacy.md). Every kind whose entries
 *   depend on the rows is noised: n, the gradient, the information, the deviance, and the
 *   saturated log-likelihood when it is not identically 0 (poisson only).
 * - ρ of the round is split over those kinds by the weights n 1 : gradient 8 : information 4 :
 *   deviance 2 : saturated 1 (the gradient's noise moves the coefficients most; the information's
 *   enters second-order; n and the deviance only feed the table). The shares sum to ρ exactly.
 * - Sensitivity in integer units, at fractional bits f, with k = non-zero entries of a row:
 *   the row itself adds ≤ 2^f·σ·L2 in L2 and 2^f·σ·L1 in L1 (gradient L2 = S·√k, L1 = S·k;
 *   information, packed upper triangle: Σ_{j≤l} (w·x_j·x_l)² ≤ ‖w·x·xᵀ‖_F² ≤ (W·k)², L1 ≤
 *   W·k(k+1)/2; deviance and saturated: their bound; σ = 1 + 64·2^-52 covers the roundings of a
 *   row's products), and every entry may move by a further e = 2^f·b·2ν + 1 (1: the two
 *   roundings to units; ν·b: one float sum's summation error). The store sums compensated
 *   (SqlDialect.floatSum: Kahan in DuckDB, error ≤ (2u + n·u²)·Σ|x| for n terms, u = 2^-53; in
 *   PostgreSQL an exact NUMERIC sum of exact-to-half-an-ulp terms, rounded once, ≤ 2u·Σ|x|); over
 *   its two levels (rows into cells, cells into entries) and the merge of per-thread partial
 *   sums ν = maxRows·(2^-46 + maxRows·2^-104) allows 128u (naive summation would need
 *   maxRows·u, which at a billion rows is a hundred times a row's own bound), so
 *   Δ2 ≤ 2^f·σ·L2 + e·√E_k and Δ1 ≤ 2^f·σ·L1 + e·E_k.
 *   n is an exact count: Δ1 = Δ2 = 1.
 * - μ per kind is the least integer with ρ(μ) ≤ the kind's share (dp/calibration.ts); each agency
 *   adds Skellam(μ/τ) per entry (τ the round's threshold), bounded by B = skellamTailBound(μ/τ).
 * - f per kind is the least with noise std √(2μ) ≥ 2^8 units (the agencies' roundings, variance
 *   A/12 units², are then negligible) and 2^f·σ·L2 ≥ 16·√E_k (the rounding term adds at most 1/16
 *   to Δ2). More bits would only encode noise and cost sampling time (μ grows 4× per bit).
 */
import type { Sensitivity } from '../dp/accountant.js';
import { calibrateMu, perAgencyMu } from '../dp/calibration.js';
import { drawNoise, MAX_NOISE_PARTS, noiseParts } from '../dp/noise-vector.js';
import type { RandomSource } from '../dp/random.js';
import { checkNonNegative, compare, rational, type Rational } from '../dp/rational.js';
import { formatRho } from '../dp/rho.js';
import { ceilSqrt, skellamTailBound } from '../dp/tail-bound.js';
import { FedstatError } from '../errors.js';
import type { GlmEncodingPlan, SumKind } from './fixed-point.js';

/** The privacy of a round, as the signed round fixes it. */
export interface GlmPrivacyOptions {
  /** zCDP ρ the round spends at every agency it asks. */
  readonly rho: Rational;
  /** Secure-aggregation threshold τ: any τ survivors carry the full noise. */
  readonly threshold: number;
}

/** The noise of one kind of entry (all its entries alike). */
export interface KindNoise {
  /** This kind's share of the round's ρ. */
  readonly rho: Rational;
  /** Of the kind's whole vector, in integer units (round(S·2^f)). */
  readonly sensitivity: Sensitivity;
  /** Skellam parameter τ agencies add together (variance 2μ units² per entry). */
  readonly mu: Rational;
  /** μ/τ: what each agency adds to each entry. */
  readonly agencyMu: Rational;
  /** |one agency's noise in one entry| ≤ this, except with probability < 2^-100. */
  readonly agencyNoiseBound: bigint;
}

/** The noise of a DP round's plan (`GlmEncodingPlan.privacy`). */
export interface GlmPlanNoise {
  readonly rho: Rational;
  readonly threshold: number;
  /** null for a kind whose entries do not depend on the rows (saturated but for poisson). */
  readonly kinds: Readonly<Record<SumKind, KindNoise | null>>;
  /** Sampler steps each agency spends drawing its share (at most MAX_GLM_NOISE_WORK). */
  readonly work: bigint;
}

/** Per-entry variance of the decoded total's noise, in real units. */
export type GlmNoiseVariance = Readonly<Record<SumKind, number>>;

/** The ρ weights of the kinds, in slot order (see the file comment). */
const GLM_RHO_WEIGHTS: Readonly<Record<SumKind, number>> = Object.freeze({
  n: 1,
  gradient: 8,
  information: 4,
  deviance: 2,
  saturated: 1,
});

/** The same limit as a SQL query's (privacy-terms.ts): about 15 s of sampling at each agency. */
const MAX_GLM_NOISE_WORK = 1n << 31n;

/** The noise std is at least 2^STD_BITS units. */
const STD_BITS = 8;
/** 2^f·σ·L2 ≥ ROUNDING_RATIO·√E_k. */
const ROUNDING_RATIO = 16;
const F_LIMIT = 1000;
/** Entries drawn between two yields to the event loop. */
const CHUNK_ENTRIES = 256;

/** What the planner knows of one kind (fixed-point.ts's spec). */
export interface NoiseKindInput {
  readonly kind: SumKind;
  readonly entries: number;
  /** b: the most one row adds to one entry. */
  readonly bound: number;
}

/** The common inputs: rows and non-zero entries per row. */
export interface NoiseContext {
  readonly maxRows: number;
  readonly nonZero: number;
}

/** σ: the relative rounding of a row's products (the file comment). */
const ROW_SLACK = 1 + 64 * 2 ** -52;

/** ν: one compensated float sum's error over ≤ maxRows rows, in units of a row's bound (the file comment). */
function summationError(maxRows: number): number {
  return maxRows * (2 ** -46 + maxRows * 2 ** -104);
}

/** The round's noise and each kind's fractional bits. */
export interface RoundNoise {
  readonly bits: Readonly<Record<SumKind, number>>;
  readonly noise: GlmPlanNoise;
}

function unsafe(message: string, details: Record<string, unknown>): FedstatError {
  return new FedstatError('PLAN_UNSAFE', message, { details });
}

/** ⌈x⌉ as a bigint, rounded up past any float error in x; null when x is not finite. */
function ceilUp(x: number): bigint | null {
  const y = Math.ceil(x * (1 + 2 ** -40));
  return Number.isFinite(y) ? BigInt(y) : null;
}

/** One row's L2 and L1 over a kind's entries, in real units (the file comment). */
function rowNorms(spec: NoiseKindInput, k: number): { l2: number; l1: number } {
  const b = spec.bound;
  if (spec.kind === 'gradient') return { l2: b * Math.sqrt(k), l1: b * k };
  if (spec.kind === 'information') return { l2: b * k, l1: (b * k * (k + 1)) / 2 };
  return { l2: b, l1: b };
}

/** The kind's sensitivity in units at f; null when it is not a finite number. */
function sensitivityAt(spec: NoiseKindInput, ctx: NoiseContext, f: number): Sensitivity | null {
  if (spec.kind === 'n') return { l1: 1n, l2Squared: 1n };
  const { l2, l1 } = rowNorms(spec, ctx.nonZero);
  const scale = 2 ** f;
  const nu = summationError(ctx.maxRows);
  const perEntry = scale * spec.bound * 2 * nu + 1;
  const d2 = ceilUp(scale * ROW_SLACK * l2 + perEntry * Math.sqrt(spec.entries));
  const d1 = ceilUp(scale * ROW_SLACK * l1 + perEntry * spec.entries);
  if (d2 === null || d1 === null) return null;
  const l2Squared = d2 * d2;
  // An integer vector has ‖v‖₁ ≤ ‖v‖₂², so Δ1 ≤ Δ2² holds whatever the float bound says.
  return { l1: d1 < l2Squared ? d1 : l2Squared, l2Squared };
}

const MIN_MU = rational(1n << BigInt(2 * STD_BITS - 1)); // 2μ ≥ 2^(2·STD_BITS)

interface Calibrated {
  readonly f: number;
  readonly sensitivity: Sensitivity;
  readonly mu: Rational;
}

/** μ at f, or null when f is too small for the rules of the file comment (or not finite). */
function calibrateAt(spec: NoiseKindInput, ctx: NoiseContext, share: Rational, f: number): Calibrated | null {
  const sensitivity = sensitivityAt(spec, ctx, f);
  if (sensitivity === null) return null;
  const mu = calibrateMu(share, sensitivity);
  if (spec.kind === 'n') return { f, sensitivity, mu };
  const data = 2 ** f * ROW_SLACK * rowNorms(spec, ctx.nonZero).l2;
  if (data < ROUNDING_RATIO * Math.sqrt(spec.entries) || compare(mu, MIN_MU) < 0) return null;
  return { f, sensitivity, mu };
}

/** The least f meeting the rules (n: f = 0); PLAN_UNSAFE when none is a finite number. */
function leastBits(spec: NoiseKindInput, ctx: NoiseContext, share: Rational): Calibrated {
  if (spec.kind === 'n') return calibrateAt(spec, ctx, share, 0) as Calibrated;
  const l2 = ROW_SLACK * rowNorms(spec, ctx.nonZero).l2;
  const target = Math.max(
    ROUNDING_RATIO * Math.sqrt(spec.entries),
    2 ** STD_BITS * Math.sqrt((2 * Number(share.num)) / Number(share.den)),
  );
  let f = Math.max(-F_LIMIT, Math.min(F_LIMIT, Math.ceil(Math.log2(target / l2))));
  let got = calibrateAt(spec, ctx, share, f);
  while (got === null && f < F_LIMIT) got = calibrateAt(spec, ctx, share, ++f);
  if (got === null)
    throw unsafe(
      `the ${spec.kind} sums' noise cannot be sized (each row adds up to ${spec.bound}); narrow the schema bounds`,
      {
        kind: spec.kind,
      },
    );
  for (let lower = calibrateAt(spec, ctx, share, f - 1); lower !== null && f > -F_LIMIT;) {
    got = lower;
    f--;
    lower = calibrateAt(spec, ctx, share, f - 1);
  }
  return got;
}

/** Each noised kind's exact share of ρ (they sum to ρ). */
function shares(specs: readonly NoiseKindInput[], rho: Rational): Map<SumKind, Rational> {
  const noised = specs.filter((s) => s.kind === 'n' || s.bound > 0);
  const total = noised.reduce((w, s) => w + GLM_RHO_WEIGHTS[s.kind], 0);
  return new Map(
    noised.map((s) => [s.kind, rational(rho.num * BigInt(GLM_RHO_WEIGHTS[s.kind]), rho.den * BigInt(total))]),
  );
}

/** Sampler steps of `entries` draws of Skellam(agencyMu), as privacy-terms.ts counts them. */
function workOf(agencyMu: Rational, entries: number): bigint {
  const parts = BigInt(noiseParts(agencyMu));
  return BigInt(entries) * parts * (ceilSqrt(agencyMu.num, agencyMu.den * parts) + 1n);
}

function checkPrivacy(privacy: GlmPrivacyOptions): void {
  checkNonNegative(privacy.rho, 'privacy.rho');
  if (privacy.rho.num === 0n) throw new RangeError('planGlmEncoding: privacy.rho must be positive');
  const t = privacy.threshold;
  if (!Number.isSafeInteger(t) || t < 1)
    throw new RangeError('planGlmEncoding: privacy.threshold must be a positive integer');
}

/**
 * The noise of a DP round and each kind's fractional bits (see the file comment). PLAN_UNSAFE,
 * naming the fix, when the noise is beyond what agencies sample in time.
 */
export function planRoundNoise(
  specs: readonly NoiseKindInput[],
  ctx: NoiseContext,
  privacy: GlmPrivacyOptions,
): RoundNoise {
  checkPrivacy(privacy);
  const split = shares(specs, privacy.rho);
  const bits = {} as Record<SumKind, number>;
  const kinds = {} as Record<SumKind, KindNoise | null>;
  let work = 0n;
  for (const spec of specs) {
    const share = split.get(spec.kind);
    if (share === undefined) {
      bits[spec.kind] = 0;
      kinds[spec.kind] = null;
      continue;
    }
    const { f, sensitivity, mu } = leastBits(spec, ctx, share);
    const agencyMu = perAgencyMu(mu, privacy.threshold);
    if (noiseParts(agencyMu) > MAX_NOISE_PARTS)
      throw unsafe(`the ${spec.kind} sums need more noise (μ = ${formatRho(mu)}) than agencies sample; raise rho`, {
        kind: spec.kind,
      });
    work += workOf(agencyMu, spec.entries);
    bits[spec.kind] = f;
    kinds[spec.kind] = Object.freeze({
      rho: share,
      sensitivity,
      mu,
      agencyMu,
      agencyNoiseBound: skellamTailBound(agencyMu),
    });
  }
  if (work > MAX_GLM_NOISE_WORK) {
    throw unsafe(
      `drawing this round's noise would take about ${work / 1_000_000n} million sampler steps at each agency (the limit is ${MAX_GLM_NOISE_WORK / 1_000_000n} million, about 15 s); raise rho, or use fewer terms (the information has d(d+1)/2 entries)`,
      { work: work.toString() },
    );
  }
  const noise = Object.freeze({ rho: privacy.rho, threshold: privacy.threshold, kinds: Object.freeze(kinds), work });
  return { bits: Object.freeze(bits), noise };
}

/** The proof lines of the noise: the split, and per kind its Δ, μ, μ/τ and B. */
export function noiseProofLines(noise: GlmPlanNoise): string[] {
  const w = GLM_RHO_WEIGHTS;
  const lines = [
    `privacy: the round spends ρ = ${formatRho(noise.rho)} (zCDP), split n ${w.n} : gradient ${w.gradient} : information ${w.information} : deviance ${w.deviance} : saturated ${w.saturated} over the kinds that depend on the rows; each agency adds Skellam(μ/τ) to each entry, τ = ${noise.threshold}, so any τ survivors carry Skellam(μ)`,
  ];
  for (const [kind, k] of Object.entries(noise.kinds)) {
    if (k === null) {
      lines.push(`${kind}: identically 0 for this family, not noised`);
      continue;
    }
    lines.push(
      `${kind}: ρ = ${formatRho(k.rho)}, Δ1 = ${k.sensitivity.l1}, Δ2² = ${k.sensitivity.l2Squared} (units), μ = ${formatRho(k.mu)}, μ/τ = ${formatRho(k.agencyMu)}, B = ${k.agencyNoiseBound} (P(|noise| > B) < 2^-100)`,
    );
  }
  lines.push(`sampling: ${noise.work} sampler steps at each agency ≤ ${MAX_GLM_NOISE_WORK}`);
  return lines;
}

function noiseOf(plan: GlmEncodingPlan, what: string): GlmPlanNoise {
  if (plan.privacy === undefined) throw new RangeError(`${what}: the plan is exact (it has no privacy)`);
  return plan.privacy;
}

/**
 * One agency's share of a DP round's noise: one Skellam(μ/τ) draw per entry (0 for kinds not
 * noised), in integer units, in entry order, to pass to `encodeGlmSums`. Draws in chunks and
 * yields to the event loop between them, like drawCellNoiseYielding. INTERNAL in the 2^-100 event
 * that a draw leaves its tail bound (drawNoise).
 */
export async function drawGlmNoise(plan: GlmEncodingPlan, random?: RandomSource): Promise<BigInt64Array> {
  const noise = noiseOf(plan, 'drawGlmNoise');
  const out = new BigInt64Array(plan.entries);
  for (const [kind, encoding] of Object.entries(plan.kinds) as [SumKind, GlmEncodingPlan['kinds'][SumKind]][]) {
    const k = noise.kinds[kind];
    if (k === null) continue;
    for (let i0 = 0; i0 < encoding.entries; i0 += CHUNK_ENTRIES) {
      const n = Math.min(CHUNK_ENTRIES, encoding.entries - i0);
      out.set(drawNoise(k.agencyMu, n, random), encoding.firstEntry + i0);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return out;
}

/**
 * The variance of each entry's noise in the decoded total, in real units: 2·(μ/τ)·s·2^-2f for
 * s = `contributors` agencies (τ unless told: the least the total carries). The agencies'
 * roundings add about s/12 units² more, negligible beside 2μ ≥ 2^16 units² (the plan's rule).
 */
export function glmNoiseVariance(plan: GlmEncodingPlan, contributors?: number): GlmNoiseVariance {
  const noise = noiseOf(plan, 'glmNoiseVariance');
  const s = contributors ?? noise.threshold;
  if (!Number.isSafeInteger(s) || s < noise.threshold || s > plan.agencies)
    throw new RangeError(
      'glmNoiseVariance: contributors must be an integer from the threshold to the planned agencies',
    );
  const variance = (kind: SumKind): number => {
    const k = noise.kinds[kind];
    if (k === null) return 0;
    const mu = Number(k.agencyMu.num) / Number(k.agencyMu.den);
    return 2 * mu * s * 2 ** (-2 * plan.kinds[kind].fractionalBits);
  };
  return Object.freeze({
    n: variance('n'),
    gradient: variance('gradient'),
    information: variance('information'),
    deviance: variance('deviance'),
    saturated: variance('saturated'),
  });
}
