/**
 * Signed tree heads: the signed bytes are exactly the documented layout (checked against bytes
 * assembled by hand), signatures verify under tweetnacl too (an independent Ed25519), any change
 * to any field or the key fails, and the decoders refuse every malformed form with BAD_MESSAGE.
 */
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { isFedstatError } from '../../src/errors.js';
import {
  decodeSignedTreeHead,
  encodeSignedTreeHead,
  encodeTreeHead,
  signTreeHead,
  treeHeadFromJson,
  treeHeadToJson,
  verifyTreeHead,
  type SignedTreeHead,
} from '../../src/merkle/tree-head.js';

const operator = signingKeyPairFromSeed(new Uint8Array(32).fill(7));
const other = signingKeyPairFromSeed(new Uint8Array(32).fill(8));
const root = new Uint8Array(32).map((_, i) => i);
const head = { logId: 'fed-é', size: 0x0102030405, rootHash: root, timestamp: 1_764_380_000_123 };

const badMessage = (fn: () => unknown): boolean => {
  try {
    fn();
    return false;
  } catch (e) {
    return isFedstatError(e, 'BAD_MESSAGE');
  }
};

describe('tree head encoding', () => {
  it('is the domain tag, length-prefixed UTF-8 id, u64 size, root, u64 timestamp', () => {
    const expected = Buffer.concat([
      Buffer.from('fedstat/transparency/tree-head/v1\n'),
      Buffer.from('0006', 'hex'),
      Buffer.from('6665642dc3a9', 'hex'), // "fed-é" is 6 UTF-8 bytes
      Buffer.from('0000000102030405', 'hex'),
      Buffer.from(root),
      Buffer.from((1_764_380_000_123).toString(16).padStart(16, '0'), 'hex'),
    ]);
    expect(Buffer.from(encodeTreeHead(head)).toString('hex')).toBe(expected.toString('hex'));
    expect(encodeTreeHead(head).length).toBe(34 + 2 + 6 + 8 + 32 + 8);
  });

  it('refuses heads it cannot encode faithfully', () => {
    for (const h of [
      { ...head, logId: '' },
      { ...head, logId: 'x'.repeat(257) },
      { ...head, logId: '\ud800' },
      { ...head, size: -1 },
      { ...head, size: 1.5 },
      { ...head, size: 2 ** 53 },
      { ...head, timestamp: -1 },
      { ...head, rootHash: new Uint8Array(31) },
    ])
      expect(() => encodeTreeHead(h)).toThrow(RangeError);
    expect(encodeTreeHead({ ...head, logId: 'x'.repeat(256) }).length).toBeGreaterThan(256);
  });
});

describe('signing and verifying', () => {
  const signed = signTreeHead(head, operator.secretKey);

  it('verifies here and under tweetnacl; fails for another key or any changed field', () => {
    expect(verifyTreeHead(signed, operator.publicKey)).toBe(true);
    expect(nacl.sign.detached.verify(encodeTreeHead(signed), signed.signature, operator.publicKey)).toBe(true);
    expect(verifyTreeHead(signed, other.publicKey)).toBe(false);
    const flipped = signed.rootHash.slice();
    flipped[31]! ^= 1;
    for (const h of [
      { ...signed, logId: 'fed-e' },
      { ...signed, size: signed.size + 1 },
      { ...signed, timestamp: signed.timestamp - 1 },
      { ...signed, rootHash: flipped },
      { ...signed, signature: signed.signature.map((b, i) => (i === 0 ? b ^ 0x80 : b)) },
    ])
      expect(verifyTreeHead(h, operator.publicKey)).toBe(false);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (h, k) => {
        expect(verifyTreeHead(h as SignedTreeHead, k as Uint8Array)).toBe(false);
      }),
      { numRuns: 300 },
    );
    expect(verifyTreeHead({ ...signed, signature: new Uint8Array(63) }, operator.publicKey)).toBe(false);
    expect(verifyTreeHead(signed, new Uint8Array(32))).toBe(false); // small-order key
  });

  it('wire form round-trips; every malformed form is BAD_MESSAGE', () => {
    const wire = encodeSignedTreeHead(signed);
    const back = decodeSignedTreeHead(wire);
    expect(back).toEqual({ ...signed });
    expect(verifyTreeHead(back, operator.publicKey)).toBe(true);
    const domainFlip = wire.slice();
    domainFlip[0]! ^= 1;
    const idLen = wire.slice();
    idLen[35]! += 1;
    const badUtf8 = wire.slice();
    badUtf8[41] = 0xc3; // "fed-" then 0xc3 0xc3: invalid UTF-8
    const hugeSize = wire.slice();
    hugeSize[42] = 0xff;
    for (const b of [
      new Uint8Array(0),
      wire.subarray(0, 40),
      wire.subarray(0, wire.length - 1),
      Uint8Array.of(...wire, 0),
      domainFlip,
      idLen,
      badUtf8,
      hugeSize,
    ]) {
      expect(badMessage(() => decodeSignedTreeHead(b))).toBe(true);
    }
  });

  it('JSON form round-trips exactly and refuses other spellings', () => {
    const json = treeHeadToJson(signed);
    expect(json.rootHash).toBe(Buffer.from(root).toString('hex'));
    expect(treeHeadFromJson(JSON.parse(JSON.stringify(json)))).toEqual({ ...signed });
    for (const v of [
      null,
      [],
      'x',
      { ...json, extra: 1 },
      { ...json, rootHash: json.rootHash.toUpperCase() },
      { ...json, rootHash: json.rootHash.slice(2) },
      { ...json, signature: json.signature.slice(4) },
      { ...json, size: '5' },
      { ...json, timestamp: -3 },
      { ...json, logId: 7 },
      { ...json, signature: `${json.signature.slice(0, 85)}B==` }, // non-zero padding bits: not canonical
    ])
      expect(
        badMessage(() => treeHeadFromJson(v)),
        JSON.stringify(v),
      ).toBe(true);
  });
});
