/**
 * @internal Entry point of the worker thread that owns SEAL for an `IsolatedHe`: its own
 * node-seal instance, the HeParams, the running sums by handle and, for the key authority, the
 * decryptor. It answers one request at a time (SEAL calls are synchronous), in arrival order.
 *
 * Every input still goes through the same JavaScript validation as in-thread use; the worker is
 * the second wall. When SEAL throws anyway, its instance has leaked 16 B of a 64 KiB WASM stack
 * (see `seal.ts`) and may be in a state nobody tested: an exception that is not a FedstatError
 * (or TypeError/RangeError) and any WASM trap retire the worker at once; SEAL refusals reported
 * as FedstatError retire it after SEAL_EXCEPTION_LIMIT of them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FedstatError } from '../../errors.js';
import { HeAccumulator } from '../accumulator.js';
import { HeDecryptor } from '../decryptor.js';
import { HeParams } from '../he-params.js';
import { MAX_CIPHERTEXTS } from '../packing.js';
import { sealFailureReason } from '../seal.js';
import {
  SEAL_EXCEPTION_LIMIT,
  toWire,
  tooManyToDecrypt,
  wholeBuffers,
  type IsolatedHeInfo,
  type Request,
  type Results,
  type WorkerInit,
  type WorkerMessage,
  type WorkerStats,
} from './protocol.js';

const WasmException = (globalThis as { WebAssembly?: { Exception?: abstract new (...args: never[]) => object } })
  .WebAssembly?.Exception;
const WasmRuntimeError = (globalThis as { WebAssembly?: { RuntimeError?: abstract new (...args: never[]) => object } })
  .WebAssembly?.RuntimeError;

/**
 * What `e`, or an error in its cause chain, says about the WASM instance: a C++ exception SEAL
 * threw (the instance lives on, 16 B of stack poorer), a trap or abort (the instance is dead), or
 * nothing (a JavaScript-side error).
 */
