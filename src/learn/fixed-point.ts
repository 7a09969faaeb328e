/**
 * Fixed-point encoding of one agency's round sums (sums.ts) into slot values mod the plain
 * modulus t, and decoding of their total over agencies, with a proof that the total cannot wrap.
 *
 * Entries, in slot order: n, gradient[0..d), information[0..d(d+1)/2), deviance, saturated
 * (E = d(d+1)/2 + d + 3), each in L consecutive slots (lowest limb first; entry i starts at slot
 * i·L), ciphertext after ciphertext (slot s is position s mod N of ciphertext ⌊s/N⌋).
 *
 * - Rounding happens once per agency and entry: the agency sums its rows in floating point and
 *   contributes V = round(S·2^f) (f the entry kind's fractional bits; n is an exact count, f = 0).
 *   The total over A agencies decodes to Σ V_a·2^-f, within A·2^-(f+1) of Σ S_a.
 * - Bound: a row adds at most b to an entry in absolute value (record-bounds.ts: score for the
 *   gradient, weight for the information, deviance; |saturated log-likelihood| at y_max for
 *   poisson), so |S| ≤ maxRows·b·σ at one agency, σ = 1 + (maxRows + 64)·2^-52 covering the
 *   rounding of the products and the summation, and |V| ≤ C = ⌈maxRows·b·σ·2^f⌉. The encoder
 *   refuses a V beyond C (DATA_INVALID), so the proof never rests on the data being honest.
 * - Limbs: with M = ⌊(t−1)/A⌋ and B the largest power of two ≤ M + 1 (packing.ts' base), V is
 *   written q·B^(L−1) + Σ_{j<L−1} v_j·B^j with digits 0 ≤ v_j ≤ B−1 and a signed top limb
 *   q = ⌊V/B^(L−1)⌋, |q| ≤ Q = ⌈C/B^(L−1)⌉, stored as q mod t (t − |q| when negative). A low
 *   limb's total lies in [0, A·(B−1)] ⊆ [0, t−1]; the top limb's in [−A·Q, A·Q], which lifts
 *   centred (s ≤ H = ⌊(t−1)/2⌋ → s, else s − t) exactly when A·Q ≤ H. Secure-aggregation masks
 *   sum to 0 mod t, so the decrypted slots are these totals mod t: the total is exact for any
 *   number of contributors up to A.
 * - f: the largest that fits, capped at 52 − ⌊log2 b⌋ (the agency's rounding is then below one
 *   ulp of a record's bound: more bits would encode float noise). The plan refuses (PLAN_UNSAFE)
 *   when the decoded total's error bound A·2^-(f+1) exceeds ε·b (ε = `recordPrecision`, 2^-20 by
 *   default: a millionth of what one record can add) for any entry kind.
 * - L: the fewest limbs meeting the precision rule, then, within the ciphertexts those need, as
 *   many more as raise some f toward its cap (spare slots of a ciphertext cost nothing).
 *
 * A differentially private round (`options.privacy`) noises every entry that depends on the rows
 * (glm-noise.ts sizes the noise): f per kind is instead the least that keeps the noise well above
 * the rounding (the precision rule is moot under noise), each agency adds its draw z, |z| ≤ B, to
 * round(S·2^f) before the limbs, C = ⌈maxRows·b·σ·2^f⌉ + B, and L is the fewest limbs that hold
 * every C. Exact plans are the same as without privacy, field for field (no `privacy` key).
 */
import { FedstatError } from '../errors.js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import { BFV_N8192_T60 } from '../he/presets.js';
import type { ModelCoding } from './design.js';
import { familyOf } from './family.js';
import type { RecordBounds } from './record-bounds.js';
import { bitLength, proofOf } from './fixed-point-proof.js';
import { planRoundNoise } from './glm-noise.js';
import type { GlmPlanNoise, GlmPrivacyOptions, RoundNoise } from './glm-noise.js';
import { emptySums } from './sums.js';
import type { GlmSums } from './sums.js';

