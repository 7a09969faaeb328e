/**
 * gRPC limits, all explicit: grpc-js defaults to a 4 MiB receive limit, no deadline, no
 * keepalive and unbounded concurrent streams. A contribution carries up to MAX_CIPHERTEXTS
 * ciphertexts of ~524 KB each, so messages are capped a little above that. Record linkage streams
 * its ciphertexts, positions and blinded elements in bounded parts instead (limits below).
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import { LINK_CHUNK_ELEMENTS } from '../protocol/link-messages.js';
import { MAX_QUERY_AGENCIES, MAX_QUERY_BYTES } from '../protocol/query-envelope.js';
import { MAX_SET_BYTES } from '../protocol/survivor-set.js';
import { MAX_LOG_PROOF_BYTES } from './log-proof-messages.js';

/** Serialized BFV N=8192 ciphertext without compression, plus headroom. */
export const MAX_CIPHERTEXT_BYTES = 600 * 1024;

/** Positions per streamed part of LinkEncrypt and LinkLoad: 4 bytes each, 1 MiB a part. */
export const LINK_POSITIONS_PER_PART = 262_144;
export { MAX_LINK_CIPHERTEXTS } from '../protocol/link-messages.js';
/** The most signed log entries one linkage answer carries (an agency logs its budget charge). */
export const MAX_LINK_LOG_ENTRIES = 8;
/** Longest signed log entry a linkage answer may carry (a budget entry is under 2 KiB). */
export const MAX_LINK_LOG_ENTRY_BYTES = 16 * 1024;
/**
 * The largest linkage message: a LinkReblind request (a signed query and a 1 MiB chunk) or a
 * stream header (a signed query and its log proof). Streamed parts (≤ 1 MiB of positions or
 * elements, one ciphertext) are smaller. Both directions' limits below are at least this.
 */
const MAX_LINK_MESSAGE_BYTES = MAX_QUERY_BYTES + MAX_LOG_PROOF_BYTES + LINK_CHUNK_ELEMENTS * 32 + 64 * 1024;
/** A contribution (answers to the coordinator), or the largest linkage message. */
const MAX_MESSAGE_BYTES = Math.max(MAX_CIPHERTEXTS * MAX_CIPHERTEXT_BYTES + 64 * 1024, MAX_LINK_MESSAGE_BYTES);
/** One sealed share on the wire: two party ids, a 24-byte nonce and a box of < 400 bytes. */
const MAX_SEALED_SHARE_BYTES = 1024;
/**
 * Requests to an agency carry at most one ciphertext per message: a signed query (round 1), or the
 * signed query, the signed survivor set and at most one sealed share per agency of the query
 * (round 2), and the query's transparency-log proof; linkage streams carry one bounded part per
 * message (MAX_LINK_MESSAGE_BYTES).
 */
const MAX_REQUEST_BYTES = Math.max(
  MAX_QUERY_BYTES + MAX_LOG_PROOF_BYTES + MAX_SET_BYTES + MAX_QUERY_AGENCIES * MAX_SEALED_SHARE_BYTES + 64 * 1024,
  MAX_LINK_MESSAGE_BYTES,
);

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
