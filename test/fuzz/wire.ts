/**
 * The wire codecs of the services, exactly as grpc-js runs them (the service definitions'
 * serialize/deserialize functions), typed for the fuzzers. A deserialize that throws is what
 * grpc-js turns into a failed call before any handler runs: the fuzzers count it as
 * "rejected by transport".
 */
import type { MethodDefinition } from '@grpc/grpc-js';
import { agencyServiceDefinition, keyAuthorityServiceDefinition } from '../../src/transport/proto.js';
import type {
  AggregateRequestMessage,
  AggregateResponseMessage,
  DecryptRequestMessage,
  DecryptResponseMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from '../../src/transport/proto.js';

interface Codec<T> {
  readonly encode: (message: T) => Uint8Array;
  /** Throws whatever protobufjs throws on bytes it cannot parse. */
  readonly decode: (bytes: Uint8Array) => T;
}

function codec<T>(m: MethodDefinition<object, object> | undefined, side: 'request' | 'response'): Codec<T> {
  if (m === undefined) throw new Error('method missing from the service definition');
  const serialize = side === 'request' ? m.requestSerialize : m.responseSerialize;
  const deserialize = side === 'request' ? m.requestDeserialize : m.responseDeserialize;
  return {
    encode: (message) => new Uint8Array(serialize(message as object)),
    decode: (bytes) => deserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as T,
  };
}

const agency = agencyServiceDefinition() as Record<string, MethodDefinition<object, object>>;
const keyAuthority = keyAuthorityServiceDefinition() as Record<string, MethodDefinition<object, object>>;

export const AGGREGATE_REQUEST = codec<AggregateRequestMessage>(agency['Aggregate'], 'request');
export const AGGREGATE_RESPONSE = codec<AggregateResponseMessage>(agency['Aggregate'], 'response');
export const UNMASK_REQUEST = codec<UnmaskRequestMessage>(agency['Unmask'], 'request');
export const UNMASK_RESPONSE = codec<UnmaskResponseMessage>(agency['Unmask'], 'response');
export const DECRYPT_REQUEST = codec<DecryptRequestMessage>(keyAuthority['Decrypt'], 'request');
export const DECRYPT_RESPONSE = codec<DecryptResponseMessage>(keyAuthority['Decrypt'], 'response');

/** Byte-wise equality (for "the mutant decoded to the genuine content"). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}
