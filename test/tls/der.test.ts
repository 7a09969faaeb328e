import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bitString,
  boolean,
  explicit,
  generalizedTime,
  ia5String,
  implicit,
  integer,
  namedBits,
  nullValue,
  octetString,
  oid,
  printableString,
  readChildren,
  readElement,
  sequence,
  set,
  time,
  tlv,
  utcTime,
  utf8String,
} from '../../src/tls/der.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** Reference decoding of a DER INTEGER's content: big-endian two's complement. */
function decodeInteger(content: Uint8Array): bigint {
  const v = BigInt(`0x${hex(content)}`);
  return (content[0]! & 0x80) !== 0 ? v - (1n << BigInt(8 * content.length)) : v;
}

/** Reference decoding of OID content into dotted text. */
function decodeOid(content: Uint8Array): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (const b of content) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

describe('DER known answers (X.690, RFC 5280 examples)', () => {
  it('encodes integers minimally with sign padding', () => {
    const cases: [bigint, string][] = [
      [0n, '020100'],
      [1n, '020101'],
      [127n, '02017f'],
      [128n, '02020080'],
      [255n, '020200ff'],
      [256n, '02020100'],
      [-1n, '0201ff'],
      [-128n, '020180'],
      [-129n, '0202ff7f'],
      [-256n, '0202ff00'],
      [2n ** 64n, '0209010000000000000000'],
    ];
    for (const [v, expected] of cases) expect(hex(integer(v)), String(v)).toBe(expected);
    expect(hex(integer(Uint8Array.of(0x80, 0x01)))).toBe('0203008001');
    expect(hex(integer(Uint8Array.of(0, 0, 0x7f)))).toBe('02017f');
    expect(hex(integer(Uint8Array.of(0, 0)))).toBe('020100');
    expect(hex(integer(new Uint8Array(0)))).toBe('020100');
  });

  it('encodes lengths in short and long form', () => {
    expect(hex(octetString(new Uint8Array(127))).slice(0, 4)).toBe('047f');
    expect(hex(octetString(new Uint8Array(128))).slice(0, 6)).toBe('048180');
    expect(hex(octetString(new Uint8Array(300))).slice(0, 8)).toBe('0482012c');
    expect(hex(octetString(new Uint8Array(70000))).slice(0, 10)).toBe('0483011170');
  });

  it('encodes object identifiers', () => {
    expect(hex(oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(oid('2.5.29.19'))).toBe('0603551d13');
    expect(hex(oid('1.3.6.1.5.5.7.3.1'))).toBe('06082b06010505070301');
    expect(hex(oid('2.999.3'))).toBe('0603883703'); // X.690 §8.19.5 example
    expect(() => oid('1.40')).toThrow(RangeError);
    expect(() => oid('1.02')).toThrow(RangeError);
    expect(() => oid('3.1')).toThrow(RangeError);
  });

  it('encodes booleans, null, strings and bit strings', () => {
    expect(hex(boolean(true))).toBe('0101ff');
    expect(hex(boolean(false))).toBe('010100');
    expect(hex(nullValue())).toBe('0500');
    expect(hex(utf8String('锦江'))).toBe('0c06e994a6e6b19f');
    expect(hex(printableString('CN 1'))).toBe('1304434e2031');
    expect(() => printableString('a@b')).toThrow(RangeError);
    expect(hex(ia5String('a.b'))).toBe('1603612e62');
    expect(() => ia5String('é')).toThrow(RangeError);
    expect(hex(bitString(Uint8Array.of(1, 2)))).toBe('0303000102');
    expect(() => bitString(Uint8Array.of(0x81), 1)).toThrow(/unused bits/);
  });

  it('encodes named bit strings without trailing zero bits (KeyUsage)', () => {
    expect(hex(namedBits([0]))).toBe('03020780'); // digitalSignature
    expect(hex(namedBits([5, 6]))).toBe('03020106'); // keyCertSign | cRLSign
    expect(hex(namedBits([0, 5, 6]))).toBe('03020186');
    expect(hex(namedBits([8]))).toBe('0303070080'); // decipherOnly
    expect(hex(namedBits([]))).toBe('030100');
  });

  it('sorts SET OF by encoding and wraps sequences', () => {
    expect(hex(set(integer(2n), integer(1n), octetString(Uint8Array.of(0))))).toBe('3109020101020102040100');
    expect(hex(sequence(integer(1n), boolean(true)))).toBe('30060201010101ff');
    expect(hex(sequence())).toBe('3000');
  });

  it('writes explicit and implicit context tags', () => {
    expect(hex(explicit(0, integer(2n)))).toBe('a003020102');
    expect(hex(explicit(3, sequence()))).toBe('a3023000');
    expect(hex(implicit(2, ia5String('a')))).toBe('820161');
    expect(hex(implicit(7, octetString(Uint8Array.of(127, 0, 0, 1))))).toBe('87047f000001');
    expect(hex(implicit(1, sequence(integer(0n))))).toBe('a103020100'); // constructed stays constructed
    expect(() => implicit(31, integer(0n))).toThrow(RangeError);
    expect(() => implicit(0, new Uint8Array([...integer(0n), ...integer(1n)]))).toThrow(/exactly one/);
    expect(() => tlv(0x1f, new Uint8Array(0))).toThrow(RangeError);
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
    expect(ascii(readElement(time(new Date('2049-12-31T23:59:59Z')), 0).content)).toBe('491231235959Z');
    expect(time(new Date('2049-12-31T23:59:59Z'))[0]).toBe(0x17);
    expect(ascii(readElement(time(new Date('2050-01-01T00:00:00Z')), 0).content)).toBe('20500101000000Z');
    expect(time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(0x18);
    expect(ascii(readElement(time(new Date('1950-01-01T00:00:00Z')), 0).content)).toBe('500101000000Z');
    expect(time(new Date('1949-12-31T23:59:59Z'))[0]).toBe(0x18);
    expect(ascii(readElement(generalizedTime(new Date('2026-03-04T05:06:07Z')), 0).content)).toBe('20260304050607Z');
    expect(() => utcTime(new Date('2050-01-01T00:00:00Z'))).toThrow(/GeneralizedTime/);
    expect(() => time(new Date('2026-01-01T00:00:00.5Z'))).toThrow(/whole seconds/);
    expect(() => time(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('DER reader', () => {
  it('refuses indefinite, non-minimal and overrunning lengths', () => {
    expect(() => readElement(Uint8Array.of(0x30, 0x80, 0, 0), 0)).toThrow(/indefinite/);
    expect(() => readElement(Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 0)).toThrow(/non-minimal/);
    expect(() => readElement(Uint8Array.of(0x04, 0x82, 0x00, 0x85, ...new Array<number>(0x85).fill(0)), 0)).toThrow(
      /non-minimal/,
    );
    expect(() => readElement(Uint8Array.of(0x04, 0x03, 1), 0)).toThrow(/past the end/);
    expect(() => readElement(Uint8Array.of(0x04), 0)).toThrow(/truncated/);
  });
});

describe('DER properties (against reference decoders)', () => {
  it("every integer round-trips through a two's complement reference and is minimal", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }), (v) => {
        const e = readElement(integer(v), 0);
        expect(e.tag).toBe(0x02);
        expect(decodeInteger(e.content)).toBe(v);
        if (e.content.length > 1) {
          // X.690 §8.3.2: the first nine bits are not all ones or all zeros
          const nine = (e.content[0]! << 1) | (e.content[1]! >> 7);
          expect(nine === 0 || nine === 0x1ff).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('unsigned byte integers decode to the same non-negative value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const e = readElement(integer(bytes), 0);
        const expected = bytes.length === 0 ? 0n : BigInt(`0x${hex(bytes) || '0'}`);
        expect(decodeInteger(e.content)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('every OID round-trips through a base-128 reference decoder', () => {
    const arcs = fc.tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 39 }),
      fc.array(fc.bigInt({ min: 0n, max: 2n ** 70n }), { maxLength: 8 }),
    );
    fc.assert(
      fc.property(arcs, ([a, b, rest]) => {
        const dotted = [a, b, ...rest].join('.');
        const e = readElement(oid(dotted), 0);
        expect(decodeOid(e.content)).toBe(dotted);
      }),
      { numRuns: 300 },
    );
  });

  it('nested structures read back element by element', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), (items) => {
        const enc = sequence(...items.map(octetString));
        const outer = readElement(enc, 0);
        expect(outer.end).toBe(enc.length);
        expect(readChildren(outer.content).map((c) => hex(c.content))).toEqual(items.map(hex));
      }),
      { numRuns: 200 },
    );
  });
});
