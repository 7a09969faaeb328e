/**
 * Properties against the literal RFC 9162 reference (merkle-reference.ts): roots, inclusion
 * paths and consistency proofs are byte-identical to the recursive definitions for every size
 * up to 64 exhaustively (every index, every pair of sizes) and for random sizes up to 300; the
 * verifiers accept exactly those and reject proofs for any other index or size.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consistencyProof, verifyConsistency } from '../../src/merkle/consistency-proof.js';
import { inclusionProof, verifyInclusion } from '../../src/merkle/inclusion-proof.js';
import { MerkleAccumulator } from '../../src/merkle/merkle-accumulator.js';
import { hashLeaf, splitPoint } from '../../src/merkle/merkle-hash.js';
import { SubtreeCache, subtreeRoot } from '../../src/merkle/merkle-subtree.js';
import { hex, refLeafHash, refPath, refProof, refRoot } from './merkle-reference.js';

const MAX = 300;
const entries = Array.from({ length: MAX }, (_, i) => randomBytes(8 + (i % 17)));
const leaves = entries.map((e) => hashLeaf(e));
const refRoots: string[] = [];
for (let n = 0; n <= MAX; n++) refRoots.push(hex(refRoot(leaves.slice(0, n))));
const rootOf = (n: number): Uint8Array => new Uint8Array(Buffer.from(refRoots[n]!, 'hex'));

/** Checks every index and every older size of the tree of n leaves against the reference. */
function checkSize(n: number, cache?: SubtreeCache): void {
  const view = (i: number): Uint8Array => {
    if (i >= n) throw new RangeError('past the end');
    return leaves[i]!;
  };
  for (let i = 0; i < n; i++) {
    const proof = inclusionProof(i, n, view, cache);
    expect(proof.map(hex), `path ${i}/${n}`).toEqual(refPath(i, leaves.slice(0, n)).map(hex));
    expect(verifyInclusion(i, n, leaves[i]!, proof, rootOf(n)), `verify ${i}/${n}`).toBe(true);
    if (n > 1) expect(verifyInclusion((i + 1) % n, n, leaves[i]!, proof, rootOf(n))).toBe(false);
  }
  for (let m = 1; m < n; m++) {
    const proof = consistencyProof(m, n, view, cache);
    expect(proof.map(hex), `proof ${m}→${n}`).toEqual(refProof(m, leaves.slice(0, n)).map(hex));
    expect(verifyConsistency(m, n, rootOf(m), rootOf(n), proof), `verify ${m}→${n}`).toBe(true);
    expect(verifyConsistency(m, n, rootOf(m - 1), rootOf(n), proof)).toBe(false);
  }
}

describe('Merkle tree against the RFC 9162 reference', () => {
  it('hashes leaves like the reference (entries of many lengths, including > the scratch buffer)', () => {
    for (const e of [...entries.slice(0, 40), randomBytes(5000), randomBytes((1 << 20) + 3)])
      expect(hex(hashLeaf(e))).toBe(hex(refLeafHash(e)));
  });

  it('the split point is the largest power of two below n', () => {
    for (let n = 2; n <= 2000; n++) {
      const k = splitPoint(n);
      expect(k < n && 2 * k >= n && (k & (k - 1)) === 0).toBe(true);
    }
    expect(splitPoint(2 ** 53 - 1)).toBe(2 ** 52);
    expect(() => splitPoint(1)).toThrow(RangeError);
  });

  it('the accumulator yields the reference root at every size 0..300, and clones independently', () => {
    const acc = new MerkleAccumulator();
    expect(hex(acc.root())).toBe(refRoots[0]);
    let snapshot: MerkleAccumulator | null = null;
    for (let n = 1; n <= MAX; n++) {
      acc.append(leaves[n - 1]!);
      expect(acc.size).toBe(n);
      expect(hex(acc.root()), `size ${n}`).toBe(refRoots[n]);
      if (n === 100) snapshot = acc.clone();
    }
    expect(hex(snapshot!.root())).toBe(refRoots[100]);
    snapshot!.append(leaves[100]!);
    expect(hex(snapshot!.root())).toBe(refRoots[101]);
    expect(() => acc.append(new Uint8Array(31))).toThrow(RangeError);
  });

  it('subtree roots of arbitrary ranges match, with and without a cache', () => {
    const cache = new SubtreeCache(2);
    for (let a = 0; a <= 40; a += 3) {
      for (let b = a; b <= 70; b += 5) {
        const want = hex(refRoot(leaves.slice(a, b)));
        expect(hex(subtreeRoot(leaves, a, b))).toBe(want);
        expect(hex(subtreeRoot(leaves, a, b, cache))).toBe(want);
      }
    }
  });

  it('every inclusion and consistency proof of every size 1..64 equals the reference and verifies', () => {
    for (let n = 1; n <= 64; n++) checkSize(n);
  });

  it('random sizes up to 300: every index and every older size, generated through a SubtreeCache', () => {
    const cache = new SubtreeCache(3); // shared across sizes, as the store shares it as it grows
    fc.assert(
      fc.property(fc.integer({ min: 65, max: MAX }), (n) => {
        checkSize(n, cache);
      }),
      { numRuns: 4 },
    );
  });

  it('a proof binds the root it is checked against, not the size: the tree head binds those two', () => {
    // Leaf 1's path in the 4-leaf tree has the same shape in a 3-leaf tree, so (1, 3, R4) passes.
    // No log signs (size 3, R4); verifiers must take size and root from one verified tree head.
    const proof = inclusionProof(1, 4, leaves);
    expect(verifyInclusion(1, 3, leaves[1]!, proof, rootOf(4))).toBe(true);
    expect(verifyInclusion(1, 3, leaves[1]!, proof, rootOf(3))).toBe(false);
  });

  it('a proof verifies for no other (index, size) and no other pair of sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 120 }), fc.nat(), fc.nat(), fc.nat(), (n, a, b, c) => {
        const i = a % n;
        const proof = inclusionProof(i, n, leaves);
        const [j, n2] = [b % (n + 3), 1 + (c % (n + 3))];
        // Checked against the true root of the claimed size: the signed tree head binds a root to
        // its size, so that is the only root a verifier is ever given for n2.
        if (j !== i || n2 !== n) expect(verifyInclusion(j, n2, leaves[i]!, proof, rootOf(n2))).toBe(false);
        if (n >= 2) {
          const m = 1 + (a % (n - 1));
          const cp = consistencyProof(m, n, leaves);
          const m2 = 1 + (b % n);
          if (m2 !== m) expect(verifyConsistency(m2, n, rootOf(m2), rootOf(n), cp)).toBe(false);
        }
      }),
      { numRuns: 400 },
    );
  });
});
