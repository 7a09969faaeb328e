/**
 * The integer vector one agency contributes to a federated-averaging round (issue 14), its
 * fixed-point plan with the proof that no slot total wraps the plain modulus, and its noise.
 *
 * Entries, one slot each, in this order (a kind may have 0 entries):
 * - `update` (P entries): without DP, round(n·(local − global)·2^f), the agency's update weighted
 *   by its training examples n, so the coordinator learns only Σn·Δ and Σn, never one agency's n;
 *   with DP, Σ_i q_i over the agency's training records, q_i the record's gradient at the global
 *   parameters clipped to L2 ≤ C and rounded to units of 2^-f without bias (local-round.ts).
 * - `examples` (1): n, the training records.
 * - `loss` (1): Σ_i round(min(loss_i, LOSS_CAP)·2^g) over the training records, at the global parameters.
 * - `validationCount`, `validationLoss` (1 each, 0 without a validation split): the same over the
 *   held-out records; `histogram` (2·AUC_BINS, binary only): held-out records by predicted
 *   probability bin, positives then negatives, from which the coordinator draws the AUC.
 *
 * Privacy (DP rounds). Neighbours: one record added or removed at one agency. Whether a record is
 * held out is a function of the record and the run alone (local-round.ts), so a neighbour changes
 * either the training kinds or the validation kinds, never both: each group gets the round's whole
 * ρ, split inside the group by weight (update 16 : examples 1 : loss 1; count 1 : loss 1 :
 * histogram 2), and the round is ρ-zCDP (the other group's output has the same distribution).
 * Sensitivities in integer units: a record's rounded clipped gradient q has ‖q‖₂ ≤ σ·C·2^f + √P and
 * ‖q‖₁ ≤ √P·σ·C·2^f + P (each coordinate moves by < 1 in rounding; σ = 1 + 2^-40 covers the
 * clip's float rounding); a loss term is at most LOSS_CAP·2^g; counts and a histogram bin move by 1.
 * f is the least with 2^f·C ≥ ROUNDING_RATIO·√P, so rounding adds at most 1/8 to Δ2. Each agency adds
 * Skellam(μ/τ) to every entry of a noised kind; any τ survivors carry Skellam(μ) (dp/calibration.ts).
 */
import { skellamTailBound } from '../../dp/tail-bound.js';
import { calibrateMu, perAgencyMu } from '../../dp/calibration.js';
import { drawNoise, MAX_NOISE_PARTS, noiseParts } from '../../dp/noise-vector.js';
import type { Sensitivity } from '../../dp/accountant.js';
import type { RandomSource } from '../../dp/random.js';
import { checkNonNegative, rational, type Rational } from '../../dp/rational.js';
import { ceilSqrt } from '../../dp/tail-bound.js';
import { FedstatError } from '../../errors.js';

/** The kinds of entries, in slot order. */
export type FlKind = 'update' | 'examples' | 'loss' | 'validationCount' | 'validationLoss' | 'histogram';
export const FL_KINDS: readonly FlKind[] = [
  'update',
  'examples',
  'loss',
  'validationCount',
  'validationLoss',
  'histogram',
];
/** Probability bins of the validation histogram (AUC by the trapezoid rule over them). */
export const AUC_BINS = 64;
/** A record's loss counts at most this much in the loss sums (cross-entropy of p ≈ 1e-7). */
export const LOSS_CAP = 16;
/** 2^f·C ≥ this·√P for the update's units (rounding then adds at most 1/8 to Δ2). */
const ROUNDING_RATIO = 8;
/** Fractional bits of a loss term: in DP rounds (noise dwarfs finer units), and at most in exact rounds. */
const DP_LOSS_BITS = 8;
const EXACT_LOSS_BITS = 24;
/** The most fractional bits of an exact update; fewer than MIN_EXACT_BITS is refused. */
const MAX_EXACT_BITS = 40;
const MIN_EXACT_BITS = 12;
/** σ: a clipped gradient's norm may exceed C by float rounding of the clip. */
const CLIP_SLACK = 1 + 2 ** -40;
/** The same sampling limit as a SQL query's and a GLM round's (about 15 s at each agency). */
const MAX_FL_NOISE_WORK = 1n << 31n;
/** An agency computes its values in doubles (local-round.ts), exact only up to 2^53. */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** What both sides plan a round's encoding from. */
export interface FlEncodingInputs {
  /** P: the model's parameter count. */
  readonly parameters: number;
  readonly output: 'binary' | 'regression';
  /** Whether the round has a validation split. */
  readonly validation: boolean;
  /** DP rounds: C, the L2 bound of one record's gradient. Exact rounds: U, the L2 bound of one agency's local − global. */
  readonly updateBound: number;
  /** No agency holds more rows (the schema's maxRows). */
  readonly maxRows: number;
  /** Agencies the no-wrap proof covers. */
  readonly agencies: number;
  readonly plainModulus: bigint;
  readonly slotsPerCiphertext: number;
  readonly maxCiphertexts: number;
  /** The round's ρ and secure-aggregation threshold; null for an exact round. */
  readonly privacy: { readonly rho: Rational; readonly threshold: number } | null;
}

