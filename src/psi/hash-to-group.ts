/**
 * Hash-to-group for PSI: RFC 9380 suite curve25519_XMD:SHA-512_ELL2_RO_ (random-oracle
 * hash_to_curve with Elligator 2), returning the u-coordinate of the point as a 32-byte
 * little-endian group element.
 *
 * The steps are the RFC's: hash_to_field with expand_message_xmd over node:crypto SHA-512 (ten
 * times faster than SHA-512 in JavaScript), noble's straight-line map_to_curve_elligator2_curve25519
 * (RFC 9380 Appendix G.2.1) for each of the two field elements, the affine sum Q0 + Q1 of which
 * only u is kept, and clear_cofactor as three x-only doublings, all over fractions so that one
 * inversion ends the whole computation. That is about twice as fast as noble's
 * edwards25519 hasher followed by the birational map. When Q0 = ±Q1 (probability about 2^-250) the
 * affine sum is undefined and the noble path computes the same point instead. test/psi checks the
 * RFC 9380 Appendix J.4.1 vectors and agreement with the noble path on random messages.
 */
import { createHash } from 'node:crypto';
import { _map_to_curve_elligator2_curve25519, ed25519, ed25519_hasher } from '@noble/curves/ed25519.js';
import { ELEMENT_BYTES, FIELD_PRIME } from './group.js';

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

const p = FIELD_PRIME;
const A = 486662n; // Curve25519: v^2 = u^3 + A u^2 + u
const mod = (x: bigint): bigint => {
  const r = x % p;
  return r < 0n ? r + p : r;
};
const FIELD_BYTES = 48; // L = ceil((ceil(log2(p)) + k) / 8) with k = 128
const SHA512_BLOCK = 128;

/** hash_to_field(msg, 2) of RFC 9380 §5.2 with expand_message_xmd (§5.3.1) over SHA-512. */
function hashToField(message: Uint8Array, dst: Uint8Array): [bigint, bigint] {
  const dstPrime = Buffer.concat([dst, Uint8Array.of(dst.length)]);
  const b0 = createHash('sha512')
    .update(new Uint8Array(SHA512_BLOCK))
    .update(message)
    .update(Uint8Array.of(0, 2 * FIELD_BYTES, 0))
    .update(dstPrime)
    .digest();
  const b1 = createHash('sha512').update(b0).update(Uint8Array.of(1)).update(dstPrime).digest();
  const x = Buffer.alloc(b0.length);
  for (let i = 0; i < x.length; i++) x[i] = (b0[i] ?? 0) ^ (b1[i] ?? 0);
  const b2 = createHash('sha512').update(x).update(Uint8Array.of(2)).update(dstPrime).digest();
  const uniform = Buffer.concat([b1, b2]);
  const u0 = BigInt('0x' + uniform.toString('hex', 0, FIELD_BYTES));
  const u1 = BigInt('0x' + uniform.toString('hex', FIELD_BYTES, 2 * FIELD_BYTES));
  return [mod(u0), mod(u1)];
}

/** The reference path: noble's edwards25519 hasher, then u = (1 + y) / (1 - y). */
function hashViaEdwards(message: Uint8Array, dst: string): bigint {
  const point = ed25519_hasher.hashToCurve(message, { DST: dst });
  // Projective (X : Y : Z): y = Y / Z, so u = (1 + y) / (1 - y) = (Z + Y) / (Z - Y).
  const den = Fp.sub(point.Z, point.Y);
  // Only the identity has y = 1; X25519 encodes it as u = 0, which blinding refuses.
  return Fp.is0(den) ? 0n : Fp.div(Fp.add(point.Z, point.Y), den);
}

function hashToU(message: Uint8Array, dst: string): bigint {
  const dstBytes = utf8.encode(dst);
  if (dstBytes.length === 0 || dstBytes.length > 255) throw new RangeError('a DST has 1 to 255 bytes');
  const [u0, u1] = hashToField(message, dstBytes);
  const q0 = _map_to_curve_elligator2_curve25519(u0);
  const q1 = _map_to_curve_elligator2_curve25519(u1);
  // Q0 + Q1 on v^2 = u^3 + A u^2 + u: lambda = (y1 - y0) / (x1 - x0), x = lambda^2 - A - x0 - x1.
  const dx = mod(q1.xMn * q0.xMd - q0.xMn * q1.xMd);
  if (dx === 0n) return hashViaEdwards(message, dst); // Q0 = ±Q1: the chord is undefined
  const xd = mod(q0.xMd * q1.xMd);
  const ln = mod(mod(q1.yMn * q0.yMd - q0.yMn * q1.yMd) * xd);
  const ld = mod(dx * mod(q0.yMd * q1.yMd));
  const ld2 = mod(ld * ld);
  let X = mod(mod(ln * ln) * xd - mod(A * xd + q0.xMn * q1.xMd + q1.xMn * q0.xMd) * ld2);
  let Z = mod(ld2 * xd);
  // clear_cofactor: h_eff = 8, three x-only doublings (X : Z) -> ((X^2 - Z^2)^2 : 4XZ(X^2 + AXZ + Z^2)).
  for (let i = 0; i < 3; i++) {
    const xx = mod(X * X);
    const zz = mod(Z * Z);
    const xz = mod(X * Z);
    X = mod((xx - zz) * (xx - zz));
    Z = mod(4n * xz * (xx + A * xz + zz));
  }
  // Z = 0 only at the identity (a sum of order dividing 8), which X25519 encodes as u = 0.
  return Z === 0n ? 0n : mod(X * Fp.inv(Z));
}

function hashInto(message: Uint8Array, dst: string, out: Uint8Array, offset: number): void {
  writeElement(hashToU(message, dst), out, offset);
}

/**
 * The same element as `hashToGroup`, computed by noble's edwards25519 hasher and the birational
 * map; slower, kept as the independent reference the tests compare with.
 */
export function hashToGroupViaEdwards(message: Uint8Array, dst: string = PSI_DST): Uint8Array {
  const out = new Uint8Array(ELEMENT_BYTES);
  writeElement(hashViaEdwards(message, dst), out, 0);
  return out;
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