/** The entry kinds of a round's sums, in slot order. */
export type SumKind = 'n' | 'gradient' | 'information' | 'deviance' | 'saturated';

const KINDS: readonly SumKind[] = ['n', 'gradient', 'information', 'deviance', 'saturated'];

/** Options of `planGlmEncoding`. */
export interface FixedPointOptions {
  /** Slots per ciphertext N (default 8192, BFV_N8192_T60). */
  readonly slotsPerCiphertext?: number;
  /** The most ciphertexts one agency's contribution may take (default 1, at most 32). */
  readonly maxCiphertexts?: number;
  /** ε: the decoded total's error must stay within ε·b for every entry (default 2^-20). */
  readonly recordPrecision?: number;
  /** Differential privacy of the round (glm-noise.ts); absent for exact sums. */
  readonly privacy?: GlmPrivacyOptions;
}

/** How the entries of one kind are encoded (all entries of a kind share a bound). */
export interface KindEncoding {
  /** Index of the kind's first entry (its first slot is firstEntry·limbs). */
  readonly firstEntry: number;
  readonly entries: number;
  /** b: the most one row adds to one entry, in absolute value (1 for n). */
  readonly recordBound: number;
  /** f: entries are encoded as round(S·2^f); 0 for n, which is exact. */
  readonly fractionalBits: number;
  /** C: the largest |round(S·2^f)| one agency may contribute, its noise included in a DP plan. */
  readonly agencyBound: bigint;
  /** Q = ⌈C/B^(L−1)⌉: the largest |top limb| of one agency. */
  readonly topLimbBound: bigint;
  /** A·2^-(f+1): the largest |decoded total − Σ of the agencies' float sums| (0 for n). */
  readonly errorBound: number;
}

/** The encoding of a round's sums for `agencies` agencies of at most `maxRows` rows each. */
export interface GlmEncodingPlan {
  /** d: the number of coefficients. */
  readonly coefficients: number;
  readonly agencies: number;
  readonly maxRows: number;
  readonly plainModulus: bigint;
  /** B: the base of the limbs. */
  readonly limbBase: bigint;
  /** L: slots per entry, the same for every entry. */
  readonly limbs: number;
  /** E = d(d+1)/2 + d + 3. */
  readonly entries: number;
  /** E·L. */
  readonly slotsUsed: number;
  readonly slotsPerCiphertext: number;
  /** ⌈slotsUsed / slotsPerCiphertext⌉; the encoded vector has ciphertextCount·slotsPerCiphertext slots. */
  readonly ciphertextCount: number;
  readonly kinds: Readonly<Record<SumKind, KindEncoding>>;
  /** The inequalities that make the total exact, with their numbers. */
  readonly proof: readonly string[];
  /** The noise of a DP round; absent (not null) in an exact plan, so its canonical JSON is unchanged. */
  readonly privacy?: GlmPlanNoise;
}

const DEFAULT_RECORD_PRECISION = 2 ** -20;
/** |f| never exceeds this (2^f stays a finite double). */
const F_LIMIT = 1000;

