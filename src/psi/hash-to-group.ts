/**
 * Hash-to-group for PSI: RFC 9380 suite curve25519_XMD:SHA-512_ELL2_RO_ (random-oracle
 * hash_to_curve with Elligator 2), returning the u-coordinate of the point as a 32-byte
 * little-endian group element.
 *
 * noble implements the birationally equivalent suite edwards25519_XMD:SHA-512_ELL2_RO_, which
 * RFC 9380 §6.8.2 defines as the curve25519 suite followed by the rational map to edwards25519.
 * That map is a group isomorphism, so mapping its output back with u = (1 + y) / (1 - y) gives the
 * curve25519 suite's point for the same message and DST; test/psi checks it against the RFC 9380
 * Appendix J.4.1 vectors. The output has its cofactor cleared, so it lies in the prime-order
 * subgroup.
 */
import { ed25519, ed25519_hasher } from '@noble/curves/ed25519.js';
import { ELEMENT_BYTES } from './group.js';

/**
 * fedstat's domain separation tag for hashing citizen ids to the PSI group (RFC 9380 §3.1: one tag
 * per application and version, naming the suite). Changing it changes every hashed value.
 */
export const PSI_DST = 'fedstat-v1-psi-curve25519_XMD:SHA-512_ELL2_RO_';

const Fp = ed25519.Point.Fp;
const utf8 = new TextEncoder();

/** Write the field element `u` (already reduced) little-endian into `out` at `offset`. */
function writeElement(u: bigint, out: Uint8Array, offset: number): void {
  let v = u;
  for (let i = 0; i < ELEMENT_BYTES; i++) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function hashInto(message: Uint8Array, dst: string, out: Uint8Array, offset: number): void {
  const point = ed25519_hasher.hashToCurve(message, { DST: dst });
  // Projective (X : Y : Z): y = Y / Z, so u = (1 + y) / (1 - y) = (Z + Y) / (Z - Y), one inversion.
  const den = Fp.sub(point.Z, point.Y);
  // Only the identity has y = 1; X25519 encodes it as u = 0, which blinding refuses. Reaching it
  // would need a SHA-512 preimage of the identity, so this branch is for completeness only.
  const u = Fp.is0(den) ? 0n : Fp.div(Fp.add(point.Z, point.Y), den);
  writeElement(u, out, offset);
}

/**
 * Hash `message` to the PSI group under `dst` (RFC 9380 curve25519_XMD:SHA-512_ELL2_RO_) and
 * return the point's u-coordinate, 32 bytes little-endian. Deterministic: the same message and DST
 * always give the same element, which is what lets two agencies' ids meet after blinding.
 */
export function hashToGroup(message: Uint8Array, dst: string = PSI_DST): Uint8Array {
  if (!(message instanceof Uint8Array)) throw new TypeError('hashToGroup takes the message as a Uint8Array');
  const out = new Uint8Array(ELEMENT_BYTES);
  hashInto(message, dst, out, 0);
  return out;
}

/**
 * Hash each id (its UTF-8 bytes) to the PSI group: n ids in, n × 32 bytes out, in the same order.
 * Callers normalise ids first (fedstat hashes exactly the string it is given).
 */
export function hashIds(ids: readonly string[], dst: string = PSI_DST): Uint8Array {
  const out = new Uint8Array(ids.length * ELEMENT_BYTES);
  ids.forEach((id, i) => {
    if (typeof id !== 'string') throw new TypeError(`hashIds takes strings; id ${i} is ${typeof id}`);
    hashInto(utf8.encode(id), dst, out, i * ELEMENT_BYTES);
  });
  return out;
}
