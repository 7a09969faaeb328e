/**
 * The one error type of fedstat. Every failure a user can cause or meet carries a fixed `code`;
 * transport maps codes to gRPC statuses and the CLI maps them to exit codes, nowhere else.
 * Messages are one line, say what is wrong and how to fix it, and never contain secrets or raw
 * record values that crossed (or could cross) a trust boundary.
 */
export const ERROR_CODES = [
  /** A schema or federation file is malformed (names the file, the JSON path and the fix). */
  'CONFIG_INVALID',
  /** A key file is missing, malformed, has loose permissions or does not match the federation. */
  'KEY_INVALID',
  /** The SQL text does not parse (carries the position). */
  'QUERY_SYNTAX',
  /** The SQL parses but is not a valid fedstat query (unknown column, unsupported construct). */
  'QUERY_INVALID',
  /** Input records violate the schema (value outside its domain, wrong column set). */
  'DATA_INVALID',
  /** The plan could wrap the plain modulus or needs more ciphertexts than allowed. */
  'PLAN_UNSAFE',
  /** The release policy refuses the result (too few agencies, for instance). */
  'POLICY_REFUSED',
  /** An agency or service could not be reached or did not answer before the deadline. */
  'UNAVAILABLE',
  /** A peer sent bytes that fail validation: bad signature, truncated ciphertext, wrong shape. */
  'BAD_MESSAGE',
  /** A message is larger than the configured limit. */
  'MESSAGE_TOO_LARGE',
  /** A message was seen before or has expired. */
  'REPLAY',
  /**
   * A transparency-log proof was built against an older tree head than the receiver holds (another
   * request moved it on); the sender rebuilds the proof and asks again.
   */
  'STALE_HEAD',
  /** The requested dataset or party does not exist here. */
  'NOT_FOUND',
  /** Reading or writing a local file failed. */
  'IO',
  /** A bug or an unexpected state: please report it. */
  'INTERNAL',
] as const;

/** One of `ERROR_CODES`: what kind of failure a `FedstatError` is. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** What a `FedstatError` carries besides its code and message. */
export interface FedstatErrorOptions {
  /** The error this one wraps, kept as the standard `Error.cause`. */
  readonly cause?: unknown;
  /** Structured, non-secret context (positions, party ids, valid names) for `--json` output. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The error every fedstat failure a caller can meet is thrown as; tell failures apart by `code`. */
export class FedstatError extends Error {
  /** Always `FedstatError`. */
  override readonly name = 'FedstatError';
  /** What kind of failure this is; the message says what is wrong and how to fix it. */
  readonly code: ErrorCode;
  /** Structured, non-secret context (frozen; empty when none was given). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: FedstatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** True when `e` is a FedstatError, and of `code` when one is given. */
export function isFedstatError(e: unknown, code?: ErrorCode): e is FedstatError {
  return e instanceof FedstatError && (code === undefined || e.code === code);
}

/** A short, secret-free description of an unknown thrown value, for wrapping foreign errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? e.name;
  if (Array.isArray(e)) return e.map(String).join(': '); // SEAL throws [type, message]
  return String(e);
}
