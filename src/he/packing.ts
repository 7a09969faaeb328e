/**
 * Exact packing of non-negative integer cells into BFV slots, with a proof that no slot total
 * can wrap the plain modulus t.
 *
 * Every party packs the same layout and the slots are summed mod t (homomorphically, or in the
 * plaintext baseline). Let M = ⌊(t−1)/parties⌋: a slot whose value is ≤ M at every party totals
 * ≤ parties·M < t, so the mod-t sum is the integer sum. A cell whose bound b exceeds M is split
 * into base-B limbs, B the largest power of two ≤ M+1: L−1 low limbs are base-B digits (≤ B−1 ≤ M)
 * and the top limb ⌊v/B^(L−1)⌋ ≤ ⌊b/B^(L−1)⌋ ≤ M. Totals decode exactly as Σ_j S_j·B^j for any
 * number of contributors up to `parties`.
 *
 * Differentially private queries add signed noise to each cell's lowest limb (one Skellam draw
 * per party, |draw| ≤ noiseBound except with probability < 2^-100). The layout then lowers M by
 * 2·noiseBound, so every noisy total lies in [−P·nb, P·(max + nb)], a range of fewer than t
 * integers: a slot decodes as itself when ≤ P·(max + nb) and as slot − t when ≥ t − P·nb.
 */
import { FedstatError } from '../errors.js';

/** The most ciphertexts one query may need (8192 slots each at N=8192: 262,144 slots). */
export const MAX_CIPHERTEXTS = 32;

/** The slot space of a parameter set (an `HeParams` is one). */
export interface SlotSpace {
  /** Slots per ciphertext (N). */
  readonly slotCount: number;
  /** The plain modulus t: every slot is an integer mod t. */
  readonly plainModulus: bigint;
}

/** Where one cell lives in a `SlotLayout`: consecutive slots holding its value in base-B limbs. */
export interface CellSlots {
  /** Global slot index of the lowest limb (ciphertext ⌊s/slotCount⌋, position s mod slotCount). */
  readonly firstSlot: number;
  /** Number of consecutive slots, least significant limb first. */
  readonly limbs: number;
  /** The largest value the cell takes at one party. */
  readonly bound: bigint;
}

/**
 * Where every cell of a query goes in the slots of its ciphertexts, with the bounds that prove
 * no slot total wraps mod t (from `planSlotLayout`; check with `proveNoWrap`).
 */
export interface SlotLayout {
  /** B: a power of two with `parties·(B−1) < t`. */
  readonly limbBase: bigint;
  /** The number of contributors the no-wrap proof covers. */
  readonly parties: number;
  /** Largest |noise| one party adds to a cell's lowest limb (0 for exact queries). */
  readonly noiseBound: bigint;
  /** Slots per ciphertext of the space it was planned for. */
  readonly slotCount: number;
  /** The plain modulus t of the space it was planned for. */
  readonly plainModulus: bigint;
  /** One entry per cell, in the order of `cellBounds`. */
  readonly cells: readonly CellSlots[];
  /** Slots taken by all cells together, from global slot 0. */
  readonly slotsUsed: number;
  /** ⌈slotsUsed / slotCount⌉, at most MAX_CIPHERTEXTS. */
  readonly ciphertextCount: number;
}

