/**
 * The checks a head-keeping party runs: honest growth passes; rollback, forks (two roots for
 * one size), rewritten history, another log's heads, bad signatures and missing entries are each
 * reported with their own problem, and the witness never moves off its last good head.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { isFedstatError } from '../../src/errors.js';
import { consistencyProof } from '../../src/merkle/consistency-proof.js';
import {
  checkConsistentHeads,
  checkInclusion,
  headCheckError,
  TreeHeadWitness,
  type HeadCheck,
} from '../../src/merkle/head-checks.js';
import { inclusionProof } from '../../src/merkle/inclusion-proof.js';
import { hashLeaf } from '../../src/merkle/merkle-hash.js';
import { subtreeRoot } from '../../src/merkle/merkle-subtree.js';
import { signTreeHead, type SignedTreeHead } from '../../src/merkle/tree-head.js';
import { refRoot } from './merkle-reference.js';

const op = signingKeyPairFromSeed(new Uint8Array(32).fill(1));
const mallory = signingKeyPairFromSeed(new Uint8Array(32).fill(2));
const leaves = Array.from({ length: 40 }, () => hashLeaf(randomBytes(20)));
// The same log with entry 5 rewritten: what an operator showing different histories would sign.
const forked = leaves.map((l, i) => (i === 5 ? hashLeaf(randomBytes(20)) : l));

const head = (size: number, of = leaves, key = op.secretKey, logId = 'fed', timestamp = 1000 + size): SignedTreeHead =>
  signTreeHead({ logId, size, rootHash: refRoot(of.slice(0, size)), timestamp }, key);
const problem = (c: HeadCheck): string => (c.ok ? 'ok' : c.problem);

describe('checkConsistentHeads', () => {
  it('accepts every honest pair of sizes', () => {
    for (const [m, n] of [
      [0, 0],
      [0, 7],
      [1, 1],
      [1, 40],
      [5, 5],
      [7, 8],
      [13, 40],
      [32, 33],
      [40, 40],
    ]) {
      expect(
        problem(checkConsistentHeads(head(m!), head(n!), consistencyProof(m!, n!, leaves), op.publicKey)),
        `${m}→${n}`,
      ).toBe('ok');
    }
    // Same size re-signed later (a restarted operator): same root, consistent.
    expect(problem(checkConsistentHeads(head(9), head(9, leaves, op.secretKey, 'fed', 5000), [], op.publicKey))).toBe(
      'ok',
    );
  });

  it('reports rollback, fork, rewritten history, other logs and bad signatures', () => {
    expect(problem(checkConsistentHeads(head(20), head(19), consistencyProof(19, 20, leaves), op.publicKey))).toBe(
      'rollback',
    );
    expect(problem(checkConsistentHeads(head(20), head(20, forked), [], op.publicKey))).toBe('fork');
    // Grown but with entry 10 changed: the honest proof from the honest log does not bridge the two.
    expect(
      problem(checkConsistentHeads(head(20), head(30, forked), consistencyProof(20, 30, leaves), op.publicKey)),
    ).toBe('inconsistent');
    expect(
      problem(checkConsistentHeads(head(20), head(30, forked), consistencyProof(20, 30, forked), op.publicKey)),
    ).toBe('inconsistent');
    // Entries below the old size untouched but the proof is for other sizes: still refused.
    expect(problem(checkConsistentHeads(head(20), head(30), consistencyProof(21, 30, leaves), op.publicKey))).toBe(
      'inconsistent',
    );
    expect(
      problem(
        checkConsistentHeads(
          head(5),
          head(6, leaves, op.secretKey, 'other'),
          consistencyProof(5, 6, leaves),
          op.publicKey,
        ),
      ),
    ).toBe('other-log');
    expect(
      problem(
        checkConsistentHeads(head(5), head(6, leaves, mallory.secretKey), consistencyProof(5, 6, leaves), op.publicKey),
      ),
    ).toBe('bad-signature');
    expect(
      problem(
        checkConsistentHeads(head(5, leaves, mallory.secretKey), head(6), consistencyProof(5, 6, leaves), op.publicKey),
      ),
    ).toBe('bad-signature');
  });

  it('turns a failure into a BAD_MESSAGE FedstatError naming the problem', () => {
    const c = checkConsistentHeads(head(20), head(20, forked), [], op.publicKey);
    if (c.ok) throw new Error('expected a failure');
    const e = headCheckError(c);
    expect(isFedstatError(e, 'BAD_MESSAGE')).toBe(true);
    expect(e.details.problem).toBe('fork');
  });
});

describe('checkInclusion', () => {
  it('proves entries in a signed head and refuses other entries, heads and keys', () => {
    const h = head(25);
    expect(problem(checkInclusion(h, 17, leaves[17]!, inclusionProof(17, 25, leaves), op.publicKey))).toBe('ok');
    expect(problem(checkInclusion(h, 17, leaves[18]!, inclusionProof(17, 25, leaves), op.publicKey))).toBe(
      'not-included',
    );
    expect(problem(checkInclusion(h, 25, leaves[25]!, inclusionProof(25, 26, leaves), op.publicKey))).toBe(
      'not-included',
    );
    expect(
      problem(
        checkInclusion(
          head(25, leaves, mallory.secretKey),
          17,
          leaves[17]!,
          inclusionProof(17, 25, leaves),
          op.publicKey,
        ),
      ),
    ).toBe('bad-signature');
  });
});

describe('TreeHeadWitness', () => {
  it('moves forward only along consistency proofs, and refuses forks and rollbacks', () => {
    const w = new TreeHeadWitness(op.publicKey);
    expect(problem(w.observe(head(3, leaves, mallory.secretKey), []))).toBe('bad-signature');
    expect(w.current).toBeUndefined();
    expect(problem(w.observe(head(3), []))).toBe('ok');
    expect(problem(w.observe(head(10), consistencyProof(3, 10, leaves)))).toBe('ok');
    expect(w.current?.size).toBe(10);
    expect(problem(w.observe(head(8), consistencyProof(8, 10, leaves)))).toBe('rollback');
    expect(problem(w.observe(head(10, forked), []))).toBe('fork');
    expect(problem(w.observe(head(20, forked), consistencyProof(10, 20, forked)))).toBe('inconsistent');
    expect(w.current?.size).toBe(10);
    expect(subtreeRoot(leaves, 0, 10)).toEqual(w.current?.rootHash);
    expect(problem(w.observe(head(40), consistencyProof(10, 40, leaves)))).toBe('ok');
    expect(w.current?.size).toBe(40);
    expect(() => new TreeHeadWitness(op.publicKey, head(3, leaves, mallory.secretKey))).toThrow(RangeError);
  });
});