function entryCount(d: number): number {
  return (d * (d + 1)) / 2 + d + 3;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function planError(message: string, details: Record<string, unknown>): FedstatError {
  return new FedstatError('PLAN_UNSAFE', message, { details });
}

/** max |saturated log-likelihood| of a row: 0 but for poisson, where it grows with y. */
function saturatedBound(coding: ModelCoding): number {
  if (coding.family !== 'poisson' || coding.response.kind !== 'integer') return 0;
  // ℓ_sat(y) = log P(Y = y | μ = y) ≤ 0 decreases with y (P(0|0) = 1, P(1|1) = e^-1, … ~ 1/√(2πy)).
  const poisson = familyOf('poisson');
  return Math.max(
    Math.abs(poisson.saturatedLogLik(coding.response.min)),
    Math.abs(poisson.saturatedLogLik(coding.response.max)),
  );
}

/** One kind of entry as the planner sees it (fixed-point-proof.ts reads it too). */
export interface KindSpec {
  readonly kind: SumKind;
  readonly firstEntry: number;
  readonly entries: number;
  readonly bound: number;
}

/** The planner's arithmetic, shared by every limb count it tries (and the proof's numbers). @internal */
export class Space {
  readonly half: bigint;
  readonly base: bigint;
  readonly parties: bigint;
  readonly slack: number;

  constructor(
    readonly t: bigint,
    readonly agencies: number,
    readonly maxRows: number,
    readonly precision: number,
  ) {
    this.half = (t - 1n) / 2n;
    this.parties = BigInt(agencies);
    const m = (t - 1n) / this.parties;
    this.base = m < 1n ? 0n : 1n << BigInt(bitLength(m + 1n) - 1);
    this.slack = 1 + (maxRows + 64) * 2 ** -52;
  }

  /** C at f, or null when it is not a finite number. */
  agencyBound(spec: KindSpec, f: number): bigint | null {
    if (spec.kind === 'n') return BigInt(this.maxRows);
    if (spec.bound === 0) return 0n;
    const x = this.maxRows * spec.bound * this.slack * 2 ** f;
    return Number.isFinite(x) ? BigInt(Math.ceil(x)) : null;
  }

  topBound(c: bigint, limbs: number): bigint {
    return ceilDiv(c, this.base ** BigInt(limbs - 1));
  }

  fits(c: bigint | null, limbs: number): boolean {
    return c !== null && this.parties * this.topBound(c, limbs) <= this.half;
  }

  /** 52 − ⌊log2 b⌋: rounding below one ulp of b. */
  cap(spec: KindSpec): number {
    if (spec.kind === 'n' || spec.bound === 0) return 0;
    return Math.min(F_LIMIT, 52 - Math.floor(Math.log2(spec.bound)));
  }

  errorBound(spec: KindSpec, f: number): number {
    return spec.kind === 'n' || spec.bound === 0 ? 0 : this.agencies * 2 ** -(f + 1);
  }

  /** The fewest fractional bits meeting A·2^-(f+1) ≤ ε·b (never above the cap). */
  needed(spec: KindSpec): number {
    if (spec.kind === 'n' || spec.bound === 0) return 0;
    const cap = this.cap(spec);
    let f = Math.max(-F_LIMIT, Math.ceil(Math.log2(this.agencies / (2 * this.precision * spec.bound))) - 1);
    while (f < cap && this.errorBound(spec, f) > this.precision * spec.bound) f++;
    return Math.min(f, cap);
  }

  /** The largest f ≤ cap whose bound fits `limbs` limbs, or null when none does. */
  largest(spec: KindSpec, limbs: number): number | null {
    if (spec.kind === 'n' || spec.bound === 0) return this.fits(this.agencyBound(spec, 0), limbs) ? 0 : null;
    const cap = this.cap(spec);
    const room = Math.log2(Number(this.half / this.parties)) + (limbs - 1) * Math.log2(Number(this.base));
    let f = Math.max(-F_LIMIT, Math.min(cap, Math.floor(room - Math.log2(this.maxRows * spec.bound * this.slack))));
    while (f > -F_LIMIT && !this.fits(this.agencyBound(spec, f), limbs)) f--;
    if (!this.fits(this.agencyBound(spec, f), limbs)) return null;
    while (f < cap && this.fits(this.agencyBound(spec, f + 1), limbs)) f++;
    return f;
  }
}

function checkInputs(
  coding: ModelCoding,
  bounds: RecordBounds,
  maxRows: number,
  agencies: number,
  plainModulus: bigint,
  options: FixedPointOptions,
): void {
  if (!Number.isSafeInteger(maxRows) || maxRows < 1)
    throw new RangeError('planGlmEncoding: maxRows must be a positive integer');
  if (!Number.isSafeInteger(agencies) || agencies < 1)
    throw new RangeError('planGlmEncoding: agencies must be a positive integer');
  if (typeof plainModulus !== 'bigint' || plainModulus < 3n)
    throw new RangeError('planGlmEncoding: plainModulus must be a bigint ≥ 3');
  for (const [name, v] of [
    ['score', bounds.score],
    ['weight', bounds.weight],
    ['deviance', bounds.deviance],
  ] as const) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`planGlmEncoding: the ${name} bound must be finite and ≥ 0`);
  }
  const n = options.slotsPerCiphertext;
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 1))
    throw new RangeError('planGlmEncoding: slotsPerCiphertext must be a positive integer');
  const c = options.maxCiphertexts;
  if (c !== undefined && (!Number.isSafeInteger(c) || c < 1 || c > MAX_CIPHERTEXTS))
    throw new RangeError(`planGlmEncoding: maxCiphertexts must be an integer from 1 to ${MAX_CIPHERTEXTS}`);
  const e = options.recordPrecision;
  if (e !== undefined && !(e > 0 && e < 1)) throw new RangeError('planGlmEncoding: recordPrecision must be in (0, 1)');
  if (!Number.isSafeInteger(coding.columns.length) || coding.columns.length < 1)
    throw new RangeError('planGlmEncoding: the coding has no coefficients');
}

