import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { x25519PublicKey, x25519SharedSecret } from '../../src/crypto/x25519.js';
import { isFedstatError } from '../../src/errors.js';

interface Vectors {
  scalarMult: { section: string; scalar: string; u: string; output: string }[];
  iterated: { after1: string; after1000: string };
  diffieHellman: { aliceSecret: string; alicePublic: string; bobSecret: string; bobPublic: string; shared: string };
  lowOrderPublicKeys: string[];
}

const vectors = JSON.parse(readFileSync(new URL('../vectors/x25519-rfc7748.json', import.meta.url), 'utf8')) as Vectors;
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('x25519', () => {
  it.each(vectors.scalarMult)('matches RFC 7748 $section', (v) => {
    expect(toHex(x25519SharedSecret(hex(v.scalar), hex(v.u)))).toBe(v.output);
  });

  it('matches the RFC 7748 §5.2 iteration after 1 and 1000 rounds', () => {
    let k: Uint8Array = new Uint8Array(32);
    k[0] = 9;
    let u: Uint8Array = Uint8Array.from(k);
    for (let i = 1; i <= 1000; i++) {
      const next = x25519SharedSecret(k, u);
      u = k;
      k = next;
      if (i === 1) expect(toHex(k)).toBe(vectors.iterated.after1);
    }
    expect(toHex(k)).toBe(vectors.iterated.after1000);
  });

  it('matches the RFC 7748 §6.1 Diffie–Hellman example', () => {
    const v = vectors.diffieHellman;
    expect(toHex(x25519PublicKey(hex(v.aliceSecret)))).toBe(v.alicePublic);
    expect(toHex(x25519PublicKey(hex(v.bobSecret)))).toBe(v.bobPublic);
    expect(toHex(x25519SharedSecret(hex(v.aliceSecret), hex(v.bobPublic)))).toBe(v.shared);
    expect(toHex(x25519SharedSecret(hex(v.bobSecret), hex(v.alicePublic)))).toBe(v.shared);
  });

  it('equals tweetnacl scalarMult for random keys, both ways', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (a, b) => {
          const pa = x25519PublicKey(a);
          expect(toHex(pa)).toBe(toHex(nacl.scalarMult.base(a)));
          const pb = nacl.scalarMult.base(b);
          const shared = x25519SharedSecret(a, pb);
          expect(toHex(shared)).toBe(toHex(nacl.scalarMult(a, pb)));
          expect(toHex(shared)).toBe(toHex(x25519SharedSecret(b, pa)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('equals tweetnacl for arbitrary (off-curve, non-canonical) public keys that are not of low order', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (u) => {
        const sk = new Uint8Array(randomBytes(32));
        expect(toHex(x25519SharedSecret(sk, u))).toBe(toHex(nacl.scalarMult(sk, u)));
      }),
      { numRuns: 100 },
    );
  });

  it.each(vectors.lowOrderPublicKeys)('rejects the low-order public key %s', (u) => {
    const sk = new Uint8Array(randomBytes(32));
    // The vector really is low order: tweetnacl's unchecked result is all-zero.
    expect(nacl.scalarMult(sk, hex(u)).every((b) => b === 0)).toBe(true);
    let thrown: unknown;
    try {
      x25519SharedSecret(sk, hex(u));
    } catch (e) {
      thrown = e;
    }
    expect(isFedstatError(thrown, 'BAD_MESSAGE')).toBe(true);
    expect((thrown as Error).message).toMatch(/small order/);
  });

  it('rejects wrong key lengths with TypeError', () => {
    const sk = new Uint8Array(randomBytes(32));
    expect(() => x25519PublicKey(new Uint8Array(31))).toThrow(TypeError);
    expect(() => x25519SharedSecret(new Uint8Array(33), sk)).toThrow(TypeError);
    expect(() => x25519SharedSecret(sk, new Uint8Array(0))).toThrow(TypeError);
  });

  it('gives the right answer for equal keys in different arrays (memoisation is by content for public keys)', () => {
    const a = new Uint8Array(randomBytes(32));
    const b = new Uint8Array(randomBytes(32));
    const pb = x25519PublicKey(b);
    const first = x25519SharedSecret(a, pb);
    expect(toHex(x25519SharedSecret(Uint8Array.from(a), Uint8Array.from(pb)))).toBe(toHex(first));
  });
});
