/**
 * A running encrypted sum that lives in an isolated HE worker: the asynchronous twin of
 * `HeAccumulator`, with the same validation, the same all-or-nothing additions and the same
 * errors. It is bound to the worker it was opened in; if that worker dies, the sum is gone and
 * every later call rejects with UNAVAILABLE (the query must fail, never return a partial sum).
 */
import { FedstatError } from '../../errors.js';
import { contributionCountError } from '../accumulator.js';
import { checkSealHeader } from '../ciphertext-header.js';
import { wholeBuffers } from './protocol.js';
import type { WorkerSlot } from './worker-slot.js';

/** How bytes handed to the worker travel. */
export interface TransferOptions {
  /**
   * Move (detach) the caller's buffers to the worker instead of copying them, for byte arrays
   * that each cover their whole ArrayBuffer and that the caller no longer needs. Others are
   * copied once either way (never cloned twice). Default false.
   */
  readonly transfer?: boolean;
}

/** @internal Copies or moves `arrays` for postMessage: returns the arrays to send and the buffers to transfer. */
export function prepareBytes(
  arrays: readonly Uint8Array[],
  options: TransferOptions,
  what: string,
): [Uint8Array[], ArrayBuffer[]] {
  const list: unknown = arrays;
  if (!Array.isArray(list)) throw new TypeError(`${what}: ciphertexts must be an array`);
  const keep = options.transfer === true ? new Set<ArrayBufferLike>(wholeBuffers(arrays)) : new Set<ArrayBufferLike>();
  const out = arrays.map((bytes, i) => {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what}: ciphertext ${i} must be a Uint8Array`);
    return keep.has(bytes.buffer) ? bytes : new Uint8Array(bytes); // a copy even for a Buffer (whose slice() is a view)
  });
  return [out, wholeBuffers(out)];
}

/** @internal Refuses, before anything is sent, a ciphertext larger than any of these parameters. */
export function checkSizes(arrays: readonly Uint8Array[], ciphertextBytes: number): void {
  for (const bytes of arrays) if (bytes.length > ciphertextBytes) checkSealHeader(bytes, ciphertextBytes);
}

/** Frees the worker-side sums of accumulators that were dropped without `dispose()`. */
const orphans = new FinalizationRegistry<{ slot: WorkerSlot; handle: number }>(({ slot, handle }) => {
  if (slot.death === null) slot.request({ op: 'dispose', handle }).catch(() => undefined);
});

/**
 * A running encrypted sum held by an `IsolatedHe` worker (open one with `IsolatedHe.accumulator`).
 * Calls on one accumulator are applied in the order they are made.
 */
export class IsolatedAccumulator implements Disposable {
  /** Ciphertexts per contribution (the layout's `ciphertextCount`). */
  readonly ciphertextCount: number;
  readonly #slot: WorkerSlot;
  readonly #handle: number;
  readonly #ciphertextBytes: number;
  #contributions = 0;
  #disposed = false;

  /** @internal Opened by `IsolatedHe.accumulator`. */
  constructor(slot: WorkerSlot, handle: number, ciphertextCount: number, ciphertextBytes: number) {
    this.#slot = slot;
    this.#handle = handle;
    this.ciphertextCount = ciphertextCount;
    this.#ciphertextBytes = ciphertextBytes;
    orphans.register(this, { slot, handle }, this);
  }

  /** Contributions added so far (as confirmed by the worker). */
  get contributions(): number {
    return this.#contributions;
  }

  /** True once the worker holding this sum has died: every later call rejects with UNAVAILABLE. */
  get lost(): boolean {
    return this.#slot.death !== null;
  }

  /**
   * Adds one contribution of exactly `ciphertextCount` serialized ciphertexts, all or nothing,
   * validated in the worker exactly as `HeAccumulator.add` does. Rejects with FedstatError
   * BAD_MESSAGE or MESSAGE_TOO_LARGE (bad bytes; the sum is untouched), PLAN_UNSAFE (more
   * contributions than `maxContributions`), UNAVAILABLE (the worker died: the sum is lost).
   */
  async add(ciphertexts: readonly Uint8Array[], options: TransferOptions = {}): Promise<void> {
    this.#assertLive('add');
    const [bytes, transfer] = prepareBytes(ciphertexts, options, 'IsolatedAccumulator.add');
    if (bytes.length !== this.ciphertextCount) throw contributionCountError(bytes.length, this.ciphertextCount);
    checkSizes(bytes, this.#ciphertextBytes);
    this.#contributions = await this.#slot.request({ op: 'add', handle: this.#handle, ciphertexts: bytes }, transfer);
  }

  /**
   * Subtracts one plaintext slot vector per ciphertext from the running sums mod t, in the
   * encrypted domain (see `HeAccumulator.subtractPlain`); all or nothing. TypeError before the
   * first `add`, RangeError for a vector longer than slotCount or a value ≥ t.
   */
  async subtractPlain(slots: readonly BigUint64Array[]): Promise<void> {
    this.#assertLive('subtractPlain');
    const list: unknown = slots;
    if (!Array.isArray(list) || !slots.every((s) => s instanceof BigUint64Array)) {
      throw new TypeError('IsolatedAccumulator.subtractPlain: slots must be an array of BigUint64Array');
    }
    await this.#slot.request({ op: 'subtractPlain', handle: this.#handle, slots: [...slots] });
  }

  /** The serialized sums, one per ciphertext, moved out of the worker. TypeError before the first `add`. */
  async sum(): Promise<Uint8Array[]> {
    this.#assertLive('sum');
    return this.#slot.request({ op: 'sum', handle: this.#handle });
  }

  /** Frees the running sums in the worker (asynchronously; nothing to wait for). Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    orphans.unregister(this);
    if (this.#slot.death === null) this.#slot.request({ op: 'dispose', handle: this.#handle }).catch(() => undefined);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #assertLive(what: string): void {
    if (this.#disposed) throw new TypeError(`IsolatedAccumulator.${what}: the accumulator has been disposed`);
    const death = this.#slot.death;
    if (death !== null) {
      throw new FedstatError(
        'UNAVAILABLE',
        `this encrypted sum was lost: its isolated HE worker ${death}; the query must be run again`,
        { details: { lost: true, workerGeneration: this.#slot.generation } },
      );
    }
  }
}