function fromSeal(e: unknown): 'exception' | 'trap' | null {
  for (let cur = e, depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    if (WasmRuntimeError !== undefined && cur instanceof WasmRuntimeError) return 'trap';
    if (WasmException !== undefined && cur instanceof WasmException) return 'exception';
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return null;
}

const port = parentPort;
if (port === null) throw new Error('he-worker.js must run as a worker thread (IsolatedHe starts it)');
const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

const init = workerData as WorkerInit;
let params: HeParams;
let decryptor: HeDecryptor | null = null;
try {
  params = await HeParams.create(init.preset);
  if (init.secretKey !== null) decryptor = new HeDecryptor(params, init.secretKey);
} catch (e) {
  // Node emits every message a worker posted before its 'exit' event.
  post({ type: 'init-failed', error: toWire(e) });
  process.exit(1);
} finally {
  init.secretKey?.fill(0); // the decryptor holds its own copy in WASM memory
}

const accumulators = new Map<number, HeAccumulator>();
let nextHandle = 1;
let heldBytes = 0;
let sealExceptions = 0;

function accumulator(handle: number): HeAccumulator {
  const acc = accumulators.get(handle);
  if (acc === undefined) throw new FedstatError('INTERNAL', `HE worker has no accumulator ${handle}`);
  return acc;
}

function stats(): WorkerStats {
  return { accumulators: accumulators.size, heldBytes, sealExceptions };
}

/** Test hooks: make this worker fail the ways a real one can. */
function fault(kind: string): never {
  if (kind === 'exit') process.exit(70);
  if (kind === 'out-of-memory') {
    const hog: number[][] = [];
    for (;;) hog.push(Array.from({ length: 1 << 16 }, (_, i) => i + hog.length));
  }
  // A real SEAL exception: a load that skips the structural checks. 'seal-refusal' wraps it the
  // way loadCiphertext reports a load SEAL refused; 'seal-throw' lets it escape as it is.
  const ct = new params.seal.Ciphertext();
  try {
    ct.loadFromArray(params.context, new Uint8Array(8));
  } catch (e) {
    if (kind === 'seal-refusal')
      throw new FedstatError(
        'BAD_MESSAGE',
        `malformed ciphertext: SEAL refused it (${sealFailureReason(params.seal, e)})`,
        { cause: e },
      );
    throw e;
  } finally {
    ct.delete();
  }
  throw new FedstatError('INTERNAL', 'SEAL accepted 8 bytes of garbage');
}

/** Runs one request; returns its value and the buffers to transfer back. */
function run(req: Request): [Results[keyof Results], ArrayBuffer[]] {
  switch (req.op) {
    case 'open': {
      const bytes = req.ciphertextCount * params.ciphertextBytes;
      const acc = new HeAccumulator(
        params,
        req.ciphertextCount,
        req.maxContributions === null ? {} : { maxContributions: req.maxContributions },
      );
      if (heldBytes + bytes > init.maxHeldBytes) {
        acc[Symbol.dispose]();
        throw new FedstatError(
          'UNAVAILABLE',
          `the HE service already holds ${heldBytes} bytes of running sums and ${bytes} more would pass its limit of ${init.maxHeldBytes}; retry when running queries finish, or raise maxHeldBytes`,
        );
      }
      const handle = nextHandle++;
      accumulators.set(handle, acc);
      heldBytes += bytes;
      return [handle, []];
    }
    case 'add': {
      const acc = accumulator(req.handle);
      acc.add(req.ciphertexts);
      return [acc.contributions, []];
    }
    case 'subtractPlain':
      accumulator(req.handle).subtractPlain(req.slots);
      return [null, []];
    case 'sum': {
      const sums = accumulator(req.handle).sum();
      return [sums, wholeBuffers(sums)];
    }
    case 'dispose': {
      const acc = accumulators.get(req.handle);
      if (acc !== undefined) {
        heldBytes -= acc.ciphertextCount * params.ciphertextBytes;
        accumulators.delete(req.handle);
        acc[Symbol.dispose]();
      }
      return [null, []];
    }
    case 'decrypt': {
      if (decryptor === null) throw new TypeError('IsolatedHe.decrypt: this service was created without a secret key');
      if (req.ciphertexts.length > MAX_CIPHERTEXTS) throw tooManyToDecrypt(req.ciphertexts.length, MAX_CIPHERTEXTS);
      const d = decryptor;
      const slots = req.ciphertexts.map((ct) => d.decrypt(ct));
      return [slots, wholeBuffers(slots)];
    }
    case 'stats':
      return [stats(), []];
    case 'fault':
      return fault(req.kind);
  }
}

/**
 * Frees the request's ciphertext buffers now instead of at the next GC: V8 lets up to ~64 MB of
 * dead ArrayBuffers float per isolate before it collects, so a busy worker would otherwise hold
 * several contributions' worth of garbage. Detaching drops the backing store at once.
 */
function release(req: Request): void {
  if (req.op !== 'add' && req.op !== 'decrypt') return;
  for (const bytes of req.ciphertexts) {
    const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer; detached?: boolean };
    if (buffer instanceof ArrayBuffer && typeof buffer.transfer === 'function' && buffer.detached !== true)
      buffer.transfer(0);
  }
}

port.on('message', (req: Request) => {
  try {
    const [value, transfer] = run(req);
    release(req);
    post({ type: 'reply', id: req.id, ok: true, value }, transfer);
  } catch (e) {
    release(req);
    const seal = fromSeal(e);
    if (seal !== null) sealExceptions++;
    const foreign = !(e instanceof FedstatError || e instanceof TypeError || e instanceof RangeError);
    const error = toWire(e, (x) => sealFailureReason(params.seal, x));
    const retire = foreign || seal === 'trap' || sealExceptions >= SEAL_EXCEPTION_LIMIT;
    post({ type: 'reply', id: req.id, ok: false, error, retire });
  }
});

const info: IsolatedHeInfo = {
  preset: params.preset,
  paramsId: params.paramsId,
  slotCount: params.slotCount,
  plainModulus: params.plainModulus,
  ciphertextBytes: params.ciphertextBytes,
  canDecrypt: decryptor !== null,
};
post({ type: 'ready', info });
