/**
 * Known answers: the RFC 6962 reference tree of Certificate Transparency (test/vectors/
 * rfc6962-*.json, typed in from transparency-dev/merkle) for hashing, roots of sizes 0..8,
 * inclusion and consistency proofs, and the corrupted variants that upstream suite rejects.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { consistencyProof, verifyConsistency } from '../../src/merkle/consistency-proof.js';
import { inclusionProof, verifyInclusion } from '../../src/merkle/inclusion-proof.js';
import { MerkleAccumulator } from '../../src/merkle/merkle-accumulator.js';
import { emptyRoot, hashChildren, hashLeaf } from '../../src/merkle/merkle-hash.js';
import { merkleRoot } from '../../src/merkle/merkle-subtree.js';
import { hex, unhex } from './merkle-reference.js';

const load = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
const tree = load<{ leaves: string[]; roots: string[] }>('rfc6962-tree.json');
const proofs = load<{
  inclusion: { index: number; size: number; proof: string[] }[];
  consistency: { size1: number; size2: number; proof: string[] }[];
}>('rfc6962-proofs.json');

const leaves = tree.leaves.map((l) => hashLeaf(unhex(l)));
const root = (n: number): Uint8Array => unhex(tree.roots[n]!);
const SOME_HASH = unhex('abacaba000000000000000000000000000000000000000000060061e00123456');

describe('RFC 6962 hashing', () => {
  it('hashes the empty tree, a leaf and a node with the right prefixes', () => {
    expect(hex(emptyRoot())).toBe(tree.roots[0]);
    expect(hex(hashLeaf(new Uint8Array()))).toBe(tree.roots[1]); // a 1-leaf tree's root is its leaf hash
    expect(hex(hashChildren(leaves[0]!, leaves[1]!))).toBe(tree.roots[2]);
    expect(() => hashChildren(leaves[0]!, new Uint8Array(31))).toThrow(RangeError);
  });

  it('reproduces the published root of every size 0..8, in one shot and streaming', () => {
    const acc = new MerkleAccumulator();
    expect(hex(acc.root())).toBe(tree.roots[0]);
    for (let n = 1; n <= 8; n++) {
      acc.append(leaves[n - 1]!);
      expect(hex(acc.root()), `size ${n}`).toBe(tree.roots[n]);
      expect(hex(merkleRoot(leaves.slice(0, n))), `size ${n}`).toBe(tree.roots[n]);
    }
  });
});

/** The corruptions of transparency-dev/merkle's corruptInclusionProof, each of which must fail. */
function badInclusions(
  index: number,
  size: number,
  proof: Uint8Array[],
  r: Uint8Array,
  leaf: Uint8Array,
): [string, number, number, Uint8Array, Uint8Array[], Uint8Array][] {
  const out: [string, number, number, Uint8Array, Uint8Array[], Uint8Array][] = [
    ['index − 1', index - 1, size, leaf, proof, r],
    ['index + 1', index + 1, size, leaf, proof, r],
    ['index ^ 2', index ^ 2, size, leaf, proof, r],
    ['size × 2', index, size * 2, leaf, proof, r],
    ['size / 2', index, Math.floor(size / 2), leaf, proof, r],
    ['wrong leaf', index, size, new TextEncoder().encode('WrongLeaf'), proof, r],
    ['empty root', index, size, leaf, proof, emptyRoot()],
    ['random root', index, size, leaf, proof, SOME_HASH],
    ['trailing garbage', index, size, leaf, [...proof, new Uint8Array(0)], r],
    ['trailing root', index, size, leaf, [...proof, r], r],
    ['preceding garbage', index, size, leaf, [new Uint8Array(0), ...proof], r],
    ['preceding root', index, size, leaf, [r, ...proof], r],
  ];
  proof.forEach((_, i) => {
    const p = proof.map((x) => x.slice());
    p[i]![0]! ^= 8;
    out.push([`proof[${i}] bit 3 flipped`, index, size, leaf, p, r]);
  });
  if (proof.length > 0) out.push(['removed component', index, size, leaf, proof.slice(0, -1), r]);
  if (proof.length > 1)
    out.push(['inserted component', index, size, leaf, [proof[0]!, SOME_HASH, ...proof.slice(1)], r]);
  return out;
}

