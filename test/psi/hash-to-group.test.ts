import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ELEMENT_BYTES, FIELD_PRIME, isCanonicalElement } from '../../src/psi/group.js';
import { PSI_DST, hashIds, hashToGroup, hashToGroupViaEdwards } from '../../src/psi/hash-to-group.js';

interface Rfc9380Vectors {
  dst: string;
  vectors: { msg: string; Px: string; Py: string }[];
}

const rfc = JSON.parse(
  readFileSync(new URL('../vectors/rfc9380-curve25519-ro.json', import.meta.url), 'utf8'),
) as Rfc9380Vectors;
const utf8 = new TextEncoder();
/** The RFC prints P.x big-endian; elements are little-endian. */
const bigEndianHex = (b: Uint8Array): string => Buffer.from(b).reverse().toString('hex');
const toBigInt = (b: Uint8Array): bigint => BigInt('0x' + bigEndianHex(b));

describe('hashToGroup', () => {
  it.each(rfc.vectors.map((v) => ({ ...v, label: v.msg.slice(0, 12) })))(
    'matches RFC 9380 J.4.1 curve25519_XMD:SHA-512_ELL2_RO_ for msg "$label"',
    (v) => {
      expect(bigEndianHex(hashToGroup(utf8.encode(v.msg), rfc.dst))).toBe(v.Px);
    },
  );

  it.each(rfc.vectors.map((v) => ({ ...v, label: v.msg.slice(0, 12) })))(
    'the noble edwards25519 reference path matches RFC 9380 J.4.1 too, for msg "$label"',
    (v) => {
      expect(bigEndianHex(hashToGroupViaEdwards(utf8.encode(v.msg), rfc.dst))).toBe(v.Px);
    },
  );

  it('agrees with the noble edwards25519 path on random messages and DSTs', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(PSI_DST, rfc.dst, 'x', 'D'.repeat(255)),
        (msg, dst) => {
          expect(hashToGroup(msg, dst)).toEqual(hashToGroupViaEdwards(msg, dst));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses an empty DST or one longer than 255 bytes', () => {
    expect(() => hashToGroup(new Uint8Array(1), '')).toThrow(RangeError);
    expect(() => hashToGroup(new Uint8Array(1), 'D'.repeat(256))).toThrow(RangeError);
  });

  it('gives points on Curve25519 (v^2 = u^3 + 486662 u^2 + u has the RFC v)', () => {
    // Ties P.x to P.y, so the vector file cannot hold a mistyped x that we also reproduce.
    const p = FIELD_PRIME;
    for (const v of rfc.vectors) {
      const u = BigInt('0x' + v.Px);
      const y = BigInt('0x' + v.Py);
      expect((y * y) % p).toBe((((u * u * u + 486662n * u * u + u) % p) + p) % p);
    }
  });

  it('uses the fedstat DST by default, which gives other elements than the RFC test DST', () => {
    const msg = utf8.encode('abc');
    expect(PSI_DST).toMatch(/curve25519_XMD:SHA-512_ELL2_RO_$/);
    expect(hashToGroup(msg)).toEqual(hashToGroup(msg, PSI_DST));
    expect(bigEndianHex(hashToGroup(msg))).not.toBe(rfc.vectors[1]!.Px);
  });

  it('returns canonical elements below p for random messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (msg) => {
        const e = hashToGroup(msg);
        expect(e.length).toBe(ELEMENT_BYTES);
        expect(toBigInt(e) < FIELD_PRIME).toBe(true);
        expect(isCanonicalElement(e, 0)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a message that is not a Uint8Array', () => {
    expect(() => hashToGroup('abc' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('hashIds', () => {
  it('packs hashToGroup of each UTF-8 id in order', () => {
    const ids = ['110101199003074518', '张三-44030519850101', '', '110101199003074518'];
    const packed = hashIds(ids);
    expect(packed.length).toBe(ids.length * ELEMENT_BYTES);
    ids.forEach((id, i) => {
      expect(packed.subarray(i * ELEMENT_BYTES, (i + 1) * ELEMENT_BYTES)).toEqual(hashToGroup(utf8.encode(id)));
    });
    expect(packed.subarray(0, 32)).toEqual(packed.subarray(96, 128));
    expect(packed.subarray(0, 32)).not.toEqual(packed.subarray(32, 64));
  });

  it('honours the DST and refuses non-strings', () => {
    expect(hashIds(['abc'], rfc.dst)).toEqual(hashToGroup(utf8.encode('abc'), rfc.dst));
    expect(hashIds([])).toEqual(new Uint8Array(0));
    expect(() => hashIds([7 as unknown as string])).toThrow(TypeError);
  });
});