/**
 * Plans the fixed-point encoding of a round's sums (see the file comment) for `agencies`
 * agencies of at most `maxRows` rows each, with `bounds` from `recordBounds(coding, β)` at the
 * round's β. PLAN_UNSAFE, naming the entry kind and what to change, when no encoding within the
 * ciphertext budget keeps the total below t/2 at the required precision.
 */
export function planGlmEncoding(
  coding: ModelCoding,
  bounds: RecordBounds,
  maxRows: number,
  agencies: number,
  plainModulus: bigint,
  options: FixedPointOptions = {},
): GlmEncodingPlan {
  checkInputs(coding, bounds, maxRows, agencies, plainModulus, options);
  const d = coding.columns.length;
  const perCt = options.slotsPerCiphertext ?? BFV_N8192_T60.polyModulusDegree;
  const maxCt = options.maxCiphertexts ?? 1;
  const space = new Space(plainModulus, agencies, maxRows, options.recordPrecision ?? DEFAULT_RECORD_PRECISION);
  const t = plainModulus;
  if (space.base < 2n || space.half < space.parties) {
    throw planError(
      `${agencies} agencies cannot share a plain modulus of ${bitLength(t)} bits without wrap-around; use fewer agencies or a preset with a larger plain modulus`,
      { agencies },
    );
  }
  const entries = entryCount(d);
  const budget = maxCt * perCt;
  if (entries > budget) {
    let most = 0;
    while (entryCount(most + 1) <= budget) most++;
    throw planError(
      `a model with ${d} coefficients has ${entries} sums (n, ${d} gradient, ${(d * (d + 1)) / 2} information, deviance, saturated) but ${maxCt} ciphertext(s) of ${perCt} slots hold ${budget}: at most ${most} coefficients fit; drop terms or category levels, or allow more ciphertexts`,
      { coefficients: d, entries, slots: budget, maxCoefficients: most },
    );
  }
  const specs: KindSpec[] = [];
  const sizes: Record<SumKind, number> = { n: 1, gradient: d, information: entries - d - 3, deviance: 1, saturated: 1 };
  const recordBound: Record<SumKind, number> = {
    n: 1,
    gradient: bounds.score,
    information: bounds.weight,
    deviance: bounds.deviance,
    saturated: saturatedBound(coding),
  };
  let first = 0;
  for (const kind of KINDS) {
    specs.push({ kind, firstEntry: first, entries: sizes[kind], bound: recordBound[kind] });
    first += sizes[kind];
  }
  const maxLimbs = Math.floor(budget / entries);
  const shape: PlanShape = { coefficients: d, agencies, maxRows, perCt, maxCt, entries };
  if (options.privacy !== undefined) {
    const noise = planRoundNoise(specs, { maxRows, nonZero: bounds.nonZero }, options.privacy);
    return planNoisy(shape, specs, space, maxLimbs, noise);
  }
  const meets = (limbs: number): boolean =>
    specs.every((s) => {
      const f = space.largest(s, limbs);
      return f !== null && f >= space.needed(s);
    });
  let least = 1;
  while (least <= maxLimbs && !meets(least)) least++;
  if (least > maxLimbs) throw refusal(specs, space, maxLimbs, maxCt, perCt, d);
  const ciphertexts = Math.ceil((entries * least) / perCt);
  const most = Math.min(maxLimbs, Math.floor((ciphertexts * perCt) / entries));
  let limbs = least;
  while (limbs < most && specs.some((s) => space.largest(s, limbs) !== space.cap(s))) limbs++;
  const bits = (s: KindSpec): number => space.largest(s, limbs) as number;
  return assemble(shape, specs, space, limbs, bits, () => 0n);
}

