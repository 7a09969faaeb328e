/**
 * The agency's pool of fresh encryptions of zero: each answer uses one, halving its encryption
 * time. The pool is refilled while the agency is idle, one encryption per timer tick, so that
 * refilling never competes with answering a query (or, on a shared machine, with the coordinator).
 */
import type { HeEncryptor } from '../he/encryptor.js';

/** Idle time after an answer before the agency refills its pool of encryptions of zero. */
const REFILL_IDLE_MS = 250;

/** Keeps `target` encryptions of zero ready, refilled only while no answer runs. */
export class IdleEncryptionPool {
  readonly #encryptor: HeEncryptor;
  readonly #target: number;
  #inFlight = 0;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  /** Starts filling the pool of `encryptor` up to `target` encryptions at once. */
  constructor(encryptor: HeEncryptor, target: number) {
    this.#encryptor = encryptor;
    this.#target = target;
    this.#refill(0);
  }

  /** Runs one answer: nothing is refilled while answers run, and refilling resumes after an idle pause. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
      this.#refill(REFILL_IDLE_MS);
    }
  }

  /** Stops refilling (before the encryptor is disposed). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #refill(delayMs: number): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed || this.#encryptor.pooled >= this.#target) return;
      if (this.#inFlight === 0) this.#encryptor.precompute(1);
      this.#refill(this.#inFlight === 0 ? 0 : REFILL_IDLE_MS);
    }, delayMs);
    this.#timer.unref();
  }
}
