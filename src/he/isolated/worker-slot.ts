/**
 * @internal One HE worker thread and the requests in flight to it. A slot lives until its
 * worker exits, crashes, runs out of memory, reports a SEAL fault or is closed; then every
 * request in flight rejects with UNAVAILABLE, every later request on it too, and its owner
 * (`IsolatedHe`) starts a fresh slot for the next request. A slot is never revived: whatever the
 * dead worker held (running sums) is gone, and handles into it say so.
 */
import type { ResourceLimits, Worker } from 'node:worker_threads';
import { describeError, FedstatError } from '../../errors.js';
import {
  fromWire,
  type IsolatedHeInfo,
  type RequestBody,
  type Results,
  type WorkerInit,
  type WorkerMessage,
} from './protocol.js';
import { startHeWorker } from './worker-entry.js';

interface Pending {
  resolve(value: unknown): void;
  reject(e: Error): void;
}

/** Why a worker stopped, phrased to follow "the isolated HE worker …". */
function crashReason(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ERR_WORKER_OUT_OF_MEMORY') return 'ran out of memory';
  return `crashed (${describeError(e)})`;
}

export class WorkerSlot {
  /** Counts slots of one IsolatedHe: a handle remembers the slot it lives in. */
  readonly generation: number;
  /** Resolves once the worker built its parameters; rejects with the reason it could not. */
  readonly ready: Promise<IsolatedHeInfo>;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #starting = true;
  #death: string | null = null;
  #settleReady: Pending = { resolve: () => undefined, reject: () => undefined };

  constructor(init: WorkerInit, resourceLimits: ResourceLimits, generation: number) {
    this.generation = generation;
    this.ready = new Promise<IsolatedHeInfo>((resolve, reject) => {
      this.#settleReady = { resolve: (v) => resolve(v as IsolatedHeInfo), reject };
    });
    this.ready.catch(() => undefined); // a caller that awaits it still sees the rejection
    this.#worker = startHeWorker(
      init,
      resourceLimits,
      init.secretKey === null ? [] : [init.secretKey.buffer as ArrayBuffer],
    );
    this.#worker.on('message', (m: WorkerMessage) => this.#receive(m));
    this.#worker.on('error', (e: unknown) => this.kill(crashReason(e)));
    this.#worker.on('messageerror', () => this.kill('sent a message that could not be read'));
    this.#worker.on('exit', (code: number) => this.kill(`exited with code ${code}`));
  }

  /** Why the worker stopped, or null while it serves. */
  get death(): string | null {
    return this.#death;
  }

  /** Sends one request; resolves with the worker's value or rejects with its error, rebuilt. */
  request<O extends RequestBody['op']>(
    body: Extract<RequestBody, { op: O }>,
    transfer: readonly ArrayBuffer[] = [],
  ): Promise<Results[O]> {
    if (this.#death !== null) return Promise.reject(this.#deadError());
    const id = this.#nextId++;
    return new Promise<Results[O]>((resolve, reject) => {
      this.#pending.set(id, { resolve: (v) => resolve(v as Results[O]), reject });
      this.#worker.ref(); // a request in flight keeps the process alive until it is answered
      try {
        this.#worker.postMessage({ ...body, id }, [...transfer]);
      } catch (e) {
        this.#pending.delete(id);
        this.#idle();
        reject(new TypeError(`IsolatedHe: the request cannot be sent to the worker (${describeError(e)})`));
      }
    });
  }

  /** Stops the worker (idempotent); requests in flight reject with `reason`. */
  kill(reason: string): void {
    if (this.#death !== null) return;
    this.#death = reason;
    const inFlight = [...this.#pending.values()];
    this.#pending.clear();
    const error = this.#deadError(true);
    this.#settleReady.reject(new FedstatError('UNAVAILABLE', `the isolated HE worker ${reason} before it was ready`));
    for (const p of inFlight) p.reject(error);
    this.#worker.unref();
    this.#worker.terminate().catch(() => undefined);
  }

  /** Stops the worker and waits until its thread is gone. */
  async close(reason: string): Promise<void> {
    this.kill(reason);
    await this.#worker.terminate().catch(() => undefined);
  }

  #deadError(inFlight = false): FedstatError {
    const when = inFlight ? 'while this request was in flight' : 'before this request';
    return new FedstatError(
      'UNAVAILABLE',
      `the isolated HE worker ${this.#death ?? 'stopped'} ${when}; a fresh worker serves the next request, run the query again`,
      { details: { workerGeneration: this.generation } },
    );
  }

  /** Unrefs the worker when nothing waits on it, so it never keeps a process alive by itself. */
  #idle(): void {
    if (this.#pending.size === 0 && !this.#starting) this.#worker.unref();
  }

  #receive(m: WorkerMessage): void {
    if (m.type === 'ready') {
      this.#starting = false;
      this.#settleReady.resolve(m.info);
      this.#idle();
      return;
    }
    if (m.type === 'init-failed') {
      this.#settleReady.reject(fromWire(m.error));
      this.kill('failed to start');
      return;
    }
    const pending = this.#pending.get(m.id);
    if (pending === undefined) return; // answered after a kill: nobody waits any more
    this.#pending.delete(m.id);
    this.#idle();
    if (m.ok) {
      pending.resolve(m.value);
      return;
    }
    pending.reject(fromWire(m.error));
    if (m.retire) this.kill('stopped after SEAL faulted');
  }
}
