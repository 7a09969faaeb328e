/**
 * Uniform doubles for randomized rounding: xoshiro128** (Blackman & Vigna) from a 128-bit seed,
 * 53 bits per draw. A rounded value moves by less than one unit whatever the draw, and the
 * sensitivity counts that unit; the DP argument (docs/privacy.md §7) treats the draws as
 * independent uniforms, which a generator seeded afresh from node:crypto in every DP round gives
 * up to its pseudo-randomness, at a speed per-coordinate rounding needs. An exact round seeds it
 * from the run's seed and step, which makes an exact run reproducible bit for bit, resumed or not.
 */

/** A seeded stream of uniform doubles in [0, 1) on the 2^-53 grid. */
export class RoundingStream {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** `seed`: at least 16 bytes, not all zero. */
  constructor(seed: Uint8Array) {
    if (seed.length < 16) throw new RangeError('RoundingStream: the seed needs 16 bytes');
    const v = new DataView(seed.buffer, seed.byteOffset, 16);
    this.#a = v.getUint32(0) >>> 0;
    this.#b = v.getUint32(4) >>> 0;
    this.#c = v.getUint32(8) >>> 0;
    this.#d = v.getUint32(12) >>> 0;
    if ((this.#a | this.#b | this.#c | this.#d) === 0) throw new RangeError('RoundingStream: the seed is all zero');
  }

  /** The next 32 random bits. */
  uint32(): number {
    const r = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return r;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** ⌊y⌋ + Bernoulli(y − ⌊y⌋): an integer with expectation exactly y, less than one away from it. */
  round(y: number): number {
    const low = Math.floor(y);
    return this.next() < y - low ? low + 1 : low;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