/** What every plan records of its inputs. */
interface PlanShape {
  readonly coefficients: number;
  readonly agencies: number;
  readonly maxRows: number;
  readonly perCt: number;
  readonly maxCt: number;
  readonly entries: number;
}

/** The frozen plan at `limbs`, each kind at `bits(s)` with `noiseBound(s)` of room for noise. */
function assemble(
  shape: PlanShape,
  specs: readonly KindSpec[],
  space: Space,
  limbs: number,
  bits: (s: KindSpec) => number,
  noiseBound: (s: KindSpec) => bigint,
  noise?: GlmPlanNoise,
): GlmEncodingPlan {
  const kinds = {} as Record<SumKind, KindEncoding>;
  for (const s of specs) {
    const f = bits(s);
    const c = (space.agencyBound(s, f) as bigint) + noiseBound(s);
    kinds[s.kind] = Object.freeze({
      firstEntry: s.firstEntry,
      entries: s.entries,
      recordBound: s.bound,
      fractionalBits: f,
      agencyBound: c,
      topLimbBound: space.topBound(c, limbs),
      errorBound: space.errorBound(s, f),
    });
  }
  const { entries, perCt } = shape;
  const plan = {
    coefficients: shape.coefficients,
    agencies: shape.agencies,
    maxRows: shape.maxRows,
    plainModulus: space.t,
    limbBase: space.base,
    limbs,
    entries,
    slotsUsed: entries * limbs,
    slotsPerCiphertext: perCt,
    ciphertextCount: Math.ceil((entries * limbs) / perCt),
    kinds: Object.freeze(kinds),
    ...(noise === undefined ? {} : { privacy: noise }),
  };
  return Object.freeze({ ...plan, proof: Object.freeze(proofOf(plan, specs, space, shape.maxCt)) });
}

/**
 * A DP round's plan: each kind at the fractional bits its noise needs, C with the noise's room,
 * and the fewest limbs that hold every C; PLAN_UNSAFE naming the fix when none within the budget do.
 */
function planNoisy(
  shape: PlanShape,
  specs: readonly KindSpec[],
  space: Space,
  maxLimbs: number,
  { bits, noise }: RoundNoise,
): GlmEncodingPlan {
  const room = (s: KindSpec): bigint => noise.kinds[s.kind]?.agencyNoiseBound ?? 0n;
  const bound = (s: KindSpec): bigint | null => {
    const c = space.agencyBound(s, bits[s.kind]);
    return c === null ? null : c + room(s);
  };
  let limbs = 1;
  while (limbs <= maxLimbs && !specs.every((s) => space.fits(bound(s), limbs))) limbs++;
  if (limbs > maxLimbs) {
    const s = specs.find((k) => !space.fits(bound(k), maxLimbs)) as KindSpec;
    throw planError(
      `the noisy ${s.kind} sums (up to ${space.maxRows} rows at each of ${space.agencies} agencies, ${bits[s.kind]} fractional bits) do not fit ${maxLimbs} limb(s) of ${bitLength(space.base) - 1} bits per entry in at most ${shape.maxCt} ciphertext(s) of ${shape.perCt} slots; allow more ciphertexts, lower maxRows or the schema bounds, or use fewer agencies`,
      { kind: s.kind, limbs: maxLimbs },
    );
  }
  return assemble(shape, specs, space, limbs, (s) => bits[s.kind], room, noise);
}