/** The noise of one kind's entries. */
export interface FlKindNoise {
  readonly rho: Rational;
  readonly sensitivity: Sensitivity;
  /** Skellam parameter any τ survivors carry together. */
  readonly mu: Rational;
  /** μ/τ: what each agency adds to each entry. */
  readonly agencyMu: Rational;
  /** |one agency's noise in one entry| ≤ this, except with probability < 2^-100. */
  readonly agencyNoiseBound: bigint;
}

/** Where one kind lives and how it is scaled. */
export interface FlKindPlan {
  readonly firstEntry: number;
  readonly entries: number;
  readonly fractionalBits: number;
  /** |one agency's data value| ≤ this, in units. */
  readonly dataBound: bigint;
  /** null for an exact round or a kind without entries. */
  readonly noise: FlKindNoise | null;
}

/** The planned encoding of a round (see the file comment). */
export interface FlEncodingPlan {
  readonly inputs: FlEncodingInputs;
  readonly kinds: Readonly<Record<FlKind, FlKindPlan>>;
  /** Entries = slots used. */
  readonly entries: number;
  readonly ciphertextCount: number;
  /** Sampler steps each agency spends on its noise (0 for an exact round). */
  readonly noiseWork: bigint;
}

function unsafe(message: string, details: Record<string, unknown> = {}): FedstatError {
  return new FedstatError('PLAN_UNSAFE', message, { details });
}

function checkInputs(i: FlEncodingInputs): void {
  const whole = (n: number, low: number): boolean => Number.isSafeInteger(n) && n >= low;
  if (!whole(i.parameters, 1)) throw new RangeError('planFlEncoding: parameters must be a whole number ≥ 1');
  if (!whole(i.maxRows, 1) || !whole(i.agencies, 1) || !whole(i.slotsPerCiphertext, 1) || !whole(i.maxCiphertexts, 1))
    throw new RangeError('planFlEncoding: maxRows, agencies, slotsPerCiphertext and maxCiphertexts must be whole ≥ 1');
  if (!(Number.isFinite(i.updateBound) && i.updateBound > 0))
    throw new RangeError('planFlEncoding: updateBound must be finite and > 0');
  if (i.privacy !== null) {
    checkNonNegative(i.privacy.rho, 'privacy.rho');
    if (i.privacy.rho.num === 0n) throw new RangeError('planFlEncoding: privacy.rho must be positive');
    if (!whole(i.privacy.threshold, 1) || i.privacy.threshold > i.agencies)
      throw new RangeError('planFlEncoding: privacy.threshold must be a whole number from 1 to agencies');
  }
}

function entriesOf(i: FlEncodingInputs, kind: FlKind): number {
  if (kind === 'update') return i.parameters;
  if (kind === 'examples' || kind === 'loss') return 1;
  if (!i.validation) return 0;
  return kind === 'histogram' ? (i.output === 'binary' ? 2 * AUC_BINS : 0) : 1;
}

/** The least f with 2^f·C ≥ ROUNDING_RATIO·√P (f ≥ 0). */
function dpUpdateBits(clip: number, parameters: number): number {
  let f = 0;
  while (2 ** f * clip < ROUNDING_RATIO * Math.sqrt(parameters)) f++;
  return f;
}

/** Δ of a record's rounded clipped gradient, in units (the file comment). */
function updateSensitivity(clip: number, f: number, parameters: number): Sensitivity {
  const c = BigInt(Math.ceil(clip * 2 ** f * CLIP_SLACK));
  const p = BigInt(parameters);
  const rootP = ceilSqrt(p);
  const l2 = c + rootP; // ≥ σ·C·2^f + √P
  return { l2Squared: l2 * l2, l1: rootP * c + p };
}

