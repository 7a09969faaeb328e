/**
 * Merkle inclusion proofs (RFC 9162 §2.1.3): the audit path that shows leaf `index` is in the
 * tree of `size` leaves with a given root.
 *
 * Verifiers in this module (and in consistency-proof.ts) return booleans and never throw, for
 * any input: a malformed proof is just a proof that does not verify. Generation throws
 * RangeError for impossible arguments, which is the caller's bug, never a peer's.
 */
import { hashChildren, hashEquals, HASH_BYTES, splitPoint } from './merkle-hash.js';
import { subtreeRoot, type LeafHashSource, type SubtreeCache } from './merkle-subtree.js';

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * PATH(index, D[0:size]) per RFC 9162 §2.1.3.1, leaf-side sibling first. `source` must hold at
 * least `size` leaf hashes; `cache` (see SubtreeCache) makes it O(log n) on an append-only log.
 */
export function inclusionProof(
  index: number,
  size: number,
  source: LeafHashSource,
  cache?: SubtreeCache,
): Uint8Array[] {
  if (!isIndex(index) || !isIndex(size) || index >= size)
    throw new RangeError(`no inclusion proof for leaf ${index} in a tree of size ${size}`);
  const path: Uint8Array[] = [];
  // Walk down from the root, collecting the sibling subtree at each split; reverse at the end.
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push(subtreeRoot(source, start + k, end, cache));
      end = start + k;
    } else {
      path.push(subtreeRoot(source, start, start + k, cache));
      start += k;
    }
  }
  return path.reverse();
}

/**
 * RFC 9162 §2.1.3.2 verification: true exactly when `proof` proves that `leafHash` is leaf
 * `index` of the tree of `size` leaves whose root is `root`. False for index ≥ size, size 0,
 * hashes that are not 32 bytes, and a proof that is too short or too long. Never throws.
 */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isIndex(index) || !isIndex(size) || index >= size) return false;
  if (!(leafHash instanceof Uint8Array) || !(root instanceof Uint8Array)) return false;
  const list: unknown = proof; // Array.isArray on the typed parameter would narrow it to any[]
  if (!Array.isArray(list)) return false;
  if (leafHash.length !== HASH_BYTES || root.length !== HASH_BYTES) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (!(p instanceof Uint8Array) || p.length !== HASH_BYTES) return false;
    if (sn === 0) return false; // proof longer than the path to the root
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        // The node has no right sibling at this level: climb until it is a right child (or the root).
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && hashEquals(r, root);
}
