import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  generateSigningKeyPair,
  isAcceptablePublicKey,
  sign,
  signingKeyPairFromSeed,
  verify,
} from '../../src/crypto/ed25519.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

describe('ed25519', () => {
  it('matches RFC 8032 test vector 1', () => {
    const kp = signingKeyPairFromSeed(hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'));
    expect(Buffer.from(kp.publicKey).toString('hex')).toBe(
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    );
    const sig = sign(new Uint8Array(0), kp.secretKey);
    expect(Buffer.from(sig).toString('hex')).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    expect(verify(new Uint8Array(0), sig, kp.publicKey)).toBe(true);
  });

  it('accepts its own signatures and rejects any single bit flip', () => {
    const kp = generateSigningKeyPair();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(), (msg, bit) => {
        const sig = sign(msg, kp.secretKey);
        expect(verify(msg, sig, kp.publicKey)).toBe(true);
        const bad = Uint8Array.from(sig);
        const i = bit % (bad.length * 8);
        bad[i >> 3]! ^= 1 << (i & 7);
        expect(verify(msg, bad, kp.publicKey)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('rejects the malleable S + L form that tweetnacl alone accepts', async () => {
    const nacl = (await import('tweetnacl')).default;
    const kp = generateSigningKeyPair();
    const msg = new TextEncoder().encode('query 42');
    let found = 0;
    for (let attempt = 0; attempt < 64 && found < 3; attempt++) {
      const m = new Uint8Array([...msg, attempt]);
      const sig = sign(m, kp.secretKey);
      let s = 0n;
      for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
      const s2 = s + L;
      if (s2 >= 2n ** 256n) continue;
      const forged = Uint8Array.from(sig);
      let v = s2;
      for (let i = 32; i < 64; i++) {
        forged[i] = Number(v & 0xffn);
        v >>= 8n;
      }
      found++;
      expect(nacl.sign.detached.verify(m, forged, kp.publicKey)).toBe(true); // the hazard is real
      expect(verify(m, forged, kp.publicKey)).toBe(false);
    }
    expect(found).toBeGreaterThan(0);
  });

  it('rejects small-order and non-canonical public keys', () => {
    const smallOrder = [
      '0100000000000000000000000000000000000000000000000000000000000000', // identity
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
      '0000000000000000000000000000000000000000000000000000000000000000', // order 4
      '0000000000000000000000000000000000000000000000000000000000000080', // order 4
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
      '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
      '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
    ];
    for (const k of smallOrder) expect(isAcceptablePublicKey(hex(k)), k).toBe(false);
    // y = p + 1 and y = 2^255 - 1: non-canonical encodings
    expect(isAcceptablePublicKey(hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'))).toBe(false);
    expect(isAcceptablePublicKey(hex('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'))).toBe(false);
    for (let i = 0; i < 20; i++) expect(isAcceptablePublicKey(generateSigningKeyPair().publicKey)).toBe(true);
    // A signature "by" the identity key must not verify even if crafted to satisfy the equation.
    expect(verify(new Uint8Array(1), new Uint8Array(64), hex(smallOrder[0]!))).toBe(false);
  });

  it('never throws on malformed lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 40 }), (sig, pk) => {
        expect(verify(new Uint8Array(3), sig, pk)).toBe(false);
      }),
    );
  });

  it('compares in constant time and by content', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1]), new Uint8Array([1, 2]))).toBe(false);
  });
});

describe('interoperability with tweetnacl', () => {
  it('signatures are byte-identical to tweetnacl and verify both ways', async () => {
    const nacl = (await import('tweetnacl')).default;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), (seed, msg) => {
        const kp = signingKeyPairFromSeed(seed);
        const ours = sign(msg, kp.secretKey);
        const theirs = nacl.sign.detached(msg, kp.secretKey);
        expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
        expect(nacl.sign.detached.verify(msg, ours, kp.publicKey)).toBe(true);
        expect(verify(msg, theirs, kp.publicKey)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});
