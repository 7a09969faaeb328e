/**
 * gRPC limits of the KeyAuthority service, all explicit (grpc-js defaults to a 4 MiB receive
 * limit, no send limit, no keepalive and unbounded concurrent streams). A request carries up to
 * MAX_CIPHERTEXTS ciphertexts of the federation's parameters plus the signed query and survivor
 * set; an answer carries one 8-byte-per-slot vector per ciphertext. Both limits follow from the
 * HE parameters, so they are computed from them rather than fixed.
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import { MAX_QUERY_BYTES } from '../protocol/query-envelope.js';
import { MAX_LOG_PROOF_BYTES } from './log-proof-messages.js';

/** The survivor set's own bound (src/protocol/survivor-set.ts refuses larger sets). */
const MAX_SURVIVOR_SET_BYTES = 256 * 1024;
/** Signatures, field tags and length prefixes. */
const FRAMING_BYTES = 64 * 1024;

/** Decryptions the key authority works on at once per connection; more wait for a stream. */
const KEY_AUTHORITY_MAX_CONCURRENT_STREAMS = 8;
/** Default deadline of every call to a key authority. */
export const KEY_AUTHORITY_DEADLINE_MS = 60_000;

export interface KeyAuthorityLimits {
  /** Largest Decrypt request in bytes. */
  readonly requestBytes: number;
  /** Largest Decrypt answer in bytes. */
  readonly answerBytes: number;
}

/** The limits for parameters with `slotCount` slots and `ciphertextBytes`-byte ciphertexts. */
export function keyAuthorityLimits(params: {
  readonly slotCount: number;
  readonly ciphertextBytes: number;
}): KeyAuthorityLimits {
  const { slotCount, ciphertextBytes } = params;
  if (
    !Number.isSafeInteger(slotCount) ||
    slotCount < 1 ||
    !Number.isSafeInteger(ciphertextBytes) ||
    ciphertextBytes < 1
  ) {
    throw new RangeError('keyAuthorityLimits: slotCount and ciphertextBytes must be positive integers');
  }
  return Object.freeze({
    requestBytes:
      MAX_CIPHERTEXTS * (ciphertextBytes + 16) +
      MAX_QUERY_BYTES +
      MAX_LOG_PROOF_BYTES +
      MAX_SURVIVOR_SET_BYTES +
      FRAMING_BYTES,
    // the answer also carries the key authority's log entry of the decryption (a few hundred bytes)
    answerBytes: MAX_CIPHERTEXTS * (slotCount * 8 + 16) + FRAMING_BYTES,
  });
}

const KEEPALIVE: ChannelOptions = Object.freeze({
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.max_pings_without_data': 0,
});

/** The key authority's side: big requests in (never more than `requestBytes`), small answers out. */
export function keyAuthorityServerOptions(limits: KeyAuthorityLimits): ChannelOptions {
  return Object.freeze({
    ...KEEPALIVE,
    'grpc.max_receive_message_length': limits.requestBytes,
    'grpc.max_send_message_length': limits.answerBytes,
    'grpc.max_concurrent_streams': KEY_AUTHORITY_MAX_CONCURRENT_STREAMS,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    // Let a whole request flow without waiting for HTTP/2 window updates.
    'grpc-node.flow_control_window': limits.requestBytes,
  });
}

/** The coordinator's side: big requests out, answers in (never more than `answerBytes`). */
export function keyAuthorityChannelOptions(limits: KeyAuthorityLimits): ChannelOptions {
  return Object.freeze({
    ...KEEPALIVE,
    'grpc.max_receive_message_length': limits.answerBytes,
    'grpc.max_send_message_length': limits.requestBytes,
    'grpc-node.flow_control_window': limits.answerBytes,
    'grpc.initial_reconnect_backoff_ms': 500,
    'grpc.max_reconnect_backoff_ms': 2_000,
  });
}
