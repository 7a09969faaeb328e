/**
 * The PSI group: the prime-order subgroup of Curve25519 in x-only form. An element is the
 * Montgomery u-coordinate of a point, 32 bytes little-endian as RFC 7748 encodes it, and blinding
 * is X25519 through node:crypto (15× faster here than ristretto255 in JavaScript).
 *
 * What the encoding check does and does not promise: a canonical element is a u below p with the
 * top bit clear that is not one of the low-order u values (X25519 maps those to zero). It is not
 * checked to lie on the curve or in the prime-order subgroup, because that costs a field
 * exponentiation per element. That is safe for PSI because every blinding key is clamped to a
 * multiple of the cofactor 8: X25519(k, Q + T) = X25519(k, Q) for a small-order T, and a point on
 * the twist stays on the twist (whose order is 4 times a large prime), so it can match no honest
 * element and, by the twist security of Curve25519, tells its sender nothing about the key.
 */

/** Bytes of one encoded group element (a Montgomery u-coordinate, little-endian). */
export const ELEMENT_BYTES = 32;

/** The field prime p = 2^255 - 19. */
export const FIELD_PRIME = (1n << 255n) - 19n;

/**
 * The canonical encodings (u < p) of the points of order 1, 2, 4 and 8, as RFC 7748 and libsodium
 * list them: u = 0, u = 1, the two order-8 points and u = p - 1. X25519 maps each to zero.
 */
const LOW_ORDER_HEX = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];
const LOW_ORDER = LOW_ORDER_HEX.map((h) => Uint8Array.from(Buffer.from(h, 'hex')));

function equalsAt(bytes: Uint8Array, offset: number, other: Uint8Array): boolean {
  for (let i = 0; i < ELEMENT_BYTES; i++) if (bytes[offset + i] !== other[i]) return false;
  return true;
}

/**
 * True when `bytes[offset .. offset + 32)` is a canonical element: the top bit is clear, the
 * little-endian integer is below p, and it is not a low-order u value. Element bytes are public
 * (blinded values), so the early exits need not be constant-time.
 */
export function isCanonicalElement(bytes: Uint8Array, offset: number): boolean {
  if (!Number.isInteger(offset) || offset < 0 || offset + ELEMENT_BYTES > bytes.length) {
    throw new RangeError(`an element needs ${ELEMENT_BYTES} bytes at offset ${offset}`);
  }
  const top = bytes[offset + 31] ?? 0;
  if (top > 0x7f) return false; // bit 255 set
  if (top === 0x7f) {
    // u >= p = 0x7fff…ffed exactly when bytes 1..30 are all 0xff and byte 0 is at least 0xed.
    let allOnes = true;
    for (let i = 1; i < 31 && allOnes; i++) allOnes = bytes[offset + i] === 0xff;
    if (allOnes && (bytes[offset] ?? 0) >= 0xed) return false;
  }
  // Most random elements differ from every low-order value in their first byte: check it first.
  const first = bytes[offset] ?? 0;
  for (const low of LOW_ORDER) {
    if (low[0] === first && equalsAt(bytes, offset, low)) return false;
  }
  return true;
}
