/**
 * Slot vectors as BFV plaintext polynomials, one value per coefficient (coefficient encoding).
 *
 * fedstat only adds ciphertexts and subtracts plaintexts from them, never multiplies or rotates,
 * and coefficient-wise addition mod t is exactly what slot-wise addition is: so the N "slots" of
 * a ciphertext are the N coefficients of its plaintext, and no batching NTT is needed. That also
 * makes the plaintext short: SEAL scales and adds only the coefficients a plaintext has (its
 * coefficient count), so adding a few hundred used slots to an encryption of zero costs ~0.05 ms
 * instead of the ~4.5 ms a batch-encoded plaintext of all N coefficients costs (measured at
 * N = 8192), and decoding a decryption is reading its coefficients.
 *
 * node-seal has no setter for coefficients, so a plaintext is loaded from its serialization:
 * SEAL writes the template of a zero plaintext of K coefficients once, the values go into its
 * last 8·K bytes (little-endian u64), and SEAL's load checks every coefficient is below t.
 */
import type { Plaintext } from 'node-seal';
import { FedstatError } from '../errors.js';
import type { HeParams } from './he-params.js';
import { ownBytes, type SealModule } from './seal.js';

/** Templates by coefficient count (a multiple of GRANULE), per SEAL module (each worker has its own). */
const templates = new WeakMap<SealModule, Map<number, Uint8Array>>();

/** The serialization of a zero plaintext with `count` coefficients, written by SEAL itself. */
function template(seal: SealModule, count: number): Uint8Array {
  let byCount = templates.get(seal);
  if (byCount === undefined) templates.set(seal, (byCount = new Map<number, Uint8Array>()));
  let bytes = byCount.get(count);
  if (bytes === undefined) {
    const plain = new seal.Plaintext();
    try {
      plain.resize(count);
      bytes = ownBytes(plain.saveToArray(seal.ComprModeType.none));
    } finally {
      plain.delete();
    }
    // The data is the tail: its element count (u64) right before the 8·count bytes of values.
    const at = bytes.length - 8 * count - 8;
    if (at < 0 || new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at, true) !== BigInt(count))
      throw new FedstatError('INTERNAL', 'SEAL serialized a plaintext in an unexpected layout');
    byCount.set(count, bytes);
  }
  return bytes;
}

/**
 * Coefficient counts are multiples of this (at most N/GRANULE templates per SEAL module, ~1 MiB at
 * N = 8192); zero coefficients up to the next multiple cost next to nothing to add.
 */
const GRANULE = 256;

/** How many coefficients the plaintext of `slots` has: past its last non-zero value, rounded up to GRANULE, at most N. */
function coefficientCount(slots: BigUint64Array, slotCount: number): number {
  let n = slots.length;
  while (n > 0 && slots[n - 1] === 0n) n--;
  return Math.min(slotCount, Math.max(1, Math.ceil(n / GRANULE)) * GRANULE);
}

/**
 * Loads `slots` into `plain` as its coefficients (up to its last non-zero slot, rounded up). The caller has checked
 * every value is below t and the length is at most N; SEAL's load checks the values again.
 */
export function encodeCoefficients(params: HeParams, slots: BigUint64Array, plain: Plaintext): void {
  const count = coefficientCount(slots, params.slotCount);
  const bytes = template(params.seal, count).slice();
  try {
    const used = Math.min(count, slots.length); // the rest stay zero
    bytes.set(new Uint8Array(slots.buffer, slots.byteOffset, 8 * used), bytes.length - 8 * count);
    plain.loadFromArray(params.context, bytes);
  } finally {
    bytes.fill(0); // the values are an agency's aggregate: none lingers in this copy
  }
}

/** The coefficients of a decrypted `plain` as a vector of `slotCount` slots (zero beyond its coefficient count). */
export function decodeCoefficients(params: HeParams, plain: Plaintext): BigUint64Array {
  const { seal, slotCount } = params;
  const count = plain.coeffCount();
  if (!Number.isSafeInteger(count) || count > slotCount)
    throw new FedstatError('INTERNAL', 'SEAL decrypted a plaintext with more coefficients than slots');
  const bytes = ownBytes(plain.saveToArray(seal.ComprModeType.none));
  try {
    if (bytes.length < 8 * count) throw new FedstatError('INTERNAL', 'SEAL serialized a short plaintext');
    const out = new BigUint64Array(slotCount);
    // Copied byte-wise: the tail need not be 8-byte aligned in `bytes`.
    new Uint8Array(out.buffer, 0, 8 * count).set(bytes.subarray(bytes.length - 8 * count));
    return out;
  } finally {
    bytes.fill(0);
  }
}