function scalarSensitivity(delta: bigint): Sensitivity {
  return { l1: delta, l2Squared: delta * delta };
}

const WEIGHTS: Readonly<Record<FlKind, bigint>> = {
  update: 16n,
  examples: 1n,
  loss: 1n,
  validationCount: 1n,
  validationLoss: 1n,
  histogram: 2n,
};
const TRAINING: readonly FlKind[] = ['update', 'examples', 'loss'];
const VALIDATION: readonly FlKind[] = ['validationCount', 'validationLoss', 'histogram'];

/** Each kind's share of ρ: the whole ρ per group (training, validation), split by weight. */
function rhoShares(i: FlEncodingInputs, rho: Rational): Map<FlKind, Rational> {
  const out = new Map<FlKind, Rational>();
  for (const group of [TRAINING, VALIDATION]) {
    const kinds = group.filter((k) => entriesOf(i, k) > 0);
    const total = kinds.reduce((w, k) => w + WEIGHTS[k], 0n);
    for (const k of kinds) out.set(k, rational(rho.num * WEIGHTS[k], rho.den * total));
  }
  return out;
}

function workOf(agencyMu: Rational, entries: number): bigint {
  const parts = BigInt(noiseParts(agencyMu));
  return BigInt(entries) * parts * (ceilSqrt(agencyMu.num, agencyMu.den * parts) + 1n);
}

/** EXACT_LOSS_BITS, or fewer where maxRows capped losses would pass 2^53 (a sum of 50M rows takes 23). */
function exactLossBits(maxRows: number): number {
  let g = EXACT_LOSS_BITS;
  while (g > 0 && BigInt(maxRows) * (BigInt(LOSS_CAP) << BigInt(g)) > MAX_SAFE) g--;
  return g;
}

/** Units and data bounds per kind, before noise. */
function unitsOf(
  i: FlEncodingInputs,
  kind: FlKind,
  exactUpdateBits: number,
): { f: number; dataBound: bigint; sens: Sensitivity } {
  const rows = BigInt(i.maxRows);
  if (kind === 'update') {
    if (i.privacy === null) {
      const f = exactUpdateBits;
      return { f, dataBound: BigInt(Math.ceil(i.maxRows * i.updateBound * 2 ** f)) + 1n, sens: scalarSensitivity(0n) };
    }
    const f = dpUpdateBits(i.updateBound, i.parameters);
    const perRecord = BigInt(Math.ceil(i.updateBound * 2 ** f * CLIP_SLACK)) + 1n;
    return { f, dataBound: rows * perRecord, sens: updateSensitivity(i.updateBound, f, i.parameters) };
  }
  if (kind === 'loss' || kind === 'validationLoss') {
    const f = i.privacy === null ? exactLossBits(i.maxRows) : DP_LOSS_BITS;
    const cap = BigInt(LOSS_CAP) << BigInt(f);
    return { f, dataBound: rows * cap, sens: scalarSensitivity(cap) };
  }
  return { f: 0, dataBound: rows, sens: scalarSensitivity(1n) };
}

/** The most fractional bits an exact update can take with every slot total below t/2. */
function exactUpdateBits(i: FlEncodingInputs): number {
  const half = i.plainModulus / 2n;
  let f = MAX_EXACT_BITS;
  // Each agency's value must also be a safe integer: local-round.ts computes it in doubles.
  const bound = (bits: number): bigint => BigInt(Math.ceil(i.maxRows * i.updateBound * 2 ** bits)) + 1n;
  while (f >= MIN_EXACT_BITS && (BigInt(i.agencies) * bound(f) >= half || bound(f) > MAX_SAFE)) f--;
  if (f < MIN_EXACT_BITS)
    throw unsafe(
      `an agency's weighted update (maxRows × the update bound ${i.updateBound}) is too large for the plain modulus at ${i.agencies} agencies; lower the learning rate, the clip or the local epochs, or the schema's maxRows`,
    );
  return f;
}

/**
 * Plans a round's encoding (see the file comment). PLAN_UNSAFE, naming the fix, when a slot total
 * could wrap, the vector needs more than `maxCiphertexts` ciphertexts, or the noise is beyond what
 * agencies sample in time.
 */
