/**
 * Sealed side keys (src/protocol/side-key.ts): a key sealed from one agency of a join side to a
 * peer opens to the same 32 bytes at that peer only, and only for the federation, query and ordered
 * pair it was sealed for; anything else (another query, pair or federation, a flipped bit in the
 * box or nonce, wrong lengths, a relabelled box) is refused with BAD_MESSAGE naming the sender.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { openSideKey, sealSideKey, type SealedSideKey, type SideKeyBinding } from '../../src/protocol/side-key.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

const alice = nacl.box.keyPair();
const bob = nacl.box.keyPair();
const carol = nacl.box.keyPair();
const KEY = new Uint8Array(randomBytes(32));
const BINDING: SideKeyBinding = { federationId: 'ab'.repeat(32), queryId: 'cd'.repeat(16), from: 'alice', to: 'bob' };

const sealed = (binding: SideKeyBinding = BINDING, key: Uint8Array = KEY): SealedSideKey =>
  sealSideKey(key, binding, alice.secretKey, bob.publicKey);

/** The refusal of opening `box` as `expected` with the given keys; checks it names the sender, not the key. */
function refusal(
  box: SealedSideKey,
  expected: SideKeyBinding = BINDING,
  recipientSecret: Uint8Array = bob.secretKey,
  senderPublic: Uint8Array = alice.publicKey,
): string {
  const e = fedstatErrorOf(() => openSideKey(box, expected, recipientSecret, senderPublic));
  expect(e.code).toBe('BAD_MESSAGE');
  expect(e.message).toMatch(new RegExp(`^side key from agency ${expected.from}: `));
  expect(e.message).not.toContain(Buffer.from(KEY).toString('hex'));
  expect(e.message).not.toContain('\n');
  return e.message;
}

describe('sealed side keys', () => {
  it('open to the key sealed, at the recipient', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.stringMatching(/^[0-9a-f]{1,40}$/),
        (key, queryId) => {
          const binding = { ...BINDING, queryId };
          const box = sealSideKey(key, binding, alice.secretKey, bob.publicKey);
          expect(box.from).toBe('alice');
          expect(box.to).toBe('bob');
          expect(box.nonce).toHaveLength(24);
          expect(box.box).toHaveLength(48);
          expect(openSideKey(box, binding, bob.secretKey, alice.publicKey)).toEqual(key);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('draws a fresh nonce for every seal', () => {
    const a = sealed();
    const b = sealed();
    expect(a.nonce).not.toEqual(b.nonce);
    expect(a.box).not.toEqual(b.box);
  });

  it('refuses a box of another query', () => {
    expect(refusal(sealed(), { ...BINDING, queryId: 'ef'.repeat(16) })).toContain('does not authenticate');
  });

  it('refuses a box of another federation', () => {
    expect(refusal(sealed(), { ...BINDING, federationId: 'ba'.repeat(32) })).toContain('does not authenticate');
  });

  it('refuses a box addressed to or from another agency', () => {
    // Bob's box handed to Carol as if it were hers.
    expect(refusal(sealed(), { ...BINDING, to: 'carol' }, carol.secretKey)).toContain('another agency');
    expect(refusal(sealed(), { ...BINDING, from: 'dave' })).toContain('another agency');
  });

  it('refuses a box relabelled for another pair', () => {
    const relabelled = { ...sealed(), to: 'carol' };
    expect(refusal(relabelled, { ...BINDING, to: 'carol' }, carol.secretKey)).toContain('does not authenticate');
    // The same labels and recipient, but the sender's key is not alice's.
    expect(refusal(sealed(), BINDING, bob.secretKey, carol.publicKey)).toContain('does not authenticate');
    // Sealed from bob to alice, opened by bob as if alice had sent it.
    const reversed = sealSideKey(KEY, { ...BINDING, from: 'bob', to: 'alice' }, bob.secretKey, alice.publicKey);
    expect(refusal({ ...reversed, from: 'alice', to: 'bob' })).toContain('does not authenticate');
  });

  it('refuses any flipped bit of the box or the nonce', () => {
    const box = sealed();
    fc.assert(
      fc.property(fc.boolean(), fc.nat(47), fc.nat(7), (inBox, at, bit) => {
        const field = inBox ? box.box : box.nonce;
        const changed = field.slice();
        const i = at % changed.length;
        changed[i] = (changed[i] ?? 0) ^ (1 << bit);
        const tampered = inBox ? { ...box, box: changed } : { ...box, nonce: changed };
        expect(refusal(tampered)).toContain('does not authenticate');
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a truncated or extended box or nonce', () => {
    const box = sealed();
    expect(refusal({ ...box, box: box.box.subarray(0, 47) })).toContain('box has the wrong length');
    expect(refusal({ ...box, box: new Uint8Array([...box.box, 0]) })).toContain('box has the wrong length');
    expect(refusal({ ...box, nonce: box.nonce.subarray(0, 23) })).toContain('nonce has the wrong length');
    expect(refusal({ ...box, box: new Uint8Array(0) })).toContain('box has the wrong length');
  });

  it('seals only 32-byte keys', () => {
    expect(() => sealSideKey(new Uint8Array(31), BINDING, alice.secretKey, bob.publicKey)).toThrow(RangeError);
    expect(() => sealSideKey(new Uint8Array(33), BINDING, alice.secretKey, bob.publicKey)).toThrow(RangeError);
  });
});
