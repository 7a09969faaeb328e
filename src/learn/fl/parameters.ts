/**
 * A network's flat parameters as text: float64 little-endian in base64, the form a round plan
 * carries them in (protocol/fl-round.ts) and MODEL.json stores them in (network-file.ts), and the
 * SHA-256 of those bytes, which the transparency log and MODEL.json keep.
 */
import { sha256, toHex } from '../../crypto/digest.js';

/** The parameters as base64 of their float64 little-endian bytes. */
export function encodeParameters(params: Float64Array): string {
  const bytes = new Uint8Array(params.length * 8);
  const view = new DataView(bytes.buffer);
  params.forEach((v, i) => view.setFloat64(i * 8, v, true));
  return Buffer.from(bytes).toString('base64');
}

/** The parameters of `text`; RangeError unless it is canonical base64 of `size` finite values. */
export function decodeParameters(text: string, size: number): Float64Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== size * 8 || bytes.toString('base64') !== text)
    throw new RangeError(`the parameters must be ${size} float64 values in base64`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const v = view.getFloat64(i * 8, true);
    if (!Number.isFinite(v)) throw new RangeError('the parameters must be finite');
    out[i] = v;
  }
  return out;
}

/** hex SHA-256 of the parameters' bytes. */
export function parametersDigest(params: Float64Array): string {
  return toHex(sha256(Buffer.from(encodeParameters(params), 'base64')));
}
