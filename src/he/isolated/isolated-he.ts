/**
 * SEAL behind a wall: the coordinator's running sums and the key authority's decryption run in
 * a worker thread, so that a SEAL abort, a WASM trap or memory exhaustion kills a replaceable
 * worker instead of the serving process.
 *
 * Untrusted ciphertexts are still verified first by the caller (signature over the bytes) and
 * then checked structurally in the worker before SEAL sees them (`load-ciphertext.ts`); the
 * worker is the last wall, not the first. Recycling: when the worker exits, crashes, runs out of
 * memory or reports that SEAL threw, it is terminated; requests in flight reject with
 * UNAVAILABLE, accumulators that lived in it reject every later call with UNAVAILABLE, and the
 * next request starts a fresh worker.
 *
 * Memory: `resourceLimits` bounds the worker's V8 heap only. SEAL's WASM memory is an
 * ArrayBuffer outside those limits (it grows and never shrinks), so it is bounded by what the
 * worker accepts: at most MAX_CIPHERTEXTS ciphertexts per contribution or decryption, and at
 * most `maxHeldBytes` of running sums across all open accumulators.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { FedstatError } from '../../errors.js';
import { presetByName, type HePreset } from '../presets.js';
import { checkSizes, IsolatedAccumulator, prepareBytes, type TransferOptions } from './isolated-accumulator.js';
import { MAX_CIPHERTEXTS } from '../packing.js';
import {
  tooManyToDecrypt,
  type FaultKind,
  type IsolatedHeInfo,
  type RequestBody,
  type Results,
  type WorkerStats,
} from './protocol.js';
import { WorkerSlot } from './worker-slot.js';

export interface IsolatedHeOptions {
  /** The key authority's BFV secret key (uncompressed SEAL bytes); enables `decrypt`. Copied. */
  readonly secretKey?: Uint8Array;
  /** V8 heap limits of the worker. Default: DEFAULT_HE_RESOURCE_LIMITS. */
  readonly resourceLimits?: ResourceLimits;
  /** Most bytes of running sums held at once across accumulators (bounds WASM memory). Default 512 MiB. */
  readonly maxHeldBytes?: number;
}

export interface IsolatedAccumulatorOptions {
  /** Contributions the slot layout's no-wrap proof covers (its `parties`); one more is PLAN_UNSAFE. */
  readonly maxContributions?: number;
}

export interface IsolatedHeStats extends WorkerStats {
  /** Workers started to replace a dead one since `create`. */
  readonly restarts: number;
  /** True while a worker is running. */
  readonly running: boolean;
}

/**
 * Default V8 heap limits of the worker: the heap only carries request buffers in transit (at most
 * 32 ciphertexts, 16 MiB at N=8192 or 64 MiB at N=16384); SEAL's objects are in WASM memory.
 */
export const DEFAULT_HE_RESOURCE_LIMITS: Readonly<ResourceLimits> = Object.freeze({
  maxOldGenerationSizeMb: 256,
  maxYoungGenerationSizeMb: 32,
  stackSizeMb: 4,
});

const DEFAULT_MAX_HELD_BYTES = 512 * 2 ** 20;

/**
 * The HE service of a coordinator or key authority, with SEAL in a worker thread it recycles.
 * Create it once per process role (`IsolatedHe.create`), open an accumulator per query, and
 * `close()` it on shutdown. An idle worker is unreferenced: it never keeps a process alive.
 */
export class IsolatedHe implements AsyncDisposable {
  /** The parameters the worker built (identical in every worker of this service). */
  readonly info: IsolatedHeInfo;
  readonly #preset: HePreset;
  readonly #secretKey: Uint8Array | null;
  readonly #limits: ResourceLimits;
  readonly #maxHeldBytes: number;
  #slot: WorkerSlot | null;
  #generation: number;
  #restarts = 0;
  #closed = false;

  private constructor(
    preset: HePreset,
    secretKey: Uint8Array | null,
    limits: ResourceLimits,
    maxHeldBytes: number,
    slot: WorkerSlot,
    info: IsolatedHeInfo,
  ) {
    this.#preset = preset;
    this.#secretKey = secretKey;
    this.#limits = limits;
    this.#maxHeldBytes = maxHeldBytes;
    this.#slot = slot;
    this.#generation = slot.generation;
    this.info = info;
  }

