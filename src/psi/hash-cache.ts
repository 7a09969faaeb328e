/**
 * A bounded cache of hashed ids. Hashing an id to the PSI group costs several blindings (two field
 * exponentiations in BigInt against one native X25519), and the hash does not depend on the
 * query: the per-query key does the blinding. So an agency hashes each id once and reuses the element across
 * queries. Entries live in one flat byte array used as a ring: when the cache is full the oldest
 * entry is evicted, which keeps memory at about capacity × (32 bytes + one map entry).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ELEMENT_BYTES } from './group.js';
import { PSI_DST, hashToGroup } from './hash-to-group.js';

/** The default number of ids a `HashCache` holds (4 Mi: two 2M-row datasets). */
export const DEFAULT_HASH_CACHE_CAPACITY = 4_194_304;

/** Options of a `HashCache`. */
export interface HashCacheOptions {
  /** How many ids the cache holds before evicting the oldest (default 4,194,304). */
  readonly capacity?: number;
  /** The domain separation tag to hash under (default `PSI_DST`). */
  readonly dst?: string;
}

// ~64 misses take ~20 ms: short enough for gRPC to keep answering between slices.
const MISSES_PER_SLICE = 64;
const utf8 = new TextEncoder();

/** A bounded id → group element cache in front of `hashToGroup`; see the module comment. */
export class HashCache {
  /** The maximum number of entries. */
  readonly capacity: number;
  /** The domain separation tag every element is hashed under. */
  readonly dst: string;
  #hits = 0;
  #misses = 0;
  readonly #slotOf = new Map<string, number>();
  readonly #idAt: string[] = [];
  #values = new Uint8Array(0);
  #next = 0; // the slot the next new id takes; once full, also the oldest entry

  constructor(options: HashCacheOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_HASH_CACHE_CAPACITY;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError('HashCache capacity is a positive integer');
    }
    this.capacity = capacity;
    this.dst = options.dst ?? PSI_DST;
  }

  /** Lookups answered from the cache. */
  get hits(): number {
    return this.#hits;
  }

  /** Lookups that had to hash. */
  get misses(): number {
    return this.#misses;
  }

  /** The number of ids currently cached. */
  get size(): number {
    return this.#slotOf.size;
  }

  /** The elements of `ids` (UTF-8 hashed under `dst`), packed n × 32 in the same order. */
  hashAll(ids: readonly string[]): Uint8Array {
    const out = new Uint8Array(ids.length * ELEMENT_BYTES);
    for (let i = 0; i < ids.length; i++) this.#hashOne(ids, i, out);
    return out;
  }

  /**
   * `hashAll` that yields to the event loop every few dozen cache misses, so a server keeps
   * answering while a large set is hashed; `onProgress(done, total)` runs after each slice.
   */
  async hashAllAsync(ids: readonly string[], onProgress?: (done: number, total: number) => void): Promise<Uint8Array> {
    const out = new Uint8Array(ids.length * ELEMENT_BYTES);
    let missesAtYield = this.#misses;
    for (let i = 0; i < ids.length; i++) {
      this.#hashOne(ids, i, out);
      if (this.#misses - missesAtYield >= MISSES_PER_SLICE) {
        onProgress?.(i + 1, ids.length);
        await yieldToEventLoop();
        missesAtYield = this.#misses;
      }
    }
    onProgress?.(ids.length, ids.length);
    return out;
  }

  #hashOne(ids: readonly string[], i: number, out: Uint8Array): void {
    const id = ids[i];
    if (typeof id !== 'string') throw new TypeError(`HashCache hashes strings; id ${i} is ${typeof id}`);
    const slot = this.#slotOf.get(id);
    if (slot !== undefined) {
      this.#hits++;
      out.set(this.#values.subarray(slot * ELEMENT_BYTES, (slot + 1) * ELEMENT_BYTES), i * ELEMENT_BYTES);
      return;
    }
    this.#misses++;
    const element = hashToGroup(utf8.encode(id), this.dst);
    out.set(element, i * ELEMENT_BYTES);
    this.#store(id, element);
  }

  #store(id: string, element: Uint8Array): void {
    const slot = this.#next;
    this.#next = (slot + 1) % this.capacity;
    const evicted = this.#idAt[slot];
    if (evicted !== undefined) this.#slotOf.delete(evicted);
    this.#idAt[slot] = id;
    this.#slotOf.set(id, slot);
    const end = (slot + 1) * ELEMENT_BYTES;
    if (end > this.#values.length) {
      // Grow by doubling up to the capacity, so a small federation never allocates 128 MiB.
      const grown = new Uint8Array(Math.min(this.capacity * ELEMENT_BYTES, Math.max(end, this.#values.length * 2)));
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values.set(element, slot * ELEMENT_BYTES);
  }
}
