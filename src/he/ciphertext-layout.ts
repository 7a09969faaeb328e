/**
 * A complete structural check of an uncompressed serialized BFV ciphertext, in JavaScript, so
 * that SEAL is only ever asked to load bytes it will accept (a SEAL throw costs the WASM
 * instance stack space it never gets back: see `seal.ts`).
 *
 * Layout written by SEAL 4.1 `Ciphertext::save` with compr_mode_type::none (little-endian):
 *    0  SEALHeader (16 bytes)
 *   16  parms_id: 4 × u64
 *   48  is_ntt_form: u8
 *   49  size (number of polynomials): u64
 *   57  poly_modulus_degree N: u64
 *   65  coeff_modulus_size k: u64
 *   73  scale: f64
 *   81  correction_factor: u64
 *   89  the coefficient array: its own SEALHeader (16 bytes), then u64 count, then count × u64,
 *       polynomial-major: for each polynomial, for each prime q_i, N coefficients < q_i.
 * A "seeded" ciphertext (count = N·k followed by a PRNG seed) is never produced by public-key
 * encryption and is refused, as is every other deviation.
 */
import { FedstatError } from '../errors.js';
import { ComprMode, parseSealHeader, SEAL_HEADER_SIZE } from './ciphertext-header.js';

/** What a well-formed ciphertext of the federation's parameters looks like. */
export interface CiphertextShape {
  /** The data-level parms_id of the SEAL context (4 words). */
  readonly parmsId: BigUint64Array;
  readonly polyModulusDegree: number;
  /** The data-level coefficient moduli q_0..q_{k-1}. */
  readonly coeffModuli: readonly bigint[];
}

const OFFSET_PARMS_ID = 16;
const OFFSET_NTT = 48;
const OFFSET_SIZE = 49;
const OFFSET_DEGREE = 57;
const OFFSET_MODULI = 65;
const OFFSET_SCALE = 73;
const OFFSET_CORRECTION = 81;
const OFFSET_ARRAY = 89;
const OFFSET_COUNT = OFFSET_ARRAY + SEAL_HEADER_SIZE;
const OFFSET_DATA = OFFSET_COUNT + 8;
/** Fresh encryptions and sums of them have exactly two polynomials. */
const POLYS = 2;

/** The exact byte length of an uncompressed two-polynomial ciphertext of `shape`. */
export function ciphertextByteLength(shape: CiphertextShape): number {
  return OFFSET_DATA + 8 * POLYS * shape.polyModulusDegree * shape.coeffModuli.length;
}

function bad(problem: string): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `malformed ciphertext: ${problem}; the sender must encrypt under this federation's HE parameters`,
  );
}

/**
 * Throws BAD_MESSAGE unless `bytes` (whose outer header was already checked) is a two-polynomial,
 * non-NTT BFV ciphertext at the data level of `shape` with every coefficient reduced modulo its
 * prime. Runs in about a millisecond at N = 8192; never echoes the bytes.
 */
export function checkCiphertextLayout(bytes: Uint8Array, shape: CiphertextShape): void {
  const n = shape.polyModulusDegree;
  const k = shape.coeffModuli.length;
  const expected = ciphertextByteLength(shape);
  if (bytes.length !== expected) throw bad(`expected ${expected} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < 4; i++) {
    if (view.getBigUint64(OFFSET_PARMS_ID + 8 * i, true) !== shape.parmsId[i])
      throw bad("its parameter id is not this federation's");
  }
  if (view.getUint8(OFFSET_NTT) !== 0) throw bad('it is in NTT form');
  if (view.getBigUint64(OFFSET_SIZE, true) !== BigInt(POLYS))
    throw bad(`it does not have exactly ${POLYS} polynomials`);
  if (view.getBigUint64(OFFSET_DEGREE, true) !== BigInt(n)) throw bad('its polynomial degree is wrong');
  if (view.getBigUint64(OFFSET_MODULI, true) !== BigInt(k)) throw bad('its coefficient modulus count is wrong');
  if (view.getFloat64(OFFSET_SCALE, true) !== 1) throw bad('its scale is not 1');
  if (view.getBigUint64(OFFSET_CORRECTION, true) !== 1n) throw bad('its correction factor is not 1');
  parseSealHeader(bytes, OFFSET_ARRAY, bytes.length - OFFSET_ARRAY, [ComprMode.none]);
  const count = POLYS * n * k;
  if (view.getBigUint64(OFFSET_COUNT, true) !== BigInt(count)) throw bad('its coefficient count is wrong');
  // Coefficient range check on 32-bit halves: BigInt per coefficient would cost ~10 ms.
  for (let poly = 0; poly < POLYS; poly++) {
    for (let i = 0; i < k; i++) {
      const q = shape.coeffModuli[i] ?? 0n;
      const qHi = Number(q >> 32n);
      const qLo = Number(q & 0xffffffffn);
      let at = OFFSET_DATA + 8 * (poly * k + i) * n;
      for (let j = 0; j < n; j++, at += 8) {
        const hi = view.getUint32(at + 4, true);
        if (hi > qHi || (hi === qHi && view.getUint32(at, true) >= qLo)) {
          throw bad('a coefficient is not reduced modulo its prime');
        }
      }
    }
  }
}
