/**
 * Seeded byte mutations for the wire fuzzers. Every choice (kind, position, garbage byte) comes
 * from one xoshiro128** stream seeded by FEDSTAT_FUZZ_SEED (or a fresh random seed, printed), so
 * a failing run replays the same mutation sequence. The genuine messages themselves still carry
 * fresh randomness (query ids, BFV encryptions, mask seeds): the replay is of the mutations.
 */
import { randomBytes } from 'node:crypto';

/** A uniform integer in [0, n) (n ≤ 2^32). */
export type Rand = (n: number) => number;

/** FEDSTAT_FUZZ_SEED (decimal or 0x-hex), else 128 fresh random bits. */
export function fuzzSeed(): bigint {
  const env = process.env['FEDSTAT_FUZZ_SEED'];
  return env !== undefined && env !== ''
    ? BigInt(env)
    : randomBytes(16).reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/**
 * Case count of a fuzzer: its share of the 10,000+ times FEDSTAT_FUZZ_SCALE (default 1; only
 * larger values count, for longer runs: fewer cases would not reach every outcome class the
 * tests expect to see).
 */
export function scaled(cases: number): number {
  const scale = Number(process.env['FEDSTAT_FUZZ_SCALE'] ?? 1);
  return Math.round(cases * (Number.isFinite(scale) && scale > 1 ? scale : 1));
}

/** xoshiro128** over four 32-bit words of `seed` (a zero state is nudged: it would stay zero). */
export function prng(seed: bigint): Rand {
  const s: number[] = [0, 1, 2, 3].map((i) => Number((seed >> BigInt(32 * i)) & 0xffffffffn) >>> 0);
  if (!s.some((w) => w !== 0)) s[0] = 0x9e3779b9;
  const next = (): number => {
    const [s0 = 0, s1 = 0, s2 = 0, s3 = 0] = s;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    let [a, b, c, d] = [s0, s1, s2 ^ s0, s3 ^ s1];
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    s[0] = a >>> 0;
    s[1] = b >>> 0;
    s[2] = c >>> 0;
    s[3] = d >>> 0;
    return result;
  };
  return (n) => {
    if (!(n >= 1 && n <= 2 ** 32)) throw new RangeError(`rand(${n})`);
    // Rejection sampling: no modulo bias, so rare outcomes are as rare as they should be.
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = next();
      if (x < limit) return x % n;
    }
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function pick<T>(rand: Rand, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('pick from an empty list');
  return items[rand(items.length)] as T;
}

/** `n` bytes from the seeded stream. */
export function garbage(rand: Rand, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const w = rand(2 ** 32);
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (w >>> (8 * k)) & 0xff;
  }
  return out;
}

export const BYTE_MUTATIONS = ['random', 'truncate', 'bit-flips', 'overwrite', 'extend', 'splice'] as const;
export type ByteMutation = (typeof BYTE_MUTATIONS)[number];

/**
 * Half-open byte ranges of a genuine message where damage is most informative (the small fields
 * around a big ciphertext); positions fall inside them half of the time, weighted by length.
 */
export type Focus = readonly (readonly [start: number, end: number])[];

function position(rand: Rand, length: number, focus: Focus): number {
  const total = focus.reduce((n, [s, e]) => n + Math.max(0, e - s), 0);
  if (total > 0 && rand(2) === 0) {
    let k = rand(total);
    for (const [s, e] of focus) {
      if (k < e - s) return s + k;
      k -= Math.max(0, e - s);
    }
  }
  return rand(Math.max(1, length));
}

/**
 * One mutant of `genuine`: random bytes (up to twice its length, capped at `maxRandom`), a
 * truncation at a random point, 1–8 bit flips, a run of 1–64 bytes overwritten, 1–64 garbage
 * bytes appended, or a prefix of `genuine` spliced onto a suffix of `other` (another genuine
 * message of the same type). A mutant may still decode to the genuine content (two flips that
 * cancel, garbage that protobuf skips as an unknown field): callers check for that.
 */
export function mutateBytes(
  kind: ByteMutation,
  genuine: Uint8Array,
  other: Uint8Array,
  rand: Rand,
  focus: Focus = [],
  maxRandom = 4096,
): Uint8Array {
  const out = genuine.slice();
  switch (kind) {
    case 'random':
      return garbage(rand, rand(Math.min(maxRandom, 2 * genuine.length) + 1));
    case 'truncate':
      return genuine.slice(0, rand(Math.max(1, genuine.length)));
    case 'bit-flips': {
      if (out.length === 0) return garbage(rand, 1 + rand(8));
      for (let i = 0, k = 1 + rand(8); i < k; i++) {
        const at = position(rand, out.length, focus);
        out[at] = (out[at] ?? 0) ^ (1 << rand(8));
      }
      return out;
    }
    case 'overwrite': {
      if (out.length === 0) return garbage(rand, 1 + rand(64));
      const at = position(rand, out.length, focus);
      out.set(garbage(rand, Math.min(1 + rand(64), out.length - at)), at);
      return out;
    }
    case 'extend': {
      const longer = new Uint8Array(genuine.length + 1 + rand(64));
      longer.set(genuine);
      longer.set(garbage(rand, longer.length - genuine.length), genuine.length);
      return longer;
    }
    case 'splice': {
      const cut = position(rand, genuine.length, focus);
      const from = rand(other.length + 1);
      const spliced = new Uint8Array(cut + other.length - from);
      spliced.set(genuine.subarray(0, cut));
      spliced.set(other.subarray(from), cut);
      return spliced;
    }
  }
}

/** Everything of `message` but the bytes of the big `fields` (ciphertexts) found in it: a Focus. */
export function around(message: Uint8Array, fields: readonly Uint8Array[]): Focus {
  const hay = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const holes = fields
    .map((f) => {
      const at = hay.indexOf(Buffer.from(f.buffer, f.byteOffset, Math.min(f.byteLength, 256)));
      return at < 0 ? null : ([at, at + f.length] as const);
    })
    .filter((h) => h !== null)
    .sort((a, b) => a[0] - b[0]);
  const focus: (readonly [number, number])[] = [];
  let from = 0;
  for (const [s, e] of holes) {
    if (s > from) focus.push([from, s]);
    from = Math.max(from, e);
  }
  if (from < message.length) focus.push([from, message.length]);
  return focus;
}

/** Flips 1–8 random bits of a copy of `bytes` (structured mutations of one field). */
export function flipBits(bytes: Uint8Array, rand: Rand): Uint8Array {
  const out = bytes.slice();
  if (out.length === 0) return garbage(rand, 1 + rand(32));
  for (let i = 0, k = 1 + rand(8); i < k; i++) {
    const at = rand(out.length);
    out[at] = (out[at] ?? 0) ^ (1 << rand(8));
  }
  return out;
}