export function planFlEncoding(inputs: FlEncodingInputs): FlEncodingPlan {
  checkInputs(inputs);
  const exactBits = inputs.privacy === null ? exactUpdateBits(inputs) : 0;
  const shares = inputs.privacy === null ? null : rhoShares(inputs, inputs.privacy.rho);
  const kinds = {} as Record<FlKind, FlKindPlan>;
  let next = 0;
  let work = 0n;
  const half = inputs.plainModulus / 2n;
  for (const kind of FL_KINDS) {
    const entries = entriesOf(inputs, kind);
    const { f, dataBound, sens } = unitsOf(inputs, kind, exactBits);
    let noise: FlKindNoise | null = null;
    const share = shares?.get(kind);
    if (share !== undefined && inputs.privacy !== null) {
      const mu = calibrateMu(share, sens);
      const agencyMu = perAgencyMu(mu, inputs.privacy.threshold);
      if (noiseParts(agencyMu) > MAX_NOISE_PARTS)
        throw unsafe(`the ${kind} entries need more noise than agencies can sample; raise rho or lower the clip`, {
          kind,
        });
      work += workOf(agencyMu, entries);
      noise = Object.freeze({
        rho: share,
        sensitivity: sens,
        mu,
        agencyMu,
        agencyNoiseBound: skellamTailBound(agencyMu),
      });
    }
    if (dataBound > MAX_SAFE)
      throw unsafe(
        `one agency's ${kind} entries could exceed 2^53 and lose exactness; lower the schema's maxRows or the clip`,
        { kind },
      );
    if (BigInt(inputs.agencies) * (dataBound + (noise?.agencyNoiseBound ?? 0n)) >= half)
      throw unsafe(
        `the ${kind} entries of ${inputs.agencies} agencies could wrap the plain modulus; lower the schema's maxRows, the clip, or the number of agencies`,
        { kind },
      );
    kinds[kind] = Object.freeze({ firstEntry: next, entries, fractionalBits: f, dataBound, noise });
    next += entries;
  }
  if (work > MAX_FL_NOISE_WORK)
    throw unsafe(
      `drawing this round's noise would take about ${work / 1_000_000n} million sampler steps at each agency (the limit is ${MAX_FL_NOISE_WORK / 1_000_000n} million, about 15 s); raise rho, run fewer rounds, or use a smaller model`,
      { work: work.toString() },
    );
  const ciphertextCount = Math.ceil(next / inputs.slotsPerCiphertext);
  if (ciphertextCount > inputs.maxCiphertexts)
    throw unsafe(
      `a model of ${inputs.parameters} parameters needs ${ciphertextCount} ciphertexts per agency, more than the ${inputs.maxCiphertexts} allowed; use a smaller model or a preset with more slots`,
      { ciphertextCount },
    );
  return Object.freeze({ inputs, kinds: Object.freeze(kinds), entries: next, ciphertextCount, noiseWork: work });
}

/** One agency's data values in units, one per entry (exact integers), before noise. */
export type FlUnits = Float64Array;

/**
 * The agency's slots: each entry's value plus its noise, mod t, in ciphertextCount·slotsPerCiphertext
 * slots. DATA_INVALID when a value is not an integer or exceeds its kind's data bound (that would
 * void the no-wrap proof); RangeError when the noise is missing, superfluous, or past its bound.
 */
export function encodeFlUnits(values: FlUnits, plan: FlEncodingPlan, noise?: BigInt64Array): BigUint64Array {
  if (values.length !== plan.entries) throw new RangeError(`encodeFlUnits: expected ${plan.entries} values`);
  const dp = plan.inputs.privacy !== null;
  if (dp !== (noise !== undefined) || (noise !== undefined && noise.length !== plan.entries))
    throw new RangeError('encodeFlUnits: a DP plan needs one noise value per entry (drawFlNoise), an exact plan none');
  const t = plan.inputs.plainModulus;
  const out = new BigUint64Array(plan.ciphertextCount * plan.inputs.slotsPerCiphertext);
  for (const kind of FL_KINDS) {
    const k = plan.kinds[kind];
    const room = k.noise?.agencyNoiseBound ?? 0n;
    for (let i = k.firstEntry; i < k.firstEntry + k.entries; i++) {
      const v = values[i] as number;
      if (!Number.isSafeInteger(v) || BigInt(Math.abs(v)) > k.dataBound)
        throw new FedstatError(
          'DATA_INVALID',
          `the ${kind} entries of this agency's round exceed the encoding's proven bound; check the agency's row count against maxRows`,
          { details: { kind } },
        );
      const z = noise?.[i] ?? 0n;
      if (z > room || -z > room) throw new RangeError("encodeFlUnits: a noise value exceeds the plan's tail bound");
      const total = BigInt(v) + z;
      out[i] = total < 0n ? t + total : total;
    }
  }
  return out;
}

