import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededPrng, deriveSeedKey } from '../../src/seed/prng.js';

/** Pearson's chi-square statistic of observed counts against equal expected counts. */
function chiSquare(counts: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  const e = n / counts.length;
  return counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
}

// Upper 0.1% points of chi-square: df 15 → 37.70, df 9 → 27.88, df 255 → 330.5.
const CHI2_999 = { 9: 27.88, 15: 37.7, 255: 330.5 } as const;

describe('deriveSeedKey', () => {
  it('is SHA-256 over length-prefixed UTF-8 labels after the domain label', () => {
    const h = createHash('sha256');
    for (const part of ['fedstat/seed/prng/v1', 'a', '成都']) {
      const b = Buffer.from(part, 'utf8');
      h.update(Buffer.from([0, 0, 0, b.length])).update(b);
    }
    expect(Buffer.from(deriveSeedKey('a', '成都')).toString('hex')).toBe(h.digest('hex'));
  });

  it('separates label lists that concatenate to the same text', () => {
    expect(deriveSeedKey('ab', 'c')).not.toEqual(deriveSeedKey('a', 'bc'));
    expect(deriveSeedKey('a', '')).not.toEqual(deriveSeedKey('a'));
  });
});

describe('SeededPrng', () => {
  it('emits the AES-256-CTR keystream (zero IV) as little-endian words', () => {
    const key = deriveSeedKey('kat');
    const stream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(1 << 17));
    const prng = new SeededPrng(key);
    // Past the first 64 KiB refill boundary too.
    const got = Array.from({ length: stream.length / 4 }, () => prng.nextUint32());
    expect(got).toEqual(Array.from({ length: stream.length / 4 }, (_, i) => stream.readUInt32LE(4 * i)));
  });

  it('matches pinned known answers, so a stream never changes silently between versions or machines', () => {
    const p = SeededPrng.fromLabels('fedstat', 'sichuan');
    const got = Array.from({ length: 4 }, () => p.nextUint32());
    // Recomputed from the definition above; pinned so that a change to derivation or layout fails here.
    const key = deriveSeedKey('fedstat', 'sichuan');
    const ks = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(16));
    expect(got).toEqual([0, 4, 8, 12].map((o) => ks.readUInt32LE(o)));
    expect(got).toEqual(PINNED);
  });

  it('is reproducible for equal labels and differs for different labels', () => {
    const draw = (l: string) => {
      const p = SeededPrng.fromLabels(l);
      return Array.from({ length: 64 }, () => p.nextUint32());
    };
    expect(draw('x')).toEqual(draw('x'));
    expect(draw('x')).not.toEqual(draw('y'));
  });

  it('uniformInt stays in range and is uniform (chi-square over 10 and 16 buckets)', () => {
    for (const k of [10, 16] as const) {
      const p = SeededPrng.fromLabels('chi', String(k));
      const counts = new Array<number>(k).fill(0);
      let outside = 0;
      for (let i = 0; i < 20_000 * k; i++) {
        const x = p.uniformInt(k);
        if (Number.isInteger(x) && x >= 0 && x < k) counts[x]!++;
        else outside++;
      }
      expect(outside).toBe(0);
      expect(chiSquare(counts)).toBeLessThan(k === 10 ? CHI2_999[9] : CHI2_999[15]);
    }
  });

  it('every byte of the raw stream is uniform (chi-square over 256 buckets)', () => {
    const p = SeededPrng.fromLabels('bytes');
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 200_000; i++) {
      const x = p.nextUint32();
      counts[x & 0xff]!++;
      counts[x >>> 24]!++;
    }
    expect(chiSquare(counts)).toBeLessThan(CHI2_999[255]);
  });

  it('uniformInt has no modulo bias for a range that does not divide 2^32', () => {
    // n = 3·2^30: naive x % n would give the low third of [0, n) twice the mass.
    const n = 3 * 2 ** 30;
    const p = SeededPrng.fromLabels('bias');
    const thirds = [0, 0, 0];
    for (let i = 0; i < 60_000; i++) thirds[Math.floor(p.uniformInt(n) / 2 ** 30)]!++;
    expect(chiSquare(thirds)).toBeLessThan(13.82); // df 2, 0.1%
  });

  it('intBetween and bernoulli respect their bounds and rates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e6, max: 1e6 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.string(),
        (lo, width, label) => {
          const p = SeededPrng.fromLabels(label);
          for (let i = 0; i < 20; i++) {
            const x = p.intBetween(lo, lo + width);
            if (x < lo || x > lo + width || !Number.isInteger(x)) return false;
          }
          return p.bernoulli(0, 7) === false && p.bernoulli(7, 7) === true;
        },
      ),
    );
    const p = SeededPrng.fromLabels('rate');
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (p.bernoulli(300, 1000)) hits++;
    expect(Math.abs(hits / 100_000 - 0.3)).toBeLessThan(0.006); // > 4 standard errors
  });

  it('rejects misuse with RangeError', () => {
    const p = SeededPrng.fromLabels('x');
    expect(() => new SeededPrng(new Uint8Array(16))).toThrow(RangeError);
    expect(() => p.uniformInt(0)).toThrow(RangeError);
    expect(() => p.uniformInt(2 ** 32 + 1)).toThrow(RangeError);
    expect(() => p.uniformInt(1.5)).toThrow(RangeError);
    expect(() => p.intBetween(3, 2)).toThrow(RangeError);
    expect(() => p.bernoulli(8, 7)).toThrow(RangeError);
    expect(p.uniformInt(1)).toBe(0);
    expect(p.uniformInt(2 ** 32)).toBeLessThan(2 ** 32);
  });
});

const PINNED = [2753991330, 826016263, 3180504986, 2292734220];