  /**
   * Starts the worker for `preset` (a secure preset's name, or a preset object such as a test
   * preset; HeParams validates it) and waits until it has built the parameters and loaded the
   * key (~1.3 s and ~40 MB of RSS at N=8192, measured). Rejects with
   * CONFIG_INVALID for an unknown or invalid preset, KEY_INVALID for a secret key that is not
   * one of these parameters, INTERNAL when the worker script is missing (run `npm run build`).
   */
  static async create(preset: string | HePreset, options: IsolatedHeOptions = {}): Promise<IsolatedHe> {
    const p = typeof preset === 'string' ? presetByName(preset) : preset;
    if (options.secretKey !== undefined && !(options.secretKey instanceof Uint8Array)) {
      throw new TypeError('IsolatedHe.create: secretKey must be a Uint8Array');
    }
    const maxHeldBytes = options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES;
    if (!Number.isSafeInteger(maxHeldBytes) || maxHeldBytes < 1)
      throw new RangeError('IsolatedHe.create: maxHeldBytes must be a positive integer');
    const limits = Object.freeze({ ...DEFAULT_HE_RESOURCE_LIMITS, ...options.resourceLimits });
    const secretKey = options.secretKey?.slice() ?? null;
    const slot = IsolatedHe.#start(p, secretKey, limits, maxHeldBytes, 1);
    try {
      const info = await slot.ready;
      return new IsolatedHe(p, secretKey, limits, maxHeldBytes, slot, info);
    } catch (e) {
      await slot.close('failed to start');
      secretKey?.fill(0);
      throw e;
    }
  }

  static #start(
    preset: HePreset,
    secretKey: Uint8Array | null,
    limits: ResourceLimits,
    maxHeldBytes: number,
    generation: number,
  ): WorkerSlot {
    return new WorkerSlot({ preset, secretKey: secretKey?.slice() ?? null, maxHeldBytes }, limits, generation);
  }

  /** Opens an empty running sum of `ciphertextCount` ciphertexts in the worker. */
  async accumulator(ciphertextCount: number, options: IsolatedAccumulatorOptions = {}): Promise<IsolatedAccumulator> {
    const slot = await this.#live();
    const handle = await slot.request({
      op: 'open',
      ciphertextCount,
      maxContributions: options.maxContributions ?? null,
    });
    return new IsolatedAccumulator(slot, handle, ciphertextCount, this.info.ciphertextBytes);
  }

  /**
   * Decrypts serialized ciphertexts (at most MAX_CIPHERTEXTS) into their slot vectors, all or
   * nothing, with `HeDecryptor.decrypt`'s checks (BAD_MESSAGE for malformed bytes or an exhausted
   * noise budget). TypeError when the service was created without a secret key.
   */
  async decrypt(ciphertexts: readonly Uint8Array[], options: TransferOptions = {}): Promise<BigUint64Array[]> {
    if (!this.info.canDecrypt) throw new TypeError('IsolatedHe.decrypt: this service was created without a secret key');
    const [bytes, transfer] = prepareBytes(ciphertexts, options, 'IsolatedHe.decrypt');
    if (bytes.length > MAX_CIPHERTEXTS) throw tooManyToDecrypt(bytes.length, MAX_CIPHERTEXTS);
    checkSizes(bytes, this.info.ciphertextBytes);
    return this.#call({ op: 'decrypt', ciphertexts: bytes }, transfer);
  }

  /** Counters of the running worker (zeros when none runs) and the number of restarts. */
  async stats(): Promise<IsolatedHeStats> {
    const slot = this.#slot;
    const worker =
      slot === null || slot.death !== null || this.#closed
        ? { accumulators: 0, heldBytes: 0, sealExceptions: 0 }
        : await slot.request({ op: 'stats' });
    return { ...worker, restarts: this.#restarts, running: this.#slot !== null && this.#slot.death === null };
  }

  /**
   * @internal Test hook: makes the worker exit, exhaust its heap, have SEAL throw, or report a
   * load SEAL refused (counted towards SEAL_EXCEPTION_LIMIT).
   */
  async injectFault(kind: FaultKind): Promise<void> {
    await this.#call({ op: 'fault', kind });
  }

  /** Terminates the worker; every later call rejects with UNAVAILABLE. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#secretKey?.fill(0);
    const slot = this.#slot;
    this.#slot = null;
    if (slot !== null) await slot.close('was closed');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #call<O extends RequestBody['op']>(
    body: Extract<RequestBody, { op: O }>,
    transfer: readonly ArrayBuffer[] = [],
  ): Promise<Results[O]> {
    const slot = await this.#live();
    return slot.request(body, transfer);
  }

  /** The running worker, or a fresh one (with the same parameters) when the last one died. */
  async #live(): Promise<WorkerSlot> {
    if (this.#closed) throw new FedstatError('UNAVAILABLE', 'the isolated HE service is closed');
    let slot = this.#slot;
    if (slot === null || slot.death !== null) {
      this.#generation += 1;
      this.#restarts += 1;
      slot = this.#slot = IsolatedHe.#start(
        this.#preset,
        this.#secretKey,
        this.#limits,
        this.#maxHeldBytes,
        this.#generation,
      );
    }
    const info = await slot.ready;
    if (info.paramsId !== this.info.paramsId) {
      slot.kill('built other parameters');
      throw new FedstatError('INTERNAL', 'a restarted HE worker built other parameters than the first one');
    }
    return slot;
  }
}
