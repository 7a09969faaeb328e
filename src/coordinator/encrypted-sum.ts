/**
 * The coordinator's running encrypted sum, whatever holds it: the in-thread HeAccumulator, or
 * one living in an isolated SEAL worker. Every call may be asynchronous.
 */
import { HeAccumulator } from '../he/accumulator.js';
import type { HeParams } from '../he/he-params.js';
import { IsolatedHe } from '../he/isolated/isolated-he.js';
import type { SlotLayout } from '../he/packing.js';

export interface EncryptedSum {
  add(ciphertexts: readonly Uint8Array[]): Promise<void> | void;
  /** Subtracts a plaintext vector per ciphertext (secure aggregation's mask correction). */
  subtractPlain(slots: readonly BigUint64Array[]): Promise<void> | void;
  sum(): Promise<Uint8Array[]> | Uint8Array[];
  dispose(): void;
}

/**
 * Opens one running sum per encrypted query, in this thread or in an isolated SEAL worker
 * (`CoordinatorOptions.isolation`); the worker is started on the first query and closed by `close`.
 */
export class EncryptedSums {
  private isolated: Promise<IsolatedHe> | null = null;

  constructor(
    private readonly params: HeParams,
    private readonly preset: string,
    private readonly isolation: 'worker' | 'in-thread',
  ) {}

  /** A running sum sized for `layout`, taking at most one contribution per party. */
  async open(layout: SlotLayout): Promise<EncryptedSum> {
    const options = { maxContributions: layout.parties };
    if (this.isolation === 'in-thread') {
      const accumulator = new HeAccumulator(this.params, layout.ciphertextCount, options);
      return {
        add: (c) => accumulator.add(c),
        subtractPlain: (s) => accumulator.subtractPlain(s),
        sum: () => accumulator.sum(),
        dispose: () => accumulator[Symbol.dispose](),
      };
    }
    // Started on the first encrypted query; a failed start is retried by the next query.
    this.isolated ??= IsolatedHe.create(this.preset).catch((e: unknown) => {
      this.isolated = null;
      throw e;
    });
    return (await this.isolated).accumulator(layout.ciphertextCount, options);
  }

  /** Closes the worker, if one was started; a worker that failed to start is ignored. */
  async close(): Promise<void> {
    const isolated = this.isolated;
    this.isolated = null;
    if (isolated !== null)
      await isolated.then(
        (he) => he.close(),
        () => undefined,
      );
  }
}
