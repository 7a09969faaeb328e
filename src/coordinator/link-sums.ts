/**
 * The encrypting side's ciphertexts summed per (component, block) over its agencies, by the
 * coordinator, who holds no key. For an anti-join the sum is then corrected in the clear: the
 * coordinator knows how many encrypting agencies hold an element at each position (c, from the
 * matching), so adding [c = 0] − c turns the encrypted presence count c into the encrypted
 * indicator "no record of this id on the other side", without learning anything new.
 */
import { FedstatError } from '../errors.js';
import { HeAccumulator } from '../he/accumulator.js';
import type { HeParams } from '../he/he-params.js';

/**
 * Sums `perAgency[k][i]` over k for every index i (component-major: component · blocks + block);
 * with `presence` (an anti-join), block b of component 0 then gets [c = 0] − c at each of its
 * positions. Serialized sums, one per index.
 */
export function sumLinkedCiphertexts(
  params: HeParams,
  perAgency: readonly (readonly Uint8Array[])[],
  blocks: number,
  presence: Uint32Array | null,
): Uint8Array[] {
  const first = perAgency[0];
  if (first === undefined) throw new FedstatError('INTERNAL', 'no encrypting agency to sum');
  const { slotCount, plainModulus: t } = params;
  const out: Uint8Array[] = [];
  for (let i = 0; i < first.length; i++) {
    using acc = new HeAccumulator(params, 1);
    for (const cts of perAgency) {
      const ct = cts[i];
      if (ct === undefined) throw new FedstatError('INTERNAL', 'an encrypting agency sent too few ciphertexts');
      acc.add([ct]);
    }
    if (presence !== null && i < blocks) {
      // Subtracting c − [c = 0] (mod t) adds [c = 0] − c.
      const correction = new BigUint64Array(slotCount);
      for (let j = 0; j < slotCount; j++) {
        const c = BigInt(presence[i * slotCount + j] ?? 0);
        correction[j] = c === 0n ? t - 1n : c;
      }
      acc.subtractPlain([correction]);
    }
    const [sum] = acc.sum();
    if (sum === undefined) throw new FedstatError('INTERNAL', 'the accumulator returned no sum');
    out.push(sum);
  }
  return out;
}
