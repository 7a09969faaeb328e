/**
 * Test-only reference for inner products over linked positions: the naive path (multiply_plain on
 * non-NTT ciphertexts, block by block, no mask) and the invariant noise budget of a ciphertext.
 * The tests compare InnerProducts against it; its timings are the baseline of the NTT path.
 */
import type { Ciphertext, Plaintext } from 'node-seal';
import { decodeCoefficients, encodeCoefficients } from '../../src/he/coefficients.js';
import type { HeParams } from '../../src/he/he-params.js';
import { loadHeKey } from '../../src/he/keys.js';
import { loadCiphertext } from '../../src/he/load-ciphertext.js';
import { ownBytes } from '../../src/he/seal.js';

/** b'(x) = w_0 − Σ_{j≥1} w_j x^{N−j} for the elements of `block` (coefficients mod t). */
function reversedWeights(
  params: HeParams,
  block: number,
  positions: Uint32Array,
  weights: BigInt64Array,
): BigUint64Array {
  const n = params.slotCount;
  const t = params.plainModulus;
  const slots = new BigUint64Array(n);
  positions.forEach((p, i) => {
    if (Math.floor(p / n) !== block) return;
    const j = p - block * n;
    const w = (((weights[i] ?? 0n) % t) + t) % t;
    slots[j === 0 ? 0 : n - j] = j === 0 ? w : (t - w) % t;
  });
  return slots;
}

/**
 * The naive products: each summed block loaded once, then per output Σ over blocks of
 * multiply_plain(summed[b], b'_b) on non-NTT ciphertexts (SEAL transforms both operands and back on
 * every call), serialized, without mask.
 */
export function naiveProducts(
  params: HeParams,
  summed: readonly Uint8Array[],
  positions: Uint32Array,
  weights: readonly BigInt64Array[],
): Uint8Array[] {
  const { seal, evaluator } = params;
  const plain: Plaintext = new seal.Plaintext();
  const product: Ciphertext = new seal.Ciphertext();
  const loaded: Ciphertext[] = [];
  try {
    for (const bytes of summed) loaded.push(loadCiphertext(params, bytes));
    return weights.map((w) => {
      let acc: Ciphertext | undefined;
      try {
        loaded.forEach((ct, b) => {
          const slots = reversedWeights(params, b, positions, w);
          if (slots.every((v) => v === 0n)) return;
          encodeCoefficients(params, slots, plain);
          if (acc === undefined) {
            acc = new seal.Ciphertext();
            evaluator.multiplyPlain(ct, plain, acc);
          } else {
            evaluator.multiplyPlain(ct, plain, product);
            evaluator.addInplace(acc, product);
          }
        });
        if (acc === undefined) throw new RangeError('naiveProducts: no weight in any block');
        return ownBytes(acc.saveToArray(seal.ComprModeType.none));
      } finally {
        acc?.delete();
      }
    });
  } finally {
    for (const ct of loaded) ct.delete();
    product.delete();
    plain.delete();
  }
}

/** Decrypts `bytes` with `secretKey`: every coefficient, and the invariant noise budget in bits. */
export function decryptWithBudget(
  params: HeParams,
  secretKey: Uint8Array,
  bytes: Uint8Array,
): { slots: BigUint64Array; budget: number } {
  const { seal, context } = params;
  const key = loadHeKey(params, 'secret', secretKey);
  const decryptor = new seal.Decryptor(context, key);
  const plain = new seal.Plaintext();
  const ct = loadCiphertext(params, bytes);
  try {
    const budget = decryptor.invariantNoiseBudget(ct);
    decryptor.decrypt(ct, plain);
    return { slots: decodeCoefficients(params, plain), budget };
  } finally {
    ct.delete();
    plain.delete();
    decryptor.delete();
    key.delete();
  }
}

/** The unmasked product of one block, decrypted: coefficient 0 is the inner product, the rest cross terms. */
export function unmaskedProduct(
  params: HeParams,
  secretKey: Uint8Array,
  summed: Uint8Array,
  positions: Uint32Array,
  weights: BigInt64Array,
): BigUint64Array {
  const [product] = naiveProducts(params, [summed], positions, [weights]);
  return decryptWithBudget(params, secretKey, product!).slots;
}
