/**
 * The no-wrap proof of a GLM encoding plan (fixed-point.ts), as the lines the plan carries: the
 * plain modulus and the room below half of it, the slot count, how limbs lift, and per entry kind
 * its bound C, the total A·C (or A·⌈C/B^(L−1)⌉) against H, the precision of an exact plan or the
 * noise of a DP plan (glm-noise.ts). Part of the plan, so of its digest: exact plans' lines are
 * fixed text.
 */
import type { GlmEncodingPlan, KindSpec, Space } from './fixed-point.js';
import { noiseProofLines } from './glm-noise.js';
import type { GlmPlanNoise } from './glm-noise.js';

/** The number of bits of a non-negative bigint (0 for 0). */
export function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/** x as "2^k" for a power of two, else "≈ 2^k.k". */
function pow2(x: bigint): string {
  if (x > 0n && (x & (x - 1n)) === 0n) return `2^${bitLength(x) - 1}`;
  return `≈ 2^${Math.log2(Number(x)).toFixed(1)}`;
}

/** The proof lines of `plan` (see the file comment). */
export function proofOf(
  plan: Omit<GlmEncodingPlan, 'proof'>,
  specs: readonly KindSpec[],
  space: Space,
  maxCt: number,
): string[] {
  const { limbs, limbBase: b, agencies: a, plainModulus: t } = plan;
  const h = space.half;
  const top = limbs === 1 ? 'C' : `⌈C/B^${limbs - 1}⌉`;
  const lines = [
    `t = ${t} (${bitLength(t)} bits), H = ⌊(t−1)/2⌋ = ${h}; A = ${a} agencies of at most maxRows = ${plan.maxRows} rows; d = ${plan.coefficients}`,
    `slots: E = 1 + ${plan.coefficients} + ${plan.kinds.information.entries} + 2 = ${plan.entries} entries × L = ${limbs} limb(s) = ${plan.slotsUsed} ≤ ${plan.ciphertextCount}·${plan.slotsPerCiphertext} (${plan.ciphertextCount} of at most ${maxCt} ciphertext(s))`,
    limbs === 1
      ? `one limb: an agency's V, |V| ≤ C, is stored as V mod t; the total over ≤ A agencies lies in [−A·C, A·C] and lifts exactly (s ≤ H → s, else s − t) when A·C ≤ H`
      : `limbs: B = ${pow2(b)}, low limbs are digits 0..B−1 with A·(B−1) = ${space.parties * (b - 1n)} ≤ t−1 = ${t - 1n} (their totals lift from [0, t) as they are); the top limb q = ⌊V/B^${limbs - 1}⌋, |q| ≤ ${top}, is stored as q mod t and its total lifts exactly (s ≤ H → s, else s − t) when A·${top} ≤ H`,
    `an agency's float sum of ≤ maxRows rows, each adding ≤ b: |S| ≤ maxRows·b·σ, σ = 1 + (maxRows + 64)·2^-52 = ${space.slack}; ` +
      (plan.privacy === undefined
        ? `V = round(S·2^f), |V| ≤ C = ⌈maxRows·b·σ·2^f⌉ (the encoder refuses more)`
        : `V = round(S·2^f) + z with the agency's noise |z| ≤ B, |V| ≤ C = ⌈maxRows·b·σ·2^f⌉ + B (the encoder refuses more)`),
  ];
  for (const s of specs) {
    const k = plan.kinds[s.kind];
    const line = plan.privacy === undefined ? exactLine(plan, s) : noisyLine(plan, s, plan.privacy);
    lines.push(
      `${line}; A·${top} = ${a}·${k.topLimbBound} = ${space.parties * k.topLimbBound} ≤ H${exactTail(plan, s, space)}`,
    );
  }
  lines.push(
    'masks: the agencies’ masks sum to 0 mod t, so the decrypted slots are the totals mod t, each lifted as above; the total is Σ_j S_j·B^j exactly, and decodes as its value·2^-f',
  );
  if (plan.privacy !== undefined) lines.push(...noiseProofLines(plan.privacy));
  return lines;
}

/** An exact plan's kind: its bound, f and C. */
function exactLine(plan: Omit<GlmEncodingPlan, 'proof'>, s: KindSpec): string {
  const k = plan.kinds[s.kind];
  if (s.kind === 'n') return `n (exact count, f = 0): C = maxRows = ${k.agencyBound}`;
  return `${s.kind} (${s.entries} entr${s.entries === 1 ? 'y' : 'ies'}): b = ${s.bound}, f = ${k.fractionalBits}, C = ${k.agencyBound}${k.agencyBound > 0n ? ` (${pow2(k.agencyBound)})` : ''}`;
}

/** An exact plan's precision and why f is not larger; nothing for n, a zero bound or a DP plan. */
function exactTail(plan: Omit<GlmEncodingPlan, 'proof'>, s: KindSpec, space: Space): string {
  if (plan.privacy !== undefined || s.kind === 'n' || s.bound === 0) return '';
  const k = plan.kinds[s.kind];
  const f = k.fractionalBits;
  const a = plan.agencies;
  let line = `; error ≤ A·2^-(f+1) = ${k.errorBound.toExponential(3)} ≤ ε·b = ${(space.precision * s.bound).toExponential(3)} (${(k.errorBound / (a * plan.maxRows * s.bound)).toExponential(3)} of the total's bound A·maxRows·b)`;
  const next = space.agencyBound(s, f + 1);
  line +=
    f === space.cap(s)
      ? `; f = 52 − ⌊log2 b⌋ is the cap (rounding below one ulp of b)`
      : `; f + 1 would not fit: A·${space.topBound(next as bigint, plan.limbs)} > H`;
  return line;
}

/** A DP plan's kind: its data bound, the noise room B, and why f is what it is. */
function noisyLine(plan: Omit<GlmEncodingPlan, 'proof'>, s: KindSpec, noise: GlmPlanNoise): string {
  const k = plan.kinds[s.kind];
  const f = k.fractionalBits;
  const b = noise.kinds[s.kind]?.agencyNoiseBound ?? 0n;
  const data = k.agencyBound - b;
  const head =
    s.kind === 'n'
      ? `n (count, f = 0): C = maxRows + B = ${data} + ${b}`
      : `${s.kind} (${s.entries} entr${s.entries === 1 ? 'y' : 'ies'}): b = ${s.bound}, f = ${f}, C = ${data} + B = ${data} + ${b} = ${k.agencyBound}`;
  if (s.kind === 'n' || s.bound === 0) return head;
  return `${head}; f is the least with noise std √(2μ) ≥ 2^8 units and 2^f·σ·L2 ≥ 16·√E (glm-noise.ts); rounding error ≤ A·2^-(f+1) = ${k.errorBound.toExponential(3)}`;
}
