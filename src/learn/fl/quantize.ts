/**
 * Fixed-point quantization of model updates with unbiased randomized rounding, and L2 clipping
 * (issue 14 groundwork, not wired into training yet).
 */
import { defaultRandom, type RandomSource } from '../../dp/random.js';

/** Largest |x·2^f| accepted, so every quantized value and its rounding fit an int64. */
const MAX_MAGNITUDE = 2 ** 62;
const TWO32 = 2 ** 32;

function checkScaleBits(scaleBits: number): void {
  if (!Number.isInteger(scaleBits) || scaleBits < 0 || scaleBits > 62)
    throw new RangeError('scaleBits must be an integer in [0, 62]; pick fewer fractional bits');
}

/**
 * Bernoulli(p) for a double p ∈ [0, 1), exactly: p is a dyadic rational, so compare a lazily drawn
 * uniform U = 0.u1u2… (32-bit words) with p word by word; P(U < p) = p with no float bias.
 * `rest * 2^32` and `rest − ⌊rest⌋` are exact in doubles, and the loop ends once p's bits run out.
 */
function bernoulliDyadic(p: number, random: RandomSource): boolean {
  let rest = p;
  while (rest > 0) {
    rest *= TWO32;
    const word = Math.floor(rest);
    rest -= word;
    const u = random.uint32();
    if (u !== word) return u < word;
  }
  return false; // U ≥ p once all of p's bits matched
}

/**
 * Quantizes each x to an integer q with E[q] = x·2^scaleBits exactly: q = ⌊y⌋ + Bernoulli(y − ⌊y⌋)
 * for y = x·2^scaleBits, so |q − y| < 1. Throws RangeError naming the index of a non-finite value
 * or of one whose |y| exceeds 2^62.
 */
export function quantizeUnbiased(
  values: Float64Array,
  scaleBits: number,
  random: RandomSource = defaultRandom(),
): BigInt64Array {
  checkScaleBits(scaleBits);
  const scale = 2 ** scaleBits;
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    if (!Number.isFinite(x)) throw new RangeError(`values[${i}] is not finite; clip or drop it before quantizing`);
    const y = x * scale; // exact: scaling by a power of two
    if (Math.abs(y) > MAX_MAGNITUDE)
      throw new RangeError(`values[${i}] exceeds 2^62 at scale 2^${scaleBits}; clip it or use fewer scaleBits`);
    const low = Math.floor(y);
    out[i] = BigInt(low) + (bernoulliDyadic(y - low, random) ? 1n : 0n);
  }
  return out;
}

/**
 * Turns a (summed) fixed-point vector back into doubles: each entry is s·2^−scaleBits, correctly
 * rounded (Number(s) rounds once; the power-of-two scaling is exact).
 */
export function dequantize(sum: BigInt64Array, scaleBits: number): Float64Array {
  checkScaleBits(scaleBits);
  const inv = 2 ** -scaleBits;
  const out = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = Number(sum[i]) * inv;
  return out;
}

/** The result of `l2Clip`: the clipped copy, the input's L2 norm, and the factor applied. */
export interface ClipResult {
  readonly clipped: Float64Array;
  readonly norm: number;
  readonly factor: number;
}

/** L2 norm, scaled by the largest magnitude so squares neither overflow nor underflow. */
export function l2Norm(values: Float64Array): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i] as number);
    if (!Number.isFinite(a)) throw new RangeError(`values[${i}] is not finite; drop it before clipping`);
    if (a > max) max = a;
  }
  if (max === 0) return 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const r = (values[i] as number) / max;
    sum += r * r;
  }
  return Math.sqrt(sum) * max;
}

function scaled(values: Float64Array, factor: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) * factor;
  return out;
}

/**
 * Scales `values` so its L2 norm is at most `c` (factor = min(1, c/norm)). Float rounding could
 * leave the clipped norm a few ulps above c, so the factor is nudged down until `l2Norm` says
 * ≤ c: the bound is what DP sensitivity relies on. Throws RangeError on a non-finite value or c.
 */
export function l2Clip(values: Float64Array, c: number): ClipResult {
  if (!Number.isFinite(c) || c <= 0) throw new RangeError('the clipping norm c must be finite and > 0');
  const norm = l2Norm(values);
  if (norm <= c) return { clipped: Float64Array.from(values), norm, factor: 1 };
  let factor = c / norm;
  let clipped = scaled(values, factor);
  while (l2Norm(clipped) > c) {
    factor *= 1 - 2 ** -50; // a few ulps per step; ends within a handful of steps
    clipped = scaled(values, factor);
  }
  return { clipped, norm, factor };
}
