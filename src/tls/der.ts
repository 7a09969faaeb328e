/**
 * A minimal DER (X.690 Distinguished Encoding Rules) writer and reader: just what X.509
 * certificates need. node:crypto parses certificates but cannot create them, and a certificate is
 * a signature over exact bytes, so every encoder here emits the one canonical DER form: minimal
 * lengths, minimal integers, sorted SET OF, BOOLEAN TRUE as 0xff, trailing zero bits stripped
 * from named bit strings, and RFC 5280's choice of UTCTime through 2049.
 */

/** Universal tag numbers used by X.509 (class universal, the constructed bit added where due). */
const TAG = Object.freeze({
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
});

const CONSTRUCTED = 0x20;
const CONTEXT = 0x80;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV with a single-byte identifier (tag numbers 0..30, which is all X.509 needs). */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new RangeError(`DER tag ${tag} needs a multi-byte identifier, which this encoder does not write`);
  }
  return concat([Uint8Array.of(tag), encodeLength(content.length), content]);
}

export function sequence(...items: readonly Uint8Array[]): Uint8Array {
  return tlv(TAG.SEQUENCE, concat(items));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  }
  return a.length - b.length;
}

/** SET OF: DER orders the elements by their encodings (X.690 §11.6). */
export function set(...items: readonly Uint8Array[]): Uint8Array {
  return tlv(TAG.SET, concat([...items].sort(compareBytes)));
}

/** Minimal two's complement bytes of a bigint (X.690 §8.3.2: the first 9 bits never all equal). */
function twosComplement(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  for (;;) {
    const byte = Number(BigInt.asUintN(8, v));
    bytes.unshift(byte);
    v >>= 8n; // arithmetic shift: negative values converge to -1
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Uint8Array.from(bytes);
}

/**
 * INTEGER from a bigint (any sign) or from unsigned big-endian magnitude bytes (a serial number,
 * an ECDSA coordinate): leading zero bytes are dropped and a 0x00 is prepended when the high bit
 * is set, so the value stays positive.
 */
export function integer(value: bigint | Uint8Array): Uint8Array {
  if (typeof value === 'bigint') return tlv(TAG.INTEGER, twosComplement(value));
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const magnitude = value.length === 0 ? Uint8Array.of(0) : value.subarray(start);
  const pad = ((magnitude[0] ?? 0) & 0x80) !== 0;
  return tlv(TAG.INTEGER, pad ? concat([Uint8Array.of(0), magnitude]) : magnitude);
}

export function boolean(value: boolean): Uint8Array {
  return tlv(TAG.BOOLEAN, Uint8Array.of(value ? 0xff : 0x00));
}

export function nullValue(): Uint8Array {
  return tlv(TAG.NULL, new Uint8Array(0));
}

/** OBJECT IDENTIFIER from dotted text ("1.2.840.10045.4.3.2"); arcs are base-128, big-endian. */
export function oid(dotted: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new RangeError(`not a dotted OID: ${dotted}`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [first = 0n, second = 0n, ...rest] = arcs;
  if (first < 2n && second > 39n)
    throw new RangeError(`OID ${dotted}: the second arc must be below 40 under arc ${first}`);
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...chunk);
  }
  return tlv(TAG.OID, Uint8Array.from(out));
}

/** BIT STRING of whole bytes (a public key, a signature) or with `unusedBits` trailing bits unused. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`a BIT STRING cannot have ${unusedBits} unused bits here`);
  }
  const last = bytes[bytes.length - 1] ?? 0;
  if ((last & ((1 << unusedBits) - 1)) !== 0)
    throw new RangeError('DER requires the unused bits of a BIT STRING to be zero');
  return tlv(TAG.BIT_STRING, concat([Uint8Array.of(unusedBits), bytes]));
}

/**
 * A named-bit BIT STRING (KeyUsage): bit 0 is the most significant bit of the first byte, and
 * DER drops trailing zero bits (X.690 §11.2.2), so {digitalSignature} is 03 02 07 80.
 */
export function namedBits(bits: readonly number[]): Uint8Array {
  if (bits.some((b) => !Number.isInteger(b) || b < 0 || b > 255))
    throw new RangeError('named bits must be integers 0..255');
  if (bits.length === 0) return bitString(new Uint8Array(0));
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3] = (bytes[b >> 3] ?? 0) | (0x80 >> (b & 7));
  return bitString(bytes, 7 - (highest & 7));
}

export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(TAG.OCTET_STRING, bytes);
}

