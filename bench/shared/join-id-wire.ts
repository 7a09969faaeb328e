/**
 * The bench-only plaintext id service of `bench join`'s baseline: one server-streaming method with
 * a generic grpc-js definition (raw bytes, no protobuf). The request names the value column to send
 * beside each id (`g` as its code, `v`, or nothing); each answer message is one chunk:
 *
 *   u32 count | u32 idBytes | ids, UTF-8, joined by '\n' (idBytes) | count × i32 values (LE)
 *
 * It is what an agency would send if it simply handed its identifiers to the coordinator over the
 * same mTLS channel: the physical limit of a join on this federation (read + transfer + hash join).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';

export const ID_STREAM_PATH = '/fedstat.bench.Ids/Stream';
/** Rows per streamed chunk (~1.3 MiB of 16-byte ids and values). */
export const ROWS_PER_CHUNK = 65_536;
/** The value columns a request may ask for. */
export type ValueColumn = 'g' | 'v' | '';

const identity = (b: Buffer): Buffer => b;

/** The service definition, shared by the server and the client. */
export const idServiceDefinition: ServiceDefinition = {
  Stream: {
    path: ID_STREAM_PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** One chunk on the wire. */
export function encodeChunk(ids: readonly string[], values: Int32Array | null): Buffer {
  const idBytes = Buffer.from(ids.join('\n'), 'utf8');
  const out = Buffer.alloc(8 + idBytes.length + (values === null ? 0 : values.length * 4));
  out.writeUInt32LE(ids.length, 0);
  out.writeUInt32LE(idBytes.length, 4);
  idBytes.copy(out, 8);
  if (values !== null) {
    let at = 8 + idBytes.length;
    for (const v of values) at = out.writeInt32LE(v, at);
  }
  return out;
}

/** A chunk's ids and values (empty values when none were asked for). */
export function decodeChunk(chunk: Buffer, withValues: boolean): { ids: string[]; values: Int32Array } {
  const count = chunk.readUInt32LE(0);
  const idBytes = chunk.readUInt32LE(4);
  const ids = count === 0 ? [] : chunk.toString('utf8', 8, 8 + idBytes).split('\n');
  const values = new Int32Array(withValues ? count : 0);
  if (withValues) {
    const start = 8 + idBytes;
    for (let i = 0; i < count; i++) values[i] = chunk.readInt32LE(start + 4 * i);
  }
  if (ids.length !== count) throw new Error(`a baseline chunk holds ${ids.length} ids, it announced ${count}`);
  return { ids, values };
}
