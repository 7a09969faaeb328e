/**
 * A streaming Merkle tree hash: leaf hashes go in one at a time and the RFC 9162 root of
 * everything appended so far comes out at any moment, in O(log n) memory. This is how a
 * 1M-entry log is verified without ever being loaded whole.
 *
 * State is the compact range [0, size): the roots of the perfect subtrees that the binary
 * expansion of `size` decomposes the leaves into, largest (leftmost) first. Appending a leaf
 * merges equal-height neighbours like a binary counter's carries (amortised one node hash per
 * leaf); the root folds the stack right to left, which is exactly MTH's shape because every left
 * subtree in RFC 9162's split is perfect.
 */
import { emptyRoot, hashChildren, HASH_BYTES } from './merkle-hash.js';

/**
 * A streaming RFC 9162 Merkle tree hash: leaf hashes go in one at a time, the root of all of them
 * comes out at any moment, in O(log n) memory.
 */
export class MerkleAccumulator {
  /** Perfect-subtree roots, heights strictly decreasing left to right. */
  readonly #stack: Uint8Array[] = [];
  #size = 0;

  /** Leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends one 32-byte leaf hash (see `hashLeaf`). */
  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_BYTES) throw new RangeError(`a leaf hash has ${HASH_BYTES} bytes`);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('the accumulator is full (2^53 − 1 leaves)');
    let node = this.#size % 2 === 1 ? leafHash : leafHash.slice(); // kept: copy, the caller may reuse its buffer
    // Each trailing 1 bit of the old size is a subtree of the new leaf's height to merge with.
    for (let s = this.#size; s % 2 === 1; s = (s - 1) / 2) node = hashChildren(this.#stack.pop()!, node);
    this.#stack.push(node);
    this.#size++;
  }

  /** MTH of the leaves appended so far (the empty-tree root at size 0). */
  root(): Uint8Array {
    const stack = this.#stack;
    if (stack.length === 0) return emptyRoot();
    let r = stack[stack.length - 1]!;
    for (let i = stack.length - 2; i >= 0; i--) r = hashChildren(stack[i]!, r);
    return r;
  }

  /** An independent copy, so a verifier can branch off (say, to finish an older head) and go on. */
  clone(): MerkleAccumulator {
    const c = new MerkleAccumulator();
    c.#stack.push(...this.#stack);
    c.#size = this.#size;
    return c;
  }
}
