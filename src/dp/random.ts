/**
 * Uniform integers from the OS CSPRNG (`node:crypto`), the only randomness the DP samplers use.
 * Bytes are drawn in batches (one `randomFillSync` per pool refill) because a syscall per draw
 * would dominate the cost of noise for thousands of cells. Every bounded draw is by rejection on
 * the smallest covering power of two, so there is no modulo bias.
 */
import { randomFillSync } from 'node:crypto';

/** A source of uniform random integers; samplers take one so tests can count or replay draws. */
export interface RandomSource {
  /** A uniform integer in [0, 2^32). */
  uint32(): number;
  /** A uniform integer in [0, n) for a safe integer 1 ≤ n ≤ 2^32. */
  belowNumber(n: number): number;
  /** A uniform bigint in [0, n) for n ≥ 1. */
  below(n: bigint): bigint;
}

const POOL_BYTES = 64 * 1024;

/** A `RandomSource` over `crypto.randomFillSync`, refilling a private pool of `poolBytes`. */
export class CryptoRandom implements RandomSource {
  readonly #pool: Uint32Array;
  #next: number;

  constructor(poolBytes: number = POOL_BYTES) {
    if (!Number.isSafeInteger(poolBytes) || poolBytes < 4 || poolBytes % 4 !== 0 || poolBytes > 65536) {
      throw new RangeError(`poolBytes must be a multiple of 4 in [4, 65536], got ${poolBytes}`);
    }
    this.#pool = new Uint32Array(poolBytes / 4);
    this.#next = this.#pool.length; // empty: first draw fills
  }

  /** A uniform integer in [0, 2^32). */
  uint32(): number {
    if (this.#next === this.#pool.length) {
      randomFillSync(this.#pool);
      this.#next = 0;
    }
    const v = this.#pool[this.#next] as number;
    // Overwrite what was handed out so the pool never holds used randomness twice.
    this.#pool[this.#next++] = 0;
    return v;
  }

  /** A uniform integer in [0, n) for a safe integer 1 ≤ n ≤ 2^32; RangeError otherwise. */
  belowNumber(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > 4294967296)
      throw new RangeError(`belowNumber needs an integer n in [1, 2^32], got ${n}`);
    if (n === 1) return 0;
    if (n === 4294967296) return this.uint32();
    // Mask to the smallest power of two ≥ n, then reject: each try succeeds with probability > 1/2.
    const mask = 0xffffffff >>> Math.clz32(n - 1);
    for (;;) {
      const v = (this.uint32() & mask) >>> 0;
      if (v < n) return v;
    }
  }

  /** A uniform bigint in [0, n) for n ≥ 1; RangeError otherwise. */
  below(n: bigint): bigint {
    if (typeof n !== 'bigint' || n < 1n) throw new RangeError('below needs a bigint n ≥ 1');
    if (n <= 4294967296n) return BigInt(this.belowNumber(Number(n)));
    const bits = (n - 1n).toString(2).length;
    const words = Math.ceil(bits / 32);
    const topBits = bits - 32 * (words - 1);
    const topMask = topBits === 32 ? 0xffffffff : (1 << topBits) - 1;
    for (;;) {
      let v = BigInt((this.uint32() & topMask) >>> 0);
      for (let i = 1; i < words; i++) v = (v << 32n) | BigInt(this.uint32());
      if (v < n) return v;
    }
  }
}

let shared: CryptoRandom | undefined;

/** The process-wide CSPRNG source the samplers use when none is passed. */
export function defaultRandom(): RandomSource {
  shared ??= new CryptoRandom();
  return shared;
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * Single fair bits from a `RandomSource`, 32 per word, for samplers that consume a bit or two
 * per step (a 32-bit draw per coin would waste most of the CSPRNG output).
 */
export class RandomBits {
  readonly #rng: RandomSource;
  #word = 0;
  #left = 0;

  constructor(rng: RandomSource) {
    this.#rng = rng;
  }

  /** One fair bit. */
  bit(): number {
    if (this.#left === 0) {
      this.#word = this.#rng.uint32();
      this.#left = 32;
    }
    const b = this.#word & 1;
    this.#word >>>= 1;
    this.#left--;
    return b;
  }

  /** The number of 1 bits before the first 0: Geometric(1/2), P(k) = 2^−(k+1). */
  geometricHalf(): number {
    let k = 0;
    for (;;) {
      if (this.#left === 0) {
        this.#word = this.#rng.uint32();
        this.#left = 32;
      }
      // Trailing ones of the unread bits (bits above #left are 0, so the count stops there).
      const inv = ~this.#word;
      const ones = inv === 0 ? 32 : 31 - Math.clz32(inv & -inv);
      if (ones < this.#left) {
        const used = ones + 1;
        this.#word = used === 32 ? 0 : this.#word >>> used;
        this.#left -= used;
        return k + ones;
      }
      k += this.#left;
      this.#left = 0;
    }
  }

  /** The number of 1s among `n` fair bits: Binomial(n, 1/2), for a safe integer n ≥ 0. */
  binomialHalf(n: number): number {
    let ones = 0;
    let rest = n;
    while (rest >= 32) {
      ones += popcount32(this.#rng.uint32());
      rest -= 32;
    }
    for (; rest > 0; rest--) ones += this.bit();
    return ones;
  }
}