describe('inclusion proofs', () => {
  for (const v of proofs.inclusion) {
    it(`leaf ${v.index} in size ${v.size}: generated as published, verifies, every corruption fails`, () => {
      const proof = v.proof.map(unhex);
      expect(inclusionProof(v.index, v.size, leaves).map(hex)).toEqual(v.proof);
      expect(verifyInclusion(v.index, v.size, leaves[v.index]!, proof, root(v.size))).toBe(true);
      for (const [what, i, n, leaf, p, r] of badInclusions(v.index, v.size, proof, root(v.size), leaves[v.index]!)) {
        expect(verifyInclusion(i, n, leaf, p, r), what).toBe(false);
      }
    });
  }

  it('rejects index ≥ size, size 0 and malformed hashes, and never throws', () => {
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [1, 1],
      [2, 1],
      [8, 8],
      [-1, 8],
      [0.5, 8],
      [0, Number.NaN],
      [0, 2 ** 53],
    ]) {
      expect(verifyInclusion(index!, size!, SOME_HASH, [], SOME_HASH)).toBe(false);
      expect(verifyInclusion(index!, size!, SOME_HASH, [], emptyRoot())).toBe(false);
    }
    const one = hashLeaf(new TextEncoder().encode('data'));
    expect(verifyInclusion(0, 1, one, [], one)).toBe(true);
    expect(verifyInclusion(0, 1, new Uint8Array(0), [], one)).toBe(false);
    expect(verifyInclusion(0, 1, one, [], new Uint8Array(0))).toBe(false);
    expect(verifyInclusion(0, 1, one, [one], one)).toBe(false);
    expect(verifyInclusion(0, 1, one, null as unknown as Uint8Array[], one)).toBe(false);
    expect(() => inclusionProof(8, 8, leaves)).toThrow(RangeError);
    expect(() => inclusionProof(0, 0, leaves)).toThrow(RangeError);
    expect(() => inclusionProof(0, 9, leaves)).toThrow(RangeError); // more leaves than given
  });
});

describe('consistency proofs', () => {
  for (const v of proofs.consistency) {
    it(`size ${v.size1} → ${v.size2}: generated as published, verifies, every corruption fails`, () => {
      const proof = v.proof.map(unhex);
      const [r1, r2] = [root(v.size1), root(v.size2)];
      expect(consistencyProof(v.size1, v.size2, leaves).map(hex)).toEqual(v.proof);
      expect(verifyConsistency(v.size1, v.size2, r1, r2, proof)).toBe(true);
      if (proof.length === 0) return;
      const { size1: m, size2: n } = v;
      const bad: [string, number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
        ['size1 − 1', m - 1, n, r1, r2, proof],
        ['size1 + 1', m + 1, n, r1, r2, proof],
        ['size1 ^ 2', m ^ 2, n, r1, r2, proof],
        ['size2 × 2', m, n * 2, r1, r2, proof],
        ['size2 / 2', m, Math.floor(n / 2), r1, r2, proof],
        ['wrong root1', m, n, SOME_HASH, r2, proof],
        ['wrong root2', m, n, r1, SOME_HASH, proof],
        ['swapped roots', m, n, r2, r1, proof],
        ['empty proof', m, n, r1, r2, []],
        ['trailing garbage', m, n, r1, r2, [...proof, new Uint8Array(0)]],
        ['trailing root1', m, n, r1, r2, [...proof, r1]],
        ['trailing root2', m, n, r1, r2, [...proof, r2]],
        ['preceding garbage', m, n, r1, r2, [new Uint8Array(0), ...proof]],
        ['preceding root1', m, n, r1, r2, [r1, ...proof]],
        ['preceding root2', m, n, r1, r2, [r2, ...proof]],
        ['preceding proof[0]', m, n, r1, r2, [proof[0]!, ...proof]],
        ['truncated', m, n, r1, r2, proof.slice(0, -1)],
        ['first > second', n, m, r2, r1, proof],
      ];
      proof.forEach((_, i) => {
        const p = proof.map((x) => x.slice());
        p[i]![0]! ^= 16;
        bad.push([`proof[${i}] bit 4 flipped`, m, n, r1, r2, p]);
      });
      for (const [what, a, b, x, y, p] of bad) expect(verifyConsistency(a, b, x, y, p), what).toBe(false);
    });
  }

  it('handles the edge sizes: 0 → n, n → n, first > second', () => {
    const [r0, r1, r2] = [root(0), root(1), root(2)];
    expect(verifyConsistency(0, 0, r0, r0, [])).toBe(true);
    expect(verifyConsistency(0, 5, r0, root(5), [])).toBe(true);
    expect(verifyConsistency(0, 5, SOME_HASH, root(5), [])).toBe(false); // size 0 has exactly one root
    expect(verifyConsistency(0, 5, r0, root(5), [r0])).toBe(false);
    expect(verifyConsistency(1, 1, r1, r1, [])).toBe(true);
    expect(verifyConsistency(1, 1, r1, r2, [])).toBe(false); // two roots for one size: a fork
    expect(verifyConsistency(1, 1, r1, r1, [r0])).toBe(false); // equal sizes with a non-empty proof
    expect(verifyConsistency(1, 0, r1, r0, [])).toBe(false);
    expect(verifyConsistency(2, 1, r2, r1, [])).toBe(false);
    expect(verifyConsistency(1, 2, r1, r2, [])).toBe(false);
    expect(verifyConsistency(1, 2, r1, r2, [leaves[1]!])).toBe(true);
    expect(verifyConsistency(1, 2, r1.subarray(0, 31), r2, [leaves[1]!])).toBe(false);
    expect(verifyConsistency(-1, 2, r1, r2, [])).toBe(false);
    expect(consistencyProof(0, 8, leaves)).toEqual([]);
    expect(consistencyProof(8, 8, leaves)).toEqual([]);
    expect(() => consistencyProof(5, 4, leaves)).toThrow(RangeError);
  });
});
