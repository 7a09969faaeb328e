import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { checkSealHeader, ComprMode, SEAL_HEADER_SIZE } from '../../src/he/ciphertext-header.js';

/** A header as SEAL 4.1 writes it (serialization.h), followed by `body` bytes. */
function sealObject(body: number, mode: number = ComprMode.none): Uint8Array {
  const bytes = new Uint8Array(SEAL_HEADER_SIZE + body);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0xa15e, true);
  view.setUint8(2, 16);
  view.setUint8(3, 4);
  view.setUint8(4, 1);
  view.setUint8(5, mode);
  view.setBigUint64(8, BigInt(bytes.length), true);
  return bytes;
}

describe('checkSealHeader', () => {
  it('accepts a well-formed header and reports its fields', () => {
    expect(checkSealHeader(sealObject(100), 1000)).toEqual({
      versionMajor: 4,
      versionMinor: 1,
      comprMode: 0,
      size: 116,
    });
    expect(checkSealHeader(sealObject(0, ComprMode.zstd), 1000, [ComprMode.none, ComprMode.zstd]).comprMode).toBe(2);
  });

  it('refuses compressed objects unless allowed (no decompressor ever sees peer bytes)', () => {
    expect(() => checkSealHeader(sealObject(10, ComprMode.zstd), 1000)).toThrowError(
      /compression mode 2 is not allowed/,
    );
    expect(() => checkSealHeader(sealObject(10, 7), 1000, [0, 1, 2])).toThrowError(/compression mode 7/);
  });

  it('says MESSAGE_TOO_LARGE above maxBytes before reading anything', () => {
    try {
      checkSealHeader(new Uint8Array(2000), 1000);
      expect.unreachable();
    } catch (e) {
      expect(isFedstatError(e, 'MESSAGE_TOO_LARGE')).toBe(true);
    }
  });

  it('rejects every single-bit corruption of the header with BAD_MESSAGE, never echoing bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SEAL_HEADER_SIZE * 8 - 1 }),
        fc.integer({ min: 0, max: 300 }),
        (bit, body) => {
          const bytes = sealObject(body);
          bytes[bit >> 3]! ^= 1 << (bit & 7);
          try {
            checkSealHeader(bytes, 1 << 20);
            expect.unreachable();
          } catch (e) {
            expect(isFedstatError(e, 'BAD_MESSAGE')).toBe(true);
            expect((e as Error).message).not.toMatch(/5e|a15e|\[/i);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects short buffers, a declared size that differs from the length, and SEAL 3.x headers', () => {
    expect(() => checkSealHeader(new Uint8Array(15), 100)).toThrowError(/cannot hold/);
    const longer = new Uint8Array(sealObject(10).length + 1);
    longer.set(sealObject(10));
    expect(() => checkSealHeader(longer, 100)).toThrowError(/declares 26 bytes but 27 arrived/);
    const legacy = sealObject(10);
    legacy[2] = 0; // SEAL 3.4: zero byte where 4.x has the header size
    expect(() => checkSealHeader(legacy, 100)).toThrowError(/header size/);
  });
});