export function utf8String(text: string): Uint8Array {
  return tlv(TAG.UTF8_STRING, new TextEncoder().encode(text));
}

export function printableString(text: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text))
    throw new RangeError('text has characters PrintableString cannot hold');
  return tlv(TAG.PRINTABLE_STRING, new TextEncoder().encode(text));
}

/** IA5String (ASCII): DNS names in subjectAltName. */
export function ia5String(text: string): Uint8Array {
  if ([...text].some((c) => c.charCodeAt(0) > 0x7f)) throw new RangeError('text has characters IA5String cannot hold');
  return tlv(TAG.IA5_STRING, new TextEncoder().encode(text));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function checkTime(date: Date): void {
  if (!Number.isFinite(date.getTime())) throw new RangeError('invalid date');
  if (date.getUTCMilliseconds() !== 0)
    throw new RangeError('X.509 times have whole seconds; truncate the milliseconds first');
}

/** UTCTime YYMMDDHHMMSSZ; RFC 5280 §4.1.2.5.1: YY ≥ 50 means 19YY, so only 1950..2049. */
export function utcTime(date: Date): Uint8Array {
  checkTime(date);
  const y = date.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError(`UTCTime cannot express the year ${y}; use GeneralizedTime`);
  const text =
    `${pad(y % 100, 2)}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}` +
    `${pad(date.getUTCHours(), 2)}${pad(date.getUTCMinutes(), 2)}${pad(date.getUTCSeconds(), 2)}Z`;
  return tlv(TAG.UTC_TIME, new TextEncoder().encode(text));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ (no fractional seconds, RFC 5280 §4.1.2.5.2). */
export function generalizedTime(date: Date): Uint8Array {
  checkTime(date);
  const y = date.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`GeneralizedTime cannot express the year ${y}`);
  const text =
    `${pad(y, 4)}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}` +
    `${pad(date.getUTCHours(), 2)}${pad(date.getUTCMinutes(), 2)}${pad(date.getUTCSeconds(), 2)}Z`;
  return tlv(TAG.GENERALIZED_TIME, new TextEncoder().encode(text));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function time(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  return y >= 1950 && y <= 2049 ? utcTime(date) : generalizedTime(date);
}

function checkTagNumber(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`context tag [${n}] is outside 0..30`);
}

/** [n] EXPLICIT: a constructed context-specific wrapper around a whole encoding. */
export function explicit(tagNumber: number, inner: Uint8Array): Uint8Array {
  checkTagNumber(tagNumber);
  return tlv(CONTEXT | CONSTRUCTED | tagNumber, inner);
}

/** [n] IMPLICIT: replaces the identifier of `inner` (an encoding), keeping its constructed bit. */
export function implicit(tagNumber: number, inner: Uint8Array): Uint8Array {
  checkTagNumber(tagNumber);
  const element = readElement(inner, 0);
  if (element.end !== inner.length) throw new RangeError('implicit() takes exactly one encoded element');
  return tlv(CONTEXT | (element.tag & CONSTRUCTED) | tagNumber, element.content);
}

/** A decoded TLV: its identifier byte, its content, its whole encoding and where it ends. */
export interface DerElement {
  readonly tag: number;
  readonly content: Uint8Array;
  /** Header and content, as they appear in the input. */
  readonly encoding: Uint8Array;
  /** Offset just after this element. */
  readonly end: number;
}

/** Reads one element at `offset`, insisting on DER's minimal definite lengths. */
export function readElement(bytes: Uint8Array, offset: number): DerElement {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined) throw new RangeError('DER: truncated element header');
  if ((tag & 0x1f) === 0x1f) throw new RangeError('DER: multi-byte tags are not supported');
  let length = first;
  let start = offset + 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new RangeError('DER: indefinite or oversized length');
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = bytes[start + i];
      if (b === undefined) throw new RangeError('DER: truncated length');
      if (i === 0 && b === 0) throw new RangeError('DER: non-minimal length');
      length = length * 256 + b;
    }
    if (length < 0x80) throw new RangeError('DER: non-minimal length');
    start += count;
  }
  const end = start + length;
  if (end > bytes.length) throw new RangeError('DER: element runs past the end of its input');
  return { tag, content: bytes.subarray(start, end), encoding: bytes.subarray(offset, end), end };
}

/** The elements of a constructed value's content, in order. */
export function readChildren(content: Uint8Array): DerElement[] {
  const out: DerElement[] = [];
  for (let o = 0; o < content.length; o = out[out.length - 1]?.end ?? content.length) out.push(readElement(content, o));
  return out;
}
