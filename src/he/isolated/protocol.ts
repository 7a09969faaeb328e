/**
 * @internal The message protocol between `IsolatedHe` (the serving thread) and `he-worker.ts`
 * (the thread that owns SEAL). Requests carry an id; the worker answers each with one reply, in
 * order. Errors cross as plain data and are rebuilt on the other side with the same class, code
 * and message, so callers cannot tell an isolated failure from an in-thread one.
 */
import { describeError, ERROR_CODES, type ErrorCode, FedstatError } from '../../errors.js';
import type { HePreset } from '../presets.js';

/** SEAL exceptions a worker survives before it is replaced: far below the ~3,500 that abort it. */
export const SEAL_EXCEPTION_LIMIT = 64;

/** What the worker is started with (`workerData`). */
export interface WorkerInit {
  readonly preset: HePreset;
  /** Uncompressed SEAL secret key bytes, or null for a service that only adds. */
  readonly secretKey: Uint8Array | null;
  /** Upper bound on the bytes of running sums held at once (bounds the WASM memory). */
  readonly maxHeldBytes: number;
}

/** The parameters the worker built, as the serving thread sees them. */
export interface IsolatedHeInfo {
  readonly preset: HePreset;
  readonly paramsId: string;
  readonly slotCount: number;
  readonly plainModulus: bigint;
  /** Exact byte length of a serialized ciphertext (uncompressed). */
  readonly ciphertextBytes: number;
  /** True when the service holds a secret key and can `decrypt`. */
  readonly canDecrypt: boolean;
}

/** Counters one worker reports; the serving thread adds `restarts`. */
export interface WorkerStats {
  /** Live accumulators in the current worker. */
  readonly accumulators: number;
  /** Bytes of running sums reserved by those accumulators. */
  readonly heldBytes: number;
  /** Exceptions SEAL threw in the current worker (each leaks 16 B of its WASM stack). */
  readonly sealExceptions: number;
}

/** Faults a test can inject to prove recycling (never sent by library code). */
export type FaultKind = 'exit' | 'out-of-memory' | 'seal-throw' | 'seal-refusal';

export type RequestBody =
  | { readonly op: 'open'; readonly ciphertextCount: number; readonly maxContributions: number | null }
  | { readonly op: 'add'; readonly handle: number; readonly ciphertexts: Uint8Array[] }
  | { readonly op: 'subtractPlain'; readonly handle: number; readonly slots: BigUint64Array[] }
  | { readonly op: 'sum'; readonly handle: number }
  | { readonly op: 'dispose'; readonly handle: number }
  | { readonly op: 'decrypt'; readonly ciphertexts: Uint8Array[] }
  | { readonly op: 'stats' }
  | { readonly op: 'fault'; readonly kind: FaultKind };

export type Request = RequestBody & { readonly id: number };

/** The value each operation resolves to. */
export interface Results {
  open: number;
  add: number;
  subtractPlain: null;
  sum: Uint8Array[];
  dispose: null;
  decrypt: BigUint64Array[];
  stats: WorkerStats;
  fault: null;
}

export type WireError =
  | {
      readonly kind: 'fedstat';
      readonly code: ErrorCode;
      readonly message: string;
      readonly details: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'type' | 'range' | 'internal'; readonly message: string };

export type WorkerMessage =
  | { readonly type: 'ready'; readonly info: IsolatedHeInfo }
  | { readonly type: 'init-failed'; readonly error: WireError }
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | {
      readonly type: 'reply';
      readonly id: number;
      readonly ok: false;
      readonly error: WireError;
      /** The worker is no longer trustworthy (SEAL faulted): the serving thread replaces it. */
      readonly retire: boolean;
    };

/** The BAD_MESSAGE for a decryption request larger than any query (checked on both sides of the wall). */
export function tooManyToDecrypt(count: number, max: number): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `${count} ciphertexts to decrypt, a query has at most ${max}; the sender must follow the query's plan`,
  );
}

/** Details that survive structured cloning, or none (they are context, never essential). */
function cloneableDetails(details: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  try {
    return structuredClone(details);
  } catch {
    return {};
  }
}

/** Flattens an error for postMessage; `reason` describes foreign values (SEAL exceptions). */
export function toWire(e: unknown, reason: (e: unknown) => string = describeError): WireError {
  if (e instanceof FedstatError)
    return { kind: 'fedstat', code: e.code, message: e.message, details: cloneableDetails(e.details) };
  if (e instanceof TypeError) return { kind: 'type', message: e.message };
  if (e instanceof RangeError) return { kind: 'range', message: e.message };
  return { kind: 'internal', message: reason(e) };
}

/** Rebuilds an error sent by the worker in the serving thread. */
export function fromWire(w: WireError): Error {
  switch (w.kind) {
    case 'fedstat':
      if ((ERROR_CODES as readonly string[]).includes(w.code))
        return new FedstatError(w.code, w.message, { details: w.details });
      return new FedstatError('INTERNAL', `HE worker sent an unknown error code; ${w.message}`);
    case 'type':
      return new TypeError(w.message);
    case 'range':
      return new RangeError(w.message);
    default:
      return new FedstatError(
        'INTERNAL',
        `the isolated HE worker failed (${w.message}); it was replaced, run the query again`,
      );
  }
}

/**
 * The buffers of `arrays` that may be transferred: views that cover their whole ArrayBuffer.
 * A view into a larger buffer (a pooled Buffer, a decoded protobuf, WASM memory) is never
 * transferred: that would detach memory its owner still uses.
 */
export function wholeBuffers(arrays: readonly ArrayBufferView[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const a of arrays) {
    if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength)
      out.add(a.buffer);
  }
  return [...out];
}
