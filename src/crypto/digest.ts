/**
 * Domain-separated SHA-256 digests. Every signature in fedstat covers a digest built here, so a
 * signature made for one purpose can never be replayed as another: the tag names the purpose and
 * every field is length-prefixed, which makes the encoding injective.
 */
import { createHash } from 'node:crypto';

export type DigestField = Uint8Array | string | number | bigint;

function encodeField(f: DigestField): Uint8Array {
  if (typeof f === 'string') return new TextEncoder().encode(f);
  if (typeof f === 'number' || typeof f === 'bigint') {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(f));
    return b;
  }
  return f;
}

/** SHA-256(tag ‖ field₁ ‖ … ‖ fieldₙ), each part prefixed with its 4-byte big-endian length. */
export function taggedDigest(tag: string, ...fields: readonly DigestField[]): Uint8Array {
  const h = createHash('sha256');
  const len = new Uint8Array(4);
  const view = new DataView(len.buffer);
  for (const part of [tag, ...fields]) {
    const bytes = encodeField(part);
    view.setUint32(0, bytes.length);
    h.update(len);
    h.update(bytes);
  }
  return new Uint8Array(h.digest());
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Strict base64 decoding: returns null unless `text` is canonical base64 of some bytes. */
export function fromBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  return toBase64(bytes) === text ? bytes : null;
}
