/**
 * The encrypting side of an inner product over linked positions: an agency encrypts one vector
 * over positions, block by block (block b holds positions [b·N, (b+1)·N), position b·N + j is
 * coefficient j of the plaintext). The coordinator sums these per (component, block) over the
 * encrypting agencies, and the multiplying side (inner-product.ts) weights the sums.
 *
 * Every block is encrypted and sent, used or not: which blocks an agency's elements fall in
 * depends on its (secret) positions, so an agency that skipped its empty blocks would tell the
 * coordinator where its elements are. An empty block is an ordinary encryption of zero.
 * Cost: one public-key encryption per block (~4–10 ms at N = 8192, ~0.05 ms when the encryptor
 * has precomputed encryptions of zero), 524,401 bytes per block.
 */
import type { HeEncryptor } from './encryptor.js';
import { groupPositions, signedResidues } from './position-blocks.js';

/**
 * Encrypts the vector with `values[i]` at `positions[i]` (zero elsewhere) as `blocks` serialized
 * ciphertexts, yielded one block at a time so that a caller can stream them out without holding
 * ~0.5 MB per block. Arguments are checked before the first block: positions distinct and below
 * blocks·N, one value per position, each value within ±(t−1)/2 (negatives are encrypted as
 * t − |v|). TypeError/RangeError otherwise. Keeping sums of values from wrapping t is the plan's job.
 */
export function encryptPositionBlocks(
  encryptor: HeEncryptor,
  positions: Uint32Array,
  values: BigInt64Array,
  blocks: number,
): Generator<Uint8Array, void, undefined> {
  const { params } = encryptor;
  params.assertLive('encryptPositionBlocks');
  const groups = groupPositions(params, positions, blocks, 'encryptPositionBlocks');
  const residues = signedResidues(params, values, positions.length, 'encryptPositionBlocks');
  return blocksOf(encryptor, positions, residues, groups.starts, groups.order, blocks);
}

/** `encryptPositionBlocks` collected into an array: `blocks` serialized ciphertexts. */
export function encryptPositions(
  encryptor: HeEncryptor,
  positions: Uint32Array,
  values: BigInt64Array,
  blocks: number,
): Uint8Array[] {
  return [...encryptPositionBlocks(encryptor, positions, values, blocks)];
}

function* blocksOf(
  encryptor: HeEncryptor,
  positions: Uint32Array,
  residues: BigUint64Array,
  starts: Uint32Array,
  order: Uint32Array,
  blocks: number,
): Generator<Uint8Array, void, undefined> {
  const n = encryptor.params.slotCount;
  const slots = new BigUint64Array(n);
  try {
    for (let b = 0; b < blocks; b++) {
      const from = starts[b] ?? 0;
      const to = starts[b + 1] ?? 0;
      let used = 0; // the encryptor trims trailing zero slots: pass only up to the last used one
      for (let k = from; k < to; k++) {
        const i = order[k] ?? 0;
        const j = (positions[i] ?? 0) - b * n;
        slots[j] = residues[i] ?? 0n;
        used = Math.max(used, j + 1);
      }
      const bytes = encryptor.encrypt(slots.subarray(0, used));
      slots.fill(0n, 0, used); // an agency's values linger nowhere between blocks
      yield bytes;
    }
  } finally {
    slots.fill(0n);
    residues.fill(0n);
  }
}