function refusal(
  specs: readonly KindSpec[],
  space: Space,
  limbs: number,
  maxCt: number,
  perCt: number,
  d: number,
): FedstatError {
  const s = specs.find((k) => {
    const f = space.largest(k, limbs);
    return f === null || f < space.needed(k);
  }) as KindSpec;
  const got = space.largest(s, limbs);
  const what =
    s.kind === 'n'
      ? `the row count (up to ${space.maxRows} rows at each of ${space.agencies} agencies)`
      : `the ${s.kind} sums (each row adds up to ${s.bound}, up to ${space.maxRows} rows at each of ${space.agencies} agencies)`;
  const need =
    s.kind === 'n'
      ? 'to be exact'
      : `${space.needed(s)} fractional bits for an error ≤ ${space.precision} of one row's bound`;
  const have = got === null ? 'cannot fit at all' : `leave room for ${got} fractional bits only`;
  return planError(
    `${what} need ${need}, but ${limbs} limb(s) of ${bitLength(space.base) - 1} bits per entry (${d} coefficients in at most ${maxCt} ciphertext(s) of ${perCt} slots) below half the ${bitLength(space.t)}-bit plain modulus ${have}; allow more ciphertexts, lower maxRows or the schema bounds, or use fewer agencies`,
    { kind: s.kind, limbs, needed: s.kind === 'n' ? 0 : space.needed(s), fits: got },
  );
}

function values(sums: GlmSums, kind: SumKind): ArrayLike<number> {
  if (kind === 'gradient') return sums.gradient;
  if (kind === 'information') return sums.information;
  return [kind === 'n' ? sums.n : kind === 'deviance' ? sums.deviance : sums.saturated];
}

function checkShape(plan: GlmEncodingPlan, d: number, p: number, what: string): void {
  if (d !== plan.coefficients || p !== (d * (d + 1)) / 2)
    throw new RangeError(
      `${what}: the sums are for another number of coefficients than the plan's ${plan.coefficients}`,
    );
}

/** The noise an encoder adds: one value per entry for a DP plan, none for an exact one. */
function checkNoise(plan: GlmEncodingPlan, noise: BigInt64Array | undefined): void {
  if (plan.privacy === undefined && noise !== undefined)
    throw new RangeError('encodeGlmSums: an exact plan takes no noise');
  if (plan.privacy !== undefined && !(noise instanceof BigInt64Array && noise.length === plan.entries))
    throw new RangeError(`encodeGlmSums: a DP plan needs this agency's noise, ${plan.entries} values (drawGlmNoise)`);
}

/**
 * One agency's sums as slot values mod t (ciphertextCount·slotsPerCiphertext of them, unused
 * slots zero), to be masked and encrypted like any contribution; in a DP plan with the agency's
 * `noise` (drawGlmNoise, in units) added to round(S·2^f) first. DATA_INVALID when an entry is
 * not finite, n is not a count of at most maxRows, or an entry exceeds its planned bound (that
 * would void the no-wrap proof); the message names the entry, never its value. RangeError when
 * the noise is missing, is given to an exact plan, or leaves its tail bound.
 */
