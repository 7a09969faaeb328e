/**
 * The coordinator's running encrypted sum: one ciphertext per ciphertext of the query's slot
 * layout, each contribution added all-or-nothing. It never holds a key; it only adds.
 */
import type { Ciphertext } from 'node-seal';
import { FedstatError } from '../errors.js';
import type { HeParams } from './he-params.js';
import { encodeCoefficients } from './coefficients.js';
import { loadCiphertext } from './load-ciphertext.js';
import { MAX_CIPHERTEXTS } from './packing.js';
import { ownBytes } from './seal.js';

/** Limits an `HeAccumulator` enforces. */
export interface HeAccumulatorOptions {
  /**
   * The number of contributions the slot layout's no-wrap proof covers (its `parties`). One
   * more would void the proof, so `add` refuses it with PLAN_UNSAFE. Default: unlimited.
   */
  readonly maxContributions?: number;
}

/** @internal The BAD_MESSAGE for a contribution with the wrong number of ciphertexts (shared with the isolated accumulator). */
export function contributionCountError(got: number, want: number): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `contribution has ${got} ciphertexts, the query's layout needs ${want}; the sender must answer this query's plan`,
  );
}

/**
 * A running encrypted sum (the coordinator's): adds contributions of serialized BFV ciphertexts
 * all-or-nothing and never holds a key. Dispose it to free the SEAL objects.
 */
export class HeAccumulator implements Disposable {
  /** The BFV parameters the ciphertexts are under. */
  readonly params: HeParams;
  /** Ciphertexts per contribution (the layout's `ciphertextCount`). */
  readonly ciphertextCount: number;
  /** The most contributions `add` accepts (from the options; `Number.MAX_SAFE_INTEGER` when unlimited). */
  readonly maxContributions: number;
  /** Running sums; empty until the first contribution. */
  #sums: Ciphertext[] = [];
  #contributions = 0;
  #disposed = false;

  constructor(params: HeParams, ciphertextCount: number, options: HeAccumulatorOptions = {}) {
    params.assertLive('HeAccumulator');
    if (!Number.isSafeInteger(ciphertextCount) || ciphertextCount < 1 || ciphertextCount > MAX_CIPHERTEXTS) {
      throw new RangeError(`HeAccumulator: ciphertextCount must be an integer from 1 to ${MAX_CIPHERTEXTS}`);
    }
    const max = options.maxContributions ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError('HeAccumulator: maxContributions must be a positive integer');
    this.params = params;
    this.ciphertextCount = ciphertextCount;
    this.maxContributions = max;
  }

  /** Contributions added so far. */
  get contributions(): number {
    return this.#contributions;
  }

  /**
   * Adds one contribution: exactly `ciphertextCount` serialized ciphertexts. Every one is
   * validated and loaded before any is added; on any failure (FedstatError BAD_MESSAGE or
   * MESSAGE_TOO_LARGE) the running sum and the count are untouched.
   */
  add(ciphertexts: readonly Uint8Array[]): void {
    this.#assertLive();
    const list: unknown = ciphertexts;
    if (!Array.isArray(list)) throw new TypeError('HeAccumulator.add: ciphertexts must be an array');
    if (ciphertexts.length !== this.ciphertextCount) {
      throw contributionCountError(ciphertexts.length, this.ciphertextCount);
    }
    if (this.#contributions >= this.maxContributions) {
      throw new FedstatError(
        'PLAN_UNSAFE',
        `contribution ${this.#contributions + 1} exceeds the ${this.maxContributions} the no-wrap proof covers; plan the layout for more parties`,
      );
    }
    const loaded: Ciphertext[] = [];
    try {
      for (const bytes of ciphertexts) loaded.push(loadCiphertext(this.params, bytes));
      // loaded[i] ← sums[i] + loaded[i]; the old sums are replaced only once all additions succeeded.
      if (this.#sums.length > 0) {
        const { evaluator } = this.params;
        loaded.forEach((ct, i) => {
          const sum = this.#sums[i];
          if (sum === undefined) throw new FedstatError('INTERNAL', 'accumulator lost a running sum');
          evaluator.add(sum, ct, ct);
        });
      }
    } catch (e) {
      for (const ct of loaded) ct.delete();
      throw e;
    }
    for (const old of this.#sums) old.delete();
    this.#sums = loaded;
    this.#contributions += 1;
  }

  /**
   * Subtracts one plaintext slot vector per ciphertext from the running sums, mod the plain
   * modulus t, in the encrypted domain (the vector as a plaintext's coefficients, then SEAL's subPlain): how secure
   * aggregation removes the masks that did not cancel. Each vector has at most slotCount values,
   * each below t (shorter vectors are zero-padded); a negative correction c is passed as t − c.
   * All or nothing: every vector is checked and every new sum computed before any replaces the
   * old. TypeError before the first `add` (there is nothing to correct), RangeError on a bad
   * vector (a caller bug: mask expansion yields values below t by construction).
   */
  subtractPlain(slots: readonly BigUint64Array[]): void {
    this.#assertLive();
    const list: unknown = slots;
    if (!Array.isArray(list)) throw new TypeError('HeAccumulator.subtractPlain: slots must be an array');
    if (slots.length !== this.ciphertextCount) {
      throw new RangeError(
        `HeAccumulator.subtractPlain: ${slots.length} slot vectors for ${this.ciphertextCount} ciphertexts`,
      );
    }
    const { seal, evaluator, slotCount, plainModulus } = this.params;
    slots.forEach((vec, i) => {
      if (!(vec instanceof BigUint64Array))
        throw new TypeError(`HeAccumulator.subtractPlain: vector ${i} must be a BigUint64Array`);
      if (vec.length > slotCount)
        throw new RangeError(
          `HeAccumulator.subtractPlain: vector ${i} has ${vec.length} slots, more than the ${slotCount} of one ciphertext`,
        );
      for (let j = 0; j < vec.length; j++) {
        if ((vec[j] ?? 0n) >= plainModulus)
          throw new RangeError(`HeAccumulator.subtractPlain: slot ${j} of vector ${i} is not below the plain modulus`);
      }
    });
    if (this.#contributions === 0) throw new TypeError('HeAccumulator.subtractPlain: no contribution has been added');
    const plain = new seal.Plaintext();
    const next: Ciphertext[] = [];
    try {
      slots.forEach((vec, i) => {
        const sum = this.#sums[i];
        if (sum === undefined) throw new FedstatError('INTERNAL', 'accumulator lost a running sum');
        encodeCoefficients(this.params, vec, plain);
        const out = new seal.Ciphertext();
        next.push(out);
        evaluator.subPlain(sum, plain, out);
      });
    } catch (e) {
      for (const ct of next) ct.delete();
      throw e;
    } finally {
      plain.delete();
    }
    for (const old of this.#sums) old.delete();
    this.#sums = next;
  }

  /** The serialized sums, one per ciphertext of the layout. TypeError before the first `add`. */
  sum(): Uint8Array[] {
    this.#assertLive();
    if (this.#contributions === 0) throw new TypeError('HeAccumulator.sum: no contribution has been added');
    const { seal } = this.params;
    return this.#sums.map((ct) => ownBytes(ct.saveToArray(seal.ComprModeType.none)));
  }

  #assertLive(): void {
    if (this.#disposed) throw new TypeError('HeAccumulator has been disposed');
    this.params.assertLive('HeAccumulator');
  }

  /** Frees the running sums. Idempotent. */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const ct of this.#sums.splice(0)) ct.delete();
  }
}
