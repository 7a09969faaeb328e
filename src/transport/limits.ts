/**
 * gRPC limits, all explicit: grpc-js defaults to a 4 MiB receive limit, no deadline, no
 * keepalive and unbounded concurrent streams. A contribution carries up to MAX_CIPHERTEXTS
 * ciphertexts of ~524 KB each, so messages are capped a little above that.
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import { MAX_QUERY_AGENCIES, MAX_QUERY_BYTES } from '../protocol/query-envelope.js';
import { MAX_SET_BYTES } from '../protocol/survivor-set.js';
import { MAX_LOG_PROOF_BYTES } from './log-proof-messages.js';

/** Serialized BFV N=8192 ciphertext without compression, plus headroom. */
const MAX_CIPHERTEXT_BYTES = 600 * 1024;
const MAX_MESSAGE_BYTES = MAX_CIPHERTEXTS * MAX_CIPHERTEXT_BYTES + 64 * 1024;
/** One sealed share on the wire: two party ids, a 24-byte nonce and a box of < 400 bytes. */
const MAX_SEALED_SHARE_BYTES = 1024;
/**
 * Requests to an agency never carry ciphertexts: a signed query (round 1), or the signed query, the
 * signed survivor set and at most one sealed share per agency of the query (round 2), and the
 * query's transparency-log proof.
 */
const MAX_REQUEST_BYTES =
  MAX_QUERY_BYTES + MAX_LOG_PROOF_BYTES + MAX_SET_BYTES + MAX_QUERY_AGENCIES * MAX_SEALED_SHARE_BYTES + 64 * 1024;

/** The coordinator's side: small requests out, contributions in. */
export const CHANNEL_OPTIONS: ChannelOptions = Object.freeze({
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_REQUEST_BYTES,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.max_pings_without_data': 0,
  // HTTP/2's default 64 KB window makes a 512 KB contribution wait for window updates; let a
  // whole contribution flow at once.
  'grpc-node.flow_control_window': MAX_MESSAGE_BYTES,
  // A restarted agency is reachable again within seconds, not after grpc-js's default 2-minute backoff.
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 2_000,
});

/** The agency's side: a hostile peer cannot make it buffer more than a query's worth of request. */
export const SERVER_OPTIONS: ChannelOptions = Object.freeze({
  ...CHANNEL_OPTIONS,
  'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_concurrent_streams': 64,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
});
