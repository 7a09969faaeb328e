/**
 * MTH over any range of a log's leaf hashes (RFC 9162 §2.1.1), the building block of proof
 * generation. Leaves come from a `LeafHashSource`, so the log store can serve them from memory
 * or disk without handing over an array.
 *
 * Without help a proof over n leaves hashes O(n) nodes. A `SubtreeCache` remembers the roots of
 * large perfect subtrees: in an append-only log a perfect subtree never changes once complete,
 * and every left subtree in RFC 9162's split is perfect and aligned (it starts at a multiple of
 * its size), so with the cache a proof costs O(log n · 2^minHeight) hashes.
 */
import { emptyRoot, hashChildren, HASH_BYTES, splitPoint } from './merkle-hash.js';

/** Leaf hashes by index: an array, or a function (which must throw RangeError past the end). */
export type LeafHashSource = readonly Uint8Array[] | ((index: number) => Uint8Array);

/** The leaf hash at `index`, checked to be a 32-byte hash. */
function leafHashAt(source: LeafHashSource, index: number): Uint8Array {
  const h = typeof source === 'function' ? source(index) : source[index];
  if (h === undefined) throw new RangeError(`leaf ${index} is beyond the leaf hashes given`);
  if (h.length !== HASH_BYTES) throw new RangeError(`leaf hash ${index} has ${h.length} bytes, not ${HASH_BYTES}`);
  return h;
}

/** Roots of perfect, aligned subtrees of at least 2^minHeight leaves, for an append-only source. */
export class SubtreeCache {
  readonly minHeight: number;
  readonly #levels: Uint8Array[][] = [];

  /** `minHeight` 8 (256-leaf subtrees) costs ~64 bytes of cache per leaf/256 and ≤ 2·256·log n hashes a proof. */
  constructor(minHeight = 8) {
    if (!Number.isInteger(minHeight) || minHeight < 1 || minHeight > 52)
      throw new RangeError('minHeight must be an integer in 1..52');
    this.minHeight = minHeight;
  }

  /** The cached root of the perfect subtree [index·2^height, (index+1)·2^height), if known. */
  get(height: number, index: number): Uint8Array | undefined {
    return this.#levels[height]?.[index];
  }

  set(height: number, index: number, root: Uint8Array): void {
    (this.#levels[height] ??= [])[index] = root;
  }

  /** Forgets everything (after the source's leaves were replaced, e.g. a repaired store). */
  clear(): void {
    this.#levels.length = 0;
  }
}

function checkRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`[${start}, ${end}) is not a range of leaf indices`);
  }
}

/** MTH(D[start:end]): the RFC 9162 root of leaves start..end−1 (the empty root when equal). */
export function subtreeRoot(source: LeafHashSource, start: number, end: number, cache?: SubtreeCache): Uint8Array {
  checkRange(start, end);
  if (end === start) return emptyRoot();
  return rangeRoot(source, start, end, cache);
}

function rangeRoot(source: LeafHashSource, start: number, end: number, cache: SubtreeCache | undefined): Uint8Array {
  const n = end - start;
  if (n === 1) return leafHashAt(source, start);
  const k = splitPoint(n);
  if (cache !== undefined && k * 2 === n && start % n === 0) {
    const height = Math.log2(n); // exact: n is a power of two
    if (height >= cache.minHeight) {
      const hit = cache.get(height, start / n);
      if (hit !== undefined) return hit;
      const r = hashChildren(rangeRoot(source, start, start + k, cache), rangeRoot(source, start + k, end, cache));
      cache.set(height, start / n, r);
      return r;
    }
  }
  return hashChildren(rangeRoot(source, start, start + k, cache), rangeRoot(source, start + k, end, cache));
}

/** MTH over all of `leafHashes` (RFC 9162 §2.1.1). */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  return subtreeRoot(leafHashes, 0, leafHashes.length);
}
