import { describe, expect, it } from 'vitest';
import { ELEMENT_BYTES } from '../../src/psi/group.js';
import { DEFAULT_HASH_CACHE_CAPACITY, HashCache } from '../../src/psi/hash-cache.js';
import { hashIds } from '../../src/psi/hash-to-group.js';

const RFC_DST = 'QUUX-V01-CS02-with-curve25519_XMD:SHA-512_ELL2_RO_';
const ids = (n: number, prefix = 'id'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('HashCache', () => {
  it('gives the same bytes as hashIds, hashing each id once across calls', () => {
    const cache = new HashCache();
    expect(cache.capacity).toBe(DEFAULT_HASH_CACHE_CAPACITY);
    const first = ids(20);
    expect(cache.hashAll(first)).toEqual(hashIds(first));
    expect([cache.hits, cache.misses, cache.size]).toEqual([0, 20, 20]);
    const second = [...ids(10), ...ids(5, 'new')];
    expect(cache.hashAll(second)).toEqual(hashIds(second));
    expect([cache.hits, cache.misses, cache.size]).toEqual([10, 25, 25]);
  });

  it('hashes under its own DST', () => {
    const cache = new HashCache({ dst: RFC_DST });
    expect(cache.hashAll(['abc'])).toEqual(hashIds(['abc'], RFC_DST));
    expect(cache.hashAll(['abc'])).not.toEqual(hashIds(['abc']));
  });

  it('evicts the oldest entry when full and stays correct after wrapping around', () => {
    const cache = new HashCache({ capacity: 3 });
    cache.hashAll(['a', 'b', 'c']);
    cache.hashAll(['d']); // evicts a
    expect(cache.size).toBe(3);
    const misses = cache.misses;
    expect(cache.hashAll(['b', 'c', 'd'])).toEqual(hashIds(['b', 'c', 'd']));
    expect(cache.misses).toBe(misses);
    expect(cache.hashAll(['a'])).toEqual(hashIds(['a'])); // a was evicted: hashed again, evicts b
    expect(cache.misses).toBe(misses + 1);
    const many = ids(11, 'w');
    expect(cache.hashAll(many)).toEqual(hashIds(many));
    expect(cache.hashAll(many.slice(-3))).toEqual(hashIds(many.slice(-3)));
    expect(cache.size).toBe(3);
  });

  it('grows its storage past the first allocation', () => {
    const cache = new HashCache({ capacity: 100 });
    const all = ids(70);
    expect(cache.hashAll(all)).toEqual(hashIds(all));
    expect(cache.hashAll(all.reverse()).length).toBe(70 * ELEMENT_BYTES);
    expect(cache.hits).toBe(70);
  });

  it('hashAllAsync gives the same bytes, reports progress and lets other work run', async () => {
    const cache = new HashCache();
    const all = ids(200, 'async');
    // Queued before the call: it runs before the last slice only if hashAllAsync yields.
    let otherWorkRan = false;
    setImmediate(() => (otherWorkRan = true));
    const progress: number[] = [];
    const out = await cache.hashAllAsync(all, (done, total) => {
      expect(total).toBe(200);
      progress.push(done);
    });
    expect(otherWorkRan).toBe(true);
    expect(out).toEqual(hashIds(all));
    expect(progress.at(-1)).toBe(200);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('refuses a bad capacity and non-string ids', () => {
    expect(() => new HashCache({ capacity: 0 })).toThrow(RangeError);
    expect(() => new HashCache({ capacity: 1.5 })).toThrow(RangeError);
    expect(() => new HashCache().hashAll([null as unknown as string])).toThrow(TypeError);
  });
});
