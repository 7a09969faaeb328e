import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ELEMENT_BYTES, FIELD_PRIME, isCanonicalElement } from '../../src/psi/group.js';

const x25519 = JSON.parse(readFileSync(new URL('../vectors/x25519-rfc7748.json', import.meta.url), 'utf8')) as {
  lowOrderPublicKeys: string[];
};
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
/** The little-endian encoding of `n` (n < 2^256). */
const encode = (n: bigint): Uint8Array => {
  const out = new Uint8Array(ELEMENT_BYTES);
  for (let i = 0; i < ELEMENT_BYTES; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
};

describe('isCanonicalElement', () => {
  it.each(x25519.lowOrderPublicKeys)('refuses the RFC 7748 low-order or non-canonical u %s', (u) => {
    expect(isCanonicalElement(hex(u), 0)).toBe(false);
  });

  it('draws the line at p exactly and refuses a set top bit', () => {
    expect(isCanonicalElement(encode(FIELD_PRIME - 2n), 0)).toBe(true);
    expect(isCanonicalElement(encode(FIELD_PRIME - 1n), 0)).toBe(false); // u = -1, order 4
    for (const k of [0n, 1n, 2n, 18n]) expect(isCanonicalElement(encode(FIELD_PRIME + k), 0)).toBe(false);
    expect(isCanonicalElement(encode(9n), 0)).toBe(true);
    expect(isCanonicalElement(encode(9n + (1n << 255n)), 0)).toBe(false);
    expect(isCanonicalElement(encode(2n ** 255n - 20n - (1n << 247n)), 0)).toBe(true); // top byte 0x7f, not all ones
  });

  it('agrees with the integer definition on random encodings, at any offset', () => {
    const lowOrder = new Set(x25519.lowOrderPublicKeys);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(8), (bytes, pad) => {
        const buf = new Uint8Array(pad + ELEMENT_BYTES);
        buf.set(bytes, pad);
        const n = BigInt('0x' + Buffer.from(bytes).reverse().toString('hex'));
        const expected = n < FIELD_PRIME && !lowOrder.has(Buffer.from(bytes).toString('hex'));
        expect(isCanonicalElement(buf, pad)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('throws RangeError when the element runs past the end', () => {
    expect(() => isCanonicalElement(new Uint8Array(40), 9)).toThrow(RangeError);
    expect(() => isCanonicalElement(new Uint8Array(40), -1)).toThrow(RangeError);
  });
});
