import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { x25519PublicKey } from '../../src/crypto/x25519.js';
import { isFedstatError } from '../../src/errors.js';
import {
  boxBefore,
  encodeSharePlaintext,
  openShare,
  sealShare,
  sealedBoxLength,
  type SealedShare,
} from '../../src/secagg/sealed-share.js';
import { FIELD_PRIME, randomFieldElement } from '../../src/secagg/shamir.js';

const keyPair = (): { secret: Uint8Array; public: Uint8Array } => {
  const secret = new Uint8Array(randomBytes(32));
  return { secret, public: x25519PublicKey(secret) };
};
const alice = keyPair();
const bob = keyPair();
const carol = keyPair();
const binding = { federationId: 'fed', queryId: 'q-1', expiresAt: 1_767_225_600_000, from: 'alice', to: 'bob' };

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isFedstatError(e, 'BAD_MESSAGE')) return e.message;
    throw e;
  }
  throw new Error('expected a BAD_MESSAGE refusal');
}

describe('sealed shares', () => {
  it('round-trip a share between sender and recipient', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: FIELD_PRIME - 1n }), fc.integer({ min: 1, max: 4096 }), (y, x) => {
        const sealed = sealShare({ x, y }, binding, alice.secret, bob.public);
        expect(sealed.from).toBe('alice');
        expect(sealed.to).toBe('bob');
        expect(sealed.box.length).toBe(sealedBoxLength(binding));
        expect(openShare(sealed, { ...binding, x }, bob.secret, alice.public)).toEqual({ x, y });
      }),
      { numRuns: 100 },
    );
  });

  it('is an ordinary nacl.box: tweetnacl opens it and finds the documented plaintext', () => {
    const share = { x: 3, y: randomFieldElement() };
    const sealed = sealShare(share, binding, alice.secret, bob.public);
    const plain = nacl.box.open(sealed.box, sealed.nonce, alice.public, bob.secret);
    expect(plain).not.toBeNull();
    expect(Buffer.from(plain!).toString('hex')).toBe(
      Buffer.from(encodeSharePlaintext({ ...binding, x: 3 }, share.y)).toString('hex'),
    );
  });

  it('uses a fresh nonce every time', () => {
    const share = { x: 1, y: 42n };
    const nonces = new Set(
      Array.from({ length: 50 }, () =>
        Buffer.from(sealShare(share, binding, alice.secret, bob.public).nonce).toString('hex'),
      ),
    );
    expect(nonces.size).toBe(50);
  });

  it('fails on every single-bit flip of the nonce or the box', () => {
    const sealed = sealShare({ x: 2, y: randomFieldElement() }, binding, alice.secret, bob.public);
    let flips = 0;
    for (const field of ['nonce', 'box'] as const) {
      for (let bit = 0; bit < sealed[field].length * 8; bit++) {
        const tampered = Uint8Array.from(sealed[field]);
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        expect(
          refusal(() => openShare({ ...sealed, [field]: tampered }, { ...binding, x: 2 }, bob.secret, alice.public)),
        ).toMatch(/authenticate/);
        flips++;
      }
    }
    expect(flips).toBe(8 * (24 + sealedBoxLength(binding)));
  });

  it('refuses a box replayed into another query or federation, or presented at another x', () => {
    const sealed = sealShare({ x: 2, y: 7n }, binding, alice.secret, bob.public);
    // Another query id of the same length, so only the binding check can catch it.
    expect(refusal(() => openShare(sealed, { ...binding, queryId: 'q-2', x: 2 }, bob.secret, alice.public))).toMatch(
      /another federation, query/,
    );
    expect(
      refusal(() => openShare(sealed, { ...binding, federationId: 'def', x: 2 }, bob.secret, alice.public)),
    ).toMatch(/another/);
    expect(refusal(() => openShare(sealed, { ...binding, x: 3 }, bob.secret, alice.public))).toMatch(/another/);
    // The same query id re-issued later (another expiry) cannot reuse the earlier run's boxes.
    expect(
      refusal(() =>
        openShare(sealed, { ...binding, expiresAt: binding.expiresAt + 1, x: 2 }, bob.secret, alice.public),
      ),
    ).toMatch(/another/);
    // A longer query id changes the expected length.
    expect(refusal(() => openShare(sealed, { ...binding, queryId: 'q-10', x: 2 }, bob.secret, alice.public))).toMatch(
      /length/,
    );
  });

  it('refuses a box redirected to another recipient or claimed from another sender', () => {
    const sealed = sealShare({ x: 2, y: 7n }, binding, alice.secret, bob.public);
    // Carol (as party 'eve', same id length as 'bob') cannot open a box for Bob, even relabelled for her.
    const toCarol: SealedShare = { ...sealed, to: 'eve' };
    expect(refusal(() => openShare(toCarol, { ...binding, to: 'eve', x: 2 }, carol.secret, alice.public))).toMatch(
      /authenticate/,
    );
    // The clear labels must match what the recipient expects.
    expect(refusal(() => openShare(sealed, { ...binding, from: 'carol', x: 2 }, bob.secret, carol.public))).toMatch(
      /another party/,
    );
    // Relabelled as from Carol: wrong keys.
    expect(
      refusal(() =>
        openShare({ ...sealed, from: 'carol' }, { ...binding, from: 'carol', x: 2 }, bob.secret, carol.public),
      ),
    ).toMatch(/wrong length|authenticate/);
    // Alice → Bob and Bob → Alice share a box key; the binding tells the directions apart.
    const reverse = { ...binding, from: 'bob', to: 'alice' };
    expect(
      refusal(() => openShare({ ...sealed, from: 'bob', to: 'alice' }, { ...reverse, x: 2 }, alice.secret, bob.public)),
    ).toMatch(/another/);
  });

  it('refuses malformed sealed shares without throwing anything but BAD_MESSAGE', () => {
    const sealed = sealShare({ x: 2, y: 7n }, binding, alice.secret, bob.public);
    const expected = { ...binding, x: 2 };
    expect(
      refusal(() => openShare({ ...sealed, nonce: sealed.nonce.subarray(1) }, expected, bob.secret, alice.public)),
    ).toMatch(/nonce/);
    expect(
      refusal(() => openShare({ ...sealed, box: sealed.box.subarray(1) }, expected, bob.secret, alice.public)),
    ).toMatch(/length/);
    expect(
      refusal(() =>
        openShare({ ...sealed, box: new Uint8Array([...sealed.box, 0]) }, expected, bob.secret, alice.public),
      ),
    ).toMatch(/length/);
    expect(
      refusal(() => openShare({ ...sealed, box: 'x' as unknown as Uint8Array }, expected, bob.secret, alice.public)),
    ).toMatch(/length/);
    expect(refusal(() => openShare(null as unknown as SealedShare, expected, bob.secret, alice.public))).toMatch(
      /object/,
    );
  });

  it('refuses an authentic box whose share value is not a field element', () => {
    const plain = encodeSharePlaintext({ ...binding, x: 2 }, 0n);
    plain.fill(0xff, plain.length - 32); // y = 2^256 − 1 ≥ p
    const nonce = new Uint8Array(randomBytes(24));
    const sealed = { from: 'alice', to: 'bob', nonce, box: nacl.box(plain, nonce, bob.public, alice.secret) };
    expect(refusal(() => openShare(sealed, { ...binding, x: 2 }, bob.secret, alice.public))).toMatch(/field element/);
  });

  it('refuses to seal to a low-order public key (its box key would be public)', () => {
    expect(refusal(() => sealShare({ x: 1, y: 1n }, binding, alice.secret, new Uint8Array(32)))).toMatch(/small order/);
  });
});

describe('boxBefore', () => {
  it('equals nacl.box.before (tweetnacl) for random key pairs', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (a, b) => {
          const peer = nacl.box.keyPair.fromSecretKey(b).publicKey;
          expect(boxBefore(a, peer)).toEqual(nacl.box.before(peer, a));
        },
      ),
      { numRuns: 50 },
    );
  });
});
