/**
 * Merkle consistency proofs (RFC 9162 §2.1.4): the nodes that show the tree of `first` leaves
 * is a prefix of the tree of `second` leaves, i.e. the log only ever appended.
 *
 * RFC 9162 defines proofs for 0 < first < second only. The edge cases follow the common
 * convention (Trillian, transparency-dev/merkle), made stricter where it costs nothing:
 * first = second: the proof is empty and the roots must be equal (two different roots for one
 * size are a fork); first = 0: the proof is empty and the first root must be the empty-tree
 * root (every tree extends the empty one). Verifiers return booleans and never throw.
 */
import { emptyRoot, hashChildren, hashEquals, HASH_BYTES, splitPoint } from './merkle-hash.js';
import { subtreeRoot, type LeafHashSource, type SubtreeCache } from './merkle-subtree.js';

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * PROOF(first, D[0:second]) per RFC 9162 §2.1.4.1 (SUBPROOF with b = true); empty when
 * first = 0 or first = second. `source` must hold at least `second` leaf hashes.
 */
export function consistencyProof(
  first: number,
  second: number,
  source: LeafHashSource,
  cache?: SubtreeCache,
): Uint8Array[] {
  if (!isSize(first) || !isSize(second) || first > second)
    throw new RangeError(`no consistency proof from size ${first} to size ${second}`);
  if (first === 0 || first === second) return [];
  const proof: Uint8Array[] = [];
  // SUBPROOF(m, D[start:end], whole) unrolled: descend, collecting siblings, then reverse.
  let m = first;
  let start = 0;
  let end = second;
  let whole = true; // b in the RFC: is D[start:start+m] the whole old tree (whose root the verifier has)?
  while (m !== end - start) {
    const k = splitPoint(end - start);
    if (m <= k) {
      proof.push(subtreeRoot(source, start + k, end, cache));
      end = start + k;
    } else {
      proof.push(subtreeRoot(source, start, start + k, cache));
      m -= k;
      start += k;
      whole = false;
    }
  }
  if (!whole) proof.push(subtreeRoot(source, start, end, cache));
  return proof.reverse();
}

/**
 * RFC 9162 §2.1.4.2 verification: true exactly when `proof` shows that the tree of `first`
 * leaves with root `firstRoot` is a prefix of the tree of `second` leaves with root
 * `secondRoot` (edge cases as in the module comment). False for `first > second`, hashes that are
 * not 32 bytes, and proofs too short, too long or altered. Never throws.
 */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(first) || !isSize(second) || first > second) return false;
  if (!(firstRoot instanceof Uint8Array) || !(secondRoot instanceof Uint8Array)) return false;
  const list: unknown = proof; // Array.isArray on the typed parameter would narrow it to any[]
  if (!Array.isArray(list)) return false;
  if (firstRoot.length !== HASH_BYTES || secondRoot.length !== HASH_BYTES) return false;
  for (const p of proof) if (!(p instanceof Uint8Array) || p.length !== HASH_BYTES) return false;
  if (first === second) return proof.length === 0 && hashEquals(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0 && hashEquals(firstRoot, emptyRoot());
  // 1. An empty path proves nothing. 2. A power-of-two old tree is itself a node: prepend it.
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : proof;
  // 3./4. Skip the levels where the old tree's last node is a right child.
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  // 5. Both running roots start from the first path element.
  let fr = path[0]!;
  let sr = fr;
  // 6. Fold in every later element.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 7. Both roots reproduced and the whole height of the new tree consumed.
  return sn === 0 && hashEquals(fr, firstRoot) && hashEquals(sr, secondRoot);
}

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}
