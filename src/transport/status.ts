/**
 * FedstatError codes ↔ gRPC statuses. The code also travels in the `fedstat-code` trailer so the
 * receiving side restores it exactly; the message is the error's one-line, secret-free message.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODES, FedstatError, type ErrorCode } from '../errors.js';

const TO_GRPC: Record<ErrorCode, status> = {
  CONFIG_INVALID: status.FAILED_PRECONDITION,
  KEY_INVALID: status.FAILED_PRECONDITION,
  QUERY_SYNTAX: status.INVALID_ARGUMENT,
  QUERY_INVALID: status.INVALID_ARGUMENT,
  DATA_INVALID: status.FAILED_PRECONDITION,
  PLAN_UNSAFE: status.INVALID_ARGUMENT,
  POLICY_REFUSED: status.PERMISSION_DENIED,
  UNAVAILABLE: status.UNAVAILABLE,
  BAD_MESSAGE: status.INVALID_ARGUMENT,
  MESSAGE_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  REPLAY: status.ALREADY_EXISTS,
  STALE_HEAD: status.ABORTED,
  NOT_FOUND: status.NOT_FOUND,
  IO: status.INTERNAL,
  INTERNAL: status.INTERNAL,
};

/** Trailer carrying the refusing party's signed transparency-log entry (a refusal is logged too). */
const LOG_ENTRY_TRAILER = 'fedstat-log-entry-bin';
/** A refusal entry is a few hundred bytes; grpc-js refuses trailers beyond 8 KiB by default. */
const MAX_TRAILER_ENTRY_BYTES = 4096;

export function toServiceError(e: unknown): Partial<ServiceError> {
  const err = e instanceof FedstatError ? e : new FedstatError('INTERNAL', 'internal error in the agency; see its log');
  const metadata = new Metadata();
  metadata.set('fedstat-code', err.code);
  const entry = err.details['logEntry'];
  if (entry instanceof Uint8Array && entry.length <= MAX_TRAILER_ENTRY_BYTES)
    metadata.set(LOG_ENTRY_TRAILER, Buffer.from(entry));
  return { code: TO_GRPC[err.code], details: err.message, metadata };
}

/** grpc-js's multi-sentence connection errors, reduced to what an operator acts on. */
function connectionProblem(details: string): string {
  if (/ECONNREFUSED/.test(details)) return 'connection refused';
  if (/ETIMEDOUT|timed out/i.test(details)) return 'connection timed out';
  if (/ENOTFOUND|EAI_AGAIN/.test(details)) return 'host not found';
  if (/EHOSTUNREACH|ENETUNREACH/.test(details)) return 'network unreachable';
  return details.split('\n')[0]?.slice(0, 120) ?? 'unavailable';
}

/** Rebuilds a FedstatError from a failed call to `peer`. */
export function fromServiceError(e: ServiceError, peer: string, endpoint: string): FedstatError {
  const sent = e.metadata?.get('fedstat-code')[0];
  const code =
    typeof sent === 'string' && (ERROR_CODES as readonly string[]).includes(sent) ? (sent as ErrorCode) : null;
  if (code !== null) {
    const entry = e.metadata.get(LOG_ENTRY_TRAILER)[0];
    const details =
      entry instanceof Uint8Array && entry.length <= MAX_TRAILER_ENTRY_BYTES
        ? { logEntry: Uint8Array.from(entry) }
        : {};
    return new FedstatError(code, e.details, { cause: e, details });
  }
  switch (e.code) {
    case status.UNAVAILABLE:
      return new FedstatError(
        'UNAVAILABLE',
        `${peer} is unreachable at ${endpoint} (${connectionProblem(e.details)}); start it or check its endpoint in the federation file`,
        { cause: e },
      );
    case status.DEADLINE_EXCEEDED:
      return new FedstatError(
        'UNAVAILABLE',
        `${peer} did not answer before the deadline; it may be overloaded or down`,
        { cause: e },
      );
    case status.RESOURCE_EXHAUSTED:
      return new FedstatError('MESSAGE_TOO_LARGE', `${peer}: ${e.details}`, { cause: e });
    default:
      return new FedstatError('BAD_MESSAGE', `${peer} failed the call (${status[e.code] ?? e.code}: ${e.details})`, {
        cause: e,
      });
  }
}