function checkSpace(space: SlotSpace): void {
  if (!Number.isSafeInteger(space.slotCount) || space.slotCount < 1)
    throw new RangeError('slotCount must be a positive integer');
  if (typeof space.plainModulus !== 'bigint' || space.plainModulus < 2n)
    throw new RangeError('plainModulus must be a bigint ≥ 2');
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/**
 * Lays out cells (cellBounds[i] = the largest value cell i takes at ONE party) for up to
 * `parties` contributors. PLAN_UNSAFE when more than MAX_CIPHERTEXTS ciphertexts would be needed
 * or `parties` is so large that no limb base ≥ 2 fits below t.
 */
export function planSlotLayout(
  cellBounds: readonly bigint[],
  parties: number,
  space: SlotSpace,
  noiseBound = 0n,
): SlotLayout {
  checkSpace(space);
  if (!Number.isSafeInteger(parties) || parties < 1)
    throw new RangeError('planSlotLayout: parties must be a positive integer');
  if (cellBounds.length === 0) throw new RangeError('planSlotLayout: at least one cell is needed');
  if (typeof noiseBound !== 'bigint' || noiseBound < 0n)
    throw new RangeError('planSlotLayout: noiseBound must be a non-negative bigint');
  const t = space.plainModulus;
  const m = (t - 1n) / BigInt(parties) - 2n * noiseBound; // per-party ceiling of any slot
  if (m < 1n) {
    throw new FedstatError(
      'PLAN_UNSAFE',
      noiseBound > 0n
        ? `the noise of ${parties} parties does not fit a plain modulus of ${bitLength(t)} bits; raise rho, narrow the summed columns' bounds or use a preset with a larger plain modulus`
        : `${parties} parties cannot share a plain modulus of ${bitLength(t)} bits without wrap-around; use fewer parties or a preset with a larger plain modulus`,
    );
  }
  const base = 1n << BigInt(bitLength(m + 1n) - 1);
  const cells: CellSlots[] = [];
  let next = 0;
  let maxLimbs = 0;
  cellBounds.forEach((bound, i) => {
    if (typeof bound !== 'bigint' || bound < 0n)
      throw new RangeError(`planSlotLayout: cell ${i} bound must be a non-negative bigint`);
    let limbs = 1;
    for (let scale = 1n; bound / scale > m; scale *= base) limbs++;
    cells.push(Object.freeze({ firstSlot: next, limbs, bound }));
    next += limbs;
    maxLimbs = Math.max(maxLimbs, limbs);
  });
  const ciphertextCount = Math.ceil(next / space.slotCount);
  if (ciphertextCount > MAX_CIPHERTEXTS) {
    throw new FedstatError(
      'PLAN_UNSAFE',
      `the query needs ${ciphertextCount} ciphertexts (${next} slots for ${cells.length} cells, up to ${maxLimbs} limbs each) but at most ${MAX_CIPHERTEXTS} are allowed; group by fewer or smaller category columns, aggregate fewer columns, or lower the schema bounds (maxRows, column max)`,
      { details: { ciphertextCount, slotsUsed: next, cells: cells.length, max: MAX_CIPHERTEXTS } },
    );
  }
  return Object.freeze({
    limbBase: base,
    parties,
    noiseBound,
    slotCount: space.slotCount,
    plainModulus: t,
    cells: Object.freeze(cells),
    slotsUsed: next,
    ciphertextCount,
  });
}

/** Per-party maximum of each limb of a cell: low limbs are base-B digits, the top one the rest. */
function limbMaxima(cell: CellSlots, base: bigint): bigint[] {
  const out: bigint[] = [];
  let scale = 1n;
  for (let j = 0; j < cell.limbs - 1; j++, scale *= base) out.push(cell.bound < base - 1n ? cell.bound : base - 1n);
  out.push(cell.bound / scale);
  return out;
}

/**
 * Recomputes, from the layout's bounds and limbs alone, the width of the range any slot total
 * can take when `layout.parties` parties each contribute values within their bounds (plus noise
 * within ±noiseBound): P·(max + 2·nb). The layout is safe for `space` exactly when the result is
 * below `space.plainModulus`.
 */
export function proveNoWrap(layout: SlotLayout, space: SlotSpace): bigint {
  checkSpace(space);
  if (space.slotCount !== layout.slotCount)
    throw new RangeError('proveNoWrap: the layout was planned for another slot count');
  let worst = 0n;
  for (const cell of layout.cells) {
    for (const max of limbMaxima(cell, layout.limbBase)) {
      const total = BigInt(layout.parties) * (max + 2n * layout.noiseBound);
      if (total > worst) worst = total;
    }
  }
  return worst;
}

/**
 * Packs one party's cell values into slot vectors (one BigUint64Array of slotCount per
 * ciphertext; unused slots are zero). DATA_INVALID when a value is negative or above its bound,
 * since that would void the no-wrap proof; the message names the cell, never the value.
 */
export function packSlots(layout: SlotLayout, values: readonly bigint[]): BigUint64Array[] {
  if (values.length !== layout.cells.length) {
    throw new RangeError(`packSlots: ${values.length} values for a layout of ${layout.cells.length} cells`);
  }
  const out = Array.from({ length: layout.ciphertextCount }, () => new BigUint64Array(layout.slotCount));
  layout.cells.forEach((cell, i) => {
    const v = values[i];
    if (typeof v !== 'bigint') throw new TypeError(`packSlots: value of cell ${i} must be a bigint`);
    if (v < 0n || v > cell.bound) {
      throw new FedstatError(
        'DATA_INVALID',
        `cell ${i} holds a value outside its declared range 0..${cell.bound}; fix the data or the schema bounds (maxRows, column min/max)`,
        { details: { cell: i } },
      );
    }
    let rest = v;
    for (let j = 0; j < cell.limbs; j++) {
      const limb = j === cell.limbs - 1 ? rest : rest % layout.limbBase;
      rest = j === cell.limbs - 1 ? 0n : rest / layout.limbBase;
      const s = cell.firstSlot + j;
      const vec = out[Math.floor(s / layout.slotCount)];
      if (vec === undefined) throw new FedstatError('INTERNAL', 'slot layout is inconsistent');
      vec[s % layout.slotCount] = limb;
    }
  });
  return out;
}

/**
 * Adds one party's signed noise (one value per cell) to each cell's lowest limb, modulo t, in
 * place. RangeError for a draw beyond the layout's noise bound (that would void the proof).
 */
export function addNoise(layout: SlotLayout, slots: BigUint64Array[], noise: BigInt64Array): void {
  if (noise.length !== layout.cells.length)
    throw new RangeError(`addNoise: ${noise.length} draws for ${layout.cells.length} cells`);
  const t = layout.plainModulus;
  layout.cells.forEach((cell, i) => {
    const n = noise[i] ?? 0n;
    if (n > layout.noiseBound || n < -layout.noiseBound)
      throw new RangeError(`addNoise: draw ${i} exceeds the layout's noise bound`);
    const vec = slots[Math.floor(cell.firstSlot / layout.slotCount)];
    const at = cell.firstSlot % layout.slotCount;
    if (vec === undefined) throw new RangeError('addNoise: slot vectors do not match the layout');
    vec[at] = ((vec[at] ?? 0n) + (n % t) + t) % t;
  });
}

/**
 * Decodes slot totals (summed over at most `layout.parties` contributors) into exact cell
 * totals (exact plus the summed noise for a noisy layout, so possibly negative). BAD_MESSAGE when any slot exceeds its proven maximum or an unused slot is not zero:
 * the signature of a contribution made under another key, tampered with, or from more parties
 * than planned (garbage is uniform mod t and fails this check with high probability).
 */
export function unpackSlots(layout: SlotLayout, slots: readonly BigUint64Array[]): bigint[] {
  if (
    slots.length !== layout.ciphertextCount ||
    slots.some((v) => !(v instanceof BigUint64Array) || v.length !== layout.slotCount)
  ) {
    throw new RangeError(
      `unpackSlots: expected ${layout.ciphertextCount} BigUint64Arrays of ${layout.slotCount} slots`,
    );
  }
  const at = (s: number): bigint => slots[Math.floor(s / layout.slotCount)]?.[s % layout.slotCount] ?? 0n;
  const parties = BigInt(layout.parties);
  const implausible = (): FedstatError =>
    new FedstatError(
      'BAD_MESSAGE',
      "decrypted totals exceed what the plan allows: a contribution was malformed, encrypted under another key, or more agencies contributed than planned; check the contributors' keys and signatures",
    );
  const totals = layout.cells.map((cell) => {
    const maxima = limbMaxima(cell, layout.limbBase);
    let total = 0n;
    let scale = 1n;
    for (let j = 0; j < cell.limbs; j++, scale *= layout.limbBase) {
      const s = at(cell.firstSlot + j);
      const noise = j === 0 ? parties * layout.noiseBound : 0n;
      if (s <= parties * (maxima[j] ?? 0n) + noise) total += s * scale;
      else if (noise > 0n && s >= layout.plainModulus - noise)
        total += s - layout.plainModulus; // j = 0: scale 1
      else throw implausible();
    }
    return total;
  });
  for (let s = layout.slotsUsed; s < layout.ciphertextCount * layout.slotCount; s++) {
    if (at(s) !== 0n) throw implausible();
  }
  return totals;
}

/** Slot-wise (a + b) mod t, for the plaintext baseline path. RangeError on mismatched or unreduced input. */
export function addSlotsModT(a: BigUint64Array, b: BigUint64Array, t: bigint): BigUint64Array {
  if (a.length !== b.length) throw new RangeError(`addSlotsModT: lengths ${a.length} and ${b.length} differ`);
  const out = new BigUint64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0n;
    const y = b[i] ?? 0n;
    if (x >= t || y >= t) throw new RangeError(`addSlotsModT: slot ${i} is not reduced modulo t`);
    const s = x + y;
    out[i] = s >= t ? s - t : s;
  }
  return out;
}