/** The decoded total of a round, in real units. */
export interface FlTotals {
  /** Σ n·Δ (exact rounds) or Σ clipped gradients (DP rounds), with the noise. */
  readonly update: Float64Array;
  readonly examples: number;
  readonly loss: number;
  readonly validationCount: number;
  readonly validationLoss: number;
  /** Held-out records per probability bin: positives, negatives (empty for regression or no validation). */
  readonly positives: Float64Array;
  readonly negatives: Float64Array;
}

/**
 * The total from the decrypted slots (masks cancelled): each slot lifted centred mod t and scaled
 * by 2^-f. BAD_MESSAGE when a slot lies beyond what `plan.inputs.agencies` honest contributions
 * can total, or an unused slot is not zero.
 */
export function decodeFlTotal(slots: BigUint64Array, plan: FlEncodingPlan): FlTotals {
  const t = plan.inputs.plainModulus;
  if (slots.length !== plan.ciphertextCount * plan.inputs.slotsPerCiphertext)
    throw new RangeError('decodeFlTotal: the slots do not match the plan');
  const implausible = (): FedstatError =>
    new FedstatError(
      'BAD_MESSAGE',
      "decrypted round totals exceed what the plan allows: a contribution was malformed, encrypted under another key, or more agencies contributed than planned; check the contributors' keys and signatures",
    );
  const parties = BigInt(plan.inputs.agencies);
  const half = t / 2n;
  const read = (kind: FlKind): Float64Array => {
    const k = plan.kinds[kind];
    const max = parties * (k.dataBound + (k.noise?.agencyNoiseBound ?? 0n));
    const scale = 2 ** -k.fractionalBits;
    const out = new Float64Array(k.entries);
    for (let i = 0; i < k.entries; i++) {
      const s = slots[k.firstEntry + i] as bigint;
      const total = s <= half ? s : s - t;
      if (s >= t || total > max || -total > max) throw implausible();
      out[i] = Number(total) * scale;
    }
    return out;
  };
  for (let s = plan.entries; s < slots.length; s++) if (slots[s] !== 0n) throw implausible();
  const scalar = (kind: FlKind): number => read(kind)[0] ?? 0;
  const histogram = read('histogram');
  const bins = histogram.length / 2;
  return {
    update: read('update'),
    examples: scalar('examples'),
    loss: scalar('loss'),
    validationCount: scalar('validationCount'),
    validationLoss: scalar('validationLoss'),
    positives: histogram.slice(0, bins),
    negatives: histogram.slice(bins),
  };
}

/** Entries drawn between two yields to the event loop. */
const CHUNK_ENTRIES = 256;

/** One agency's share of a DP round's noise, one Skellam(μ/τ) per entry, in entry order. */
export async function drawFlNoise(plan: FlEncodingPlan, random?: RandomSource): Promise<BigInt64Array> {
  if (plan.inputs.privacy === null) throw new RangeError('drawFlNoise: the plan is exact');
  const out = new BigInt64Array(plan.entries);
  for (const kind of FL_KINDS) {
    const k = plan.kinds[kind];
    if (k.noise === null) continue;
    for (let i0 = 0; i0 < k.entries; i0 += CHUNK_ENTRIES) {
      const n = Math.min(CHUNK_ENTRIES, k.entries - i0);
      out.set(drawNoise(k.noise.agencyMu, n, random), k.firstEntry + i0);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return out;
}

/** Per-entry variance of a kind's noise in the decoded total, real units, for `contributors` agencies. */
export function flNoiseVariance(plan: FlEncodingPlan, kind: FlKind, contributors: number): number {
  const k = plan.kinds[kind];
  if (k.noise === null) return 0;
  const mu = Number(k.noise.agencyMu.num) / Number(k.noise.agencyMu.den);
  return 2 * mu * contributors * 2 ** (-2 * k.fractionalBits);
}
