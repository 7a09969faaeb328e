/**
 * A reproducible RandomSource for tests that replay an agency's noise: SHA-256 in counter mode
 * over a seed. Never used in src (noise there comes from node:crypto's CSPRNG).
 */
import { createHash } from 'node:crypto';
import type { RandomSource } from '../../src/dp/random.js';

export class SeededRandom implements RandomSource {
  #counter = 0;
  #block = new Uint32Array(0);
  #next = 0;

  constructor(private readonly seed: string) {}

  uint32(): number {
    if (this.#next === this.#block.length) {
      const digest = createHash('sha256').update(`${this.seed}/${this.#counter++}`).digest();
      this.#block = new Uint32Array(digest.buffer, digest.byteOffset, 8);
      this.#next = 0;
    }
    return this.#block[this.#next++] ?? 0;
  }

  belowNumber(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError('belowNumber: n must be in [1, 2^32]');
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  below(n: bigint): bigint {
    if (n < 1n) throw new RangeError('below: n must be ≥ 1');
    const bits = n.toString(2).length;
    for (;;) {
      let x = 0n;
      for (let b = 0; b < bits; b += 32) x = (x << 32n) | BigInt(this.uint32());
      x &= (1n << BigInt(bits)) - 1n;
      if (x < n) return x;
    }
  }
}