export function encodeGlmSums(sums: GlmSums, plan: GlmEncodingPlan, noise?: BigInt64Array): BigUint64Array {
  checkShape(plan, sums.gradient.length, sums.information.length, 'encodeGlmSums');
  checkNoise(plan, noise);
  const t = plan.plainModulus;
  const base = plan.limbBase;
  const out = new BigUint64Array(plan.ciphertextCount * plan.slotsPerCiphertext);
  for (const kind of KINDS) {
    const k = plan.kinds[kind];
    const scale = 2 ** k.fractionalBits;
    const vs = values(sums, kind);
    const room = plan.privacy?.kinds[kind]?.agencyNoiseBound ?? 0n;
    for (let i = 0; i < k.entries; i++) {
      const v = vs[i] as number;
      const bad = (why: string): FedstatError =>
        new FedstatError(
          'DATA_INVALID',
          `${kind}${k.entries > 1 ? ` entry ${i}` : ''} of this agency's round sums ${why}; check the agency's row count against maxRows and its rows against the schema bounds`,
          { details: { kind, entry: i } },
        );
      if (kind === 'n' ? !Number.isSafeInteger(v) || v < 0 : !Number.isFinite(v)) throw bad('is not a valid number');
      let rest = BigInt(Math.round(v * scale));
      const data = k.agencyBound - room;
      if (rest > data || -rest > data) throw bad("exceeds the encoding's proven bound");
      const z = noise?.[k.firstEntry + i] ?? 0n;
      if (z > room || -z > room) throw new RangeError("encodeGlmSums: a noise value exceeds the plan's tail bound");
      rest += z;
      const firstSlot = (k.firstEntry + i) * plan.limbs;
      for (let j = 0; j < plan.limbs - 1; j++) {
        const digit = ((rest % base) + base) % base;
        out[firstSlot + j] = digit;
        rest = (rest - digit) / base;
      }
      out[firstSlot + plan.limbs - 1] = rest < 0n ? t + rest : rest;
    }
  }
  return out;
}

/**
 * The total of the agencies' encoded sums from the decrypted slot totals (mod t, masks already
 * cancelled): low limbs as they are, the top limb lifted centred, limbs recombined, scaled by
 * 2^-f. BAD_MESSAGE when a slot lies outside what at most `plan.agencies` honest contributions
 * can total or an unused slot is not zero (a malformed contribution, another key, more agencies).
 */
export function decodeGlmTotal(slots: BigUint64Array, plan: GlmEncodingPlan): GlmSums {
  if (!(slots instanceof BigUint64Array) || slots.length !== plan.ciphertextCount * plan.slotsPerCiphertext)
    throw new RangeError(
      `decodeGlmTotal: expected a BigUint64Array of ${plan.ciphertextCount * plan.slotsPerCiphertext} slots`,
    );
  const t = plan.plainModulus;
  const half = (t - 1n) / 2n;
  const parties = BigInt(plan.agencies);
  const lowMax = parties * (plan.limbBase - 1n);
  const implausible = (): FedstatError =>
    new FedstatError(
      'BAD_MESSAGE',
      "decrypted GLM sums exceed what the plan allows: a contribution was malformed, encrypted under another key, or more agencies contributed than planned; check the contributors' keys and signatures",
    );
  const out = emptySums(plan.coefficients);
  for (const kind of KINDS) {
    const k = plan.kinds[kind];
    const topMax = parties * k.topLimbBound;
    const scale = 2 ** -k.fractionalBits;
    for (let i = 0; i < k.entries; i++) {
      const firstSlot = (k.firstEntry + i) * plan.limbs;
      const s = slots[firstSlot + plan.limbs - 1] as bigint;
      let total = s <= half ? s : s - t;
      if (s >= t || total > topMax || -total > topMax) throw implausible();
      for (let j = plan.limbs - 2; j >= 0; j--) {
        const low = slots[firstSlot + j] as bigint;
        if (low > lowMax) throw implausible();
        total = total * plan.limbBase + low;
      }
      const v = Number(total) * scale;
      if (kind === 'gradient') out.gradient[i] = v;
      else if (kind === 'information') out.information[i] = v;
      else if (kind === 'n') out.n = v;
      else if (kind === 'deviance') out.deviance = v;
      else out.saturated = v;
    }
  }
  for (let s = plan.slotsUsed; s < slots.length; s++) if (slots[s] !== 0n) throw implausible();
  return out;
}
