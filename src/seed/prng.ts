/**
 * A seeded, portable pseudo-random stream for synthetic data: the AES-256-CTR keystream of
 * node:crypto under a key derived with SHA-256 from domain-separated labels. The same labels give
 * the same stream on every machine and Node version (AES is specified to the bit, and words are
 * read little-endian explicitly), which is what makes seeded scenarios byte-reproducible.
 *
 * Reproducible by design, so never use it for keys, masks or noise: those come from the OS CSPRNG.
 */
import { createCipheriv, createHash } from 'node:crypto';
import type { Cipher } from 'node:crypto';

const TWO_32 = 4294967296;
/** Keystream bytes produced per refill: large enough that refills cost nothing per draw. */
const REFILL_BYTES = 64 * 1024;
const DOMAIN = 'fedstat/seed/prng/v1';

/** Derives a 32-byte key from labels; each label is length-prefixed so no two lists collide. */
export function deriveSeedKey(...labels: readonly string[]): Uint8Array {
  const h = createHash('sha256');
  for (const part of [DOMAIN, ...labels]) {
    const bytes = Buffer.from(part, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len).update(bytes);
  }
  return new Uint8Array(h.digest());
}

export class SeededPrng {
  readonly #cipher: Cipher;
  readonly #zeros = new Uint8Array(REFILL_BYTES);
  #view = new DataView(new ArrayBuffer(0));
  #pos = 0;

  /** A stream keyed by exactly 32 bytes; see `SeededPrng.fromLabels` for the usual entry point. */
  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new RangeError(`SeededPrng needs a 32-byte key, got ${key.length} bytes`);
    // Counter starts at zero: the key alone separates streams, so a fixed IV is safe here.
    this.#cipher = createCipheriv('aes-256-ctr', key, new Uint8Array(16));
  }

  /** The stream for a list of labels, e.g. `fromLabels('seed', 'sichuan', 'cd')`. */
  static fromLabels(...labels: readonly string[]): SeededPrng {
    return new SeededPrng(deriveSeedKey(...labels));
  }

  /** The next 32 keystream bits as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    if (this.#pos + 4 > this.#view.byteLength) {
      const bytes = this.#cipher.update(this.#zeros);
      this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#pos = 0;
    }
    const v = this.#view.getUint32(this.#pos, true); // little-endian on every platform
    this.#pos += 4;
    return v;
  }

  /** Exactly uniform integer in [0, n) for 1 ≤ n ≤ 2^32 (rejection sampling, no modulo bias). */
  uniformInt(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > TWO_32)
      throw new RangeError(`uniformInt needs an integer 1 <= n <= 2^32, got ${n}`);
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Exactly uniform integer in [min, max], both inclusive. */
  intBetween(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
      throw new RangeError(`intBetween needs integers min <= max, got ${min}, ${max}`);
    }
    return min + this.uniformInt(max - min + 1);
  }

  /** True with probability exactly numerator/denominator (integers, 0 ≤ numerator ≤ denominator ≤ 2^32). */
  bernoulli(numerator: number, denominator: number): boolean {
    if (!Number.isSafeInteger(numerator) || numerator < 0 || numerator > denominator) {
      throw new RangeError(`bernoulli needs 0 <= numerator <= denominator, got ${numerator}/${denominator}`);
    }
    return this.uniformInt(denominator) < numerator;
  }

  /** A uniform dyadic rational k/2^32 in [0, 1): exact, so sums of these are exact too. */
  unit(): number {
    return this.nextUint32() / TWO_32;
  }
}
