/**
 * Linked positions as BFV blocks: after private set intersection every element (a distinct id at
 * one agency) has a position in [0, P), and block b of a vector over positions is one plaintext
 * polynomial whose coefficient j is position b·N + j (coefficient encoding, coefficients.ts).
 * Both sides of an encrypted inner product (position-encryption.ts, inner-product.ts) group an
 * agency's elements by block here, after the same argument checks.
 */
import type { HeParams } from './he-params.js';

/**
 * The most blocks a vector over positions may span: 16,777,216 positions at N = 8192 (the ids of
 * all agencies of a join). Each block is a ciphertext of ~0.5 MB per component, all held at once by
 * the multiplying side (about 1 GB of WASM memory per component at the limit).
 */
export const MAX_POSITION_BLOCKS = 2048;

/** An agency's elements grouped by block (counting sort), from `groupPositions`. */
export interface PositionGroups {
  /** Number of blocks of the vector (every block is sent, used or not). */
  readonly blocks: number;
  /** Elements of block b are `order[starts[b]] … order[starts[b + 1] − 1]` (element indices). */
  readonly starts: Uint32Array;
  /** Element indices, block by block. */
  readonly order: Uint32Array;
}

/**
 * Checks `positions` (distinct, each below blocks·N) and groups the element indices by block.
 * TypeError/RangeError on bad arguments: positions come from the caller's own linkage, so a bad
 * one is a bug in the caller, never a peer's input.
 */
export function groupPositions(params: HeParams, positions: Uint32Array, blocks: number, user: string): PositionGroups {
  if (!(positions instanceof Uint32Array)) throw new TypeError(`${user}: positions must be a Uint32Array`);
  if (!Number.isSafeInteger(blocks) || blocks < 1 || blocks > MAX_POSITION_BLOCKS)
    throw new RangeError(`${user}: blocks must be an integer from 1 to ${MAX_POSITION_BLOCKS}`);
  const n = params.slotCount;
  const limit = blocks * n;
  const seen = new Uint8Array(Math.ceil(limit / 8));
  const starts = new Uint32Array(blocks + 1);
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i] ?? 0;
    if (p >= limit) throw new RangeError(`${user}: position of element ${i} is not below ${limit} (blocks × N)`);
    const bit = 1 << (p & 7);
    if (((seen[p >>> 3] ?? 0) & bit) !== 0) throw new RangeError(`${user}: element ${i} repeats a position`);
    seen[p >>> 3] = (seen[p >>> 3] ?? 0) | bit;
    starts[Math.floor(p / n) + 1]! += 1;
  }
  for (let b = 0; b < blocks; b++) starts[b + 1]! += starts[b]!;
  const fill = starts.slice(0, blocks);
  const order = new Uint32Array(positions.length);
  for (let i = 0; i < positions.length; i++) {
    const b = Math.floor((positions[i] ?? 0) / n);
    order[fill[b]!++] = i;
  }
  return Object.freeze({ blocks, starts, order });
}

/**
 * `values` (signed, one per element) as residues mod t, after checking the length and that
 * every value lies within ±(t−1)/2, so that a residue names exactly one signed value.
 */
export function signedResidues(params: HeParams, values: BigInt64Array, count: number, user: string): BigUint64Array {
  if (!(values instanceof BigInt64Array)) throw new TypeError(`${user}: values must be a BigInt64Array`);
  if (values.length !== count)
    throw new RangeError(`${user}: ${values.length} values for ${count} positions; give one per element`);
  const t = params.plainModulus;
  const half = (t - 1n) / 2n;
  const out = new BigUint64Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i] ?? 0n;
    if (v > half || v < -half) throw new RangeError(`${user}: value of element ${i} is outside ±(t−1)/2`);
    out[i] = v < 0n ? t + v : v;
  }
  return out;
}
