/**
 * Independent reference for the Merkle tests: RFC 9162 §2.1 transcribed literally (recursive
 * MTH over array slices, PATH and SUBPROOF as written), hashing with fresh createHash objects
 * rather than src's scratch-buffer one-shot hash, and a split point found by a different method.
 * Slow (no caching, O(n) per subtree) and obviously right; never used by src.
 */
import { createHash } from 'node:crypto';

const H = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

export const refLeafHash = (d: Uint8Array): Uint8Array => H(Uint8Array.of(0), d);
export const refNodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array => H(Uint8Array.of(1), l, r);

/** k: the largest power of two smaller than n, by doubling from 1 in bigint (n ≥ 2). */
function k(n: number): number {
  let p = 1n;
  while (p << 1n < BigInt(n)) p <<= 1n;
  return Number(p);
}

/** MTH(D) over leaf hashes (the tree of already-hashed leaves). */
export function refRoot(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return H();
  if (hashes.length === 1) return hashes[0]!;
  const s = k(hashes.length);
  return refNodeHash(refRoot(hashes.slice(0, s)), refRoot(hashes.slice(s)));
}

/** PATH(m, D[n]), RFC 9162 §2.1.3.1. */
export function refPath(m: number, hashes: readonly Uint8Array[]): Uint8Array[] {
  if (hashes.length <= 1) return [];
  const s = k(hashes.length);
  return m < s
    ? [...refPath(m, hashes.slice(0, s)), refRoot(hashes.slice(s))]
    : [...refPath(m - s, hashes.slice(s)), refRoot(hashes.slice(0, s))];
}

function subproof(m: number, hashes: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = hashes.length;
  if (m === n) return b ? [] : [refRoot(hashes)];
  const s = k(n);
  return m <= s
    ? [...subproof(m, hashes.slice(0, s), b), refRoot(hashes.slice(s))]
    : [...subproof(m - s, hashes.slice(s), false), refRoot(hashes.slice(0, s))];
}

/** PROOF(m, D[n]), RFC 9162 §2.1.4.1, for 0 < m < n. */
export function refProof(m: number, hashes: readonly Uint8Array[]): Uint8Array[] {
  return subproof(m, hashes, true);
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
