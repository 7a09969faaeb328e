/**
 * A table numbering distinct group elements: open addressing with linear probing over a keyed
 * hash, about ten times faster and six times smaller than a Map keyed by 32-character strings.
 *
 * Elements come from agencies, which could choose them to collide in a hash they can predict and
 * so make matching quadratic. The hash is therefore keyed with fresh node:crypto randomness per
 * table: vector multiply-shift (Dietzfelbinger et al.), sum of a_i · w_i over the eight 32-bit
 * words, top bits kept, with random odd a_i. Two different elements land in the same slot with
 * probability about 2 / slots, whatever the sender chose, as long as the key stays in this process.
 */
import { randomFillSync } from 'node:crypto';
import { ELEMENT_BYTES } from './group.js';

const WORDS = ELEMENT_BYTES / 4;
const EMPTY = -1;

function word(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8) | ((bytes[at + 2] ?? 0) << 16) | ((bytes[at + 3] ?? 0) << 24)) >>> 0
  );
}

/** Numbers distinct 32-byte elements 0, 1, 2, … in order of first appearance. */
export class ElementTable {
  readonly #capacity: number;
  readonly #shift: number;
  readonly #mask: number;
  readonly #keys = new Uint32Array(WORDS + 1);
  readonly #slots: Int32Array;
  readonly #values: Uint8Array;
  #size = 0;

  /** A table for at most `capacity` distinct elements (RangeError beyond). */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > 2 ** 30) {
      throw new RangeError('an ElementTable holds between 0 and 2^30 elements');
    }
    this.#capacity = capacity;
    let bits = 4;
    while (2 ** bits < 2 * capacity) bits++; // load factor at most 1/2
    this.#shift = 32 - bits;
    this.#mask = 2 ** bits - 1;
    this.#slots = new Int32Array(2 ** bits).fill(EMPTY);
    this.#values = new Uint8Array(capacity * ELEMENT_BYTES);
    randomFillSync(this.#keys);
    for (let i = 0; i < WORDS; i++) this.#keys[i] = ((this.#keys[i] ?? 0) | 1) >>> 0;
  }

  /** The number of distinct elements added so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * The number of the element at `bytes[offset .. offset + 32)`: its existing number when an equal
   * element was added before, otherwise the next number (then `size` grows by one).
   */
  add(bytes: Uint8Array, offset: number): number {
    let h = this.#keys[WORDS] ?? 0;
    for (let i = 0; i < WORDS; i++) h = (h + Math.imul(this.#keys[i] ?? 0, word(bytes, offset + 4 * i))) >>> 0;
    let slot = h >>> this.#shift;
    const values = this.#values;
    for (;;) {
      const id = this.#slots[slot] ?? EMPTY;
      if (id === EMPTY) break;
      let equal = true;
      const base = id * ELEMENT_BYTES;
      for (let j = 0; j < ELEMENT_BYTES; j++) {
        if (values[base + j] !== bytes[offset + j]) {
          equal = false;
          break;
        }
      }
      if (equal) return id;
      slot = (slot + 1) & this.#mask;
    }
    if (this.#size === this.#capacity) throw new RangeError('ElementTable is full');
    const id = this.#size++;
    values.set(bytes.subarray(offset, offset + ELEMENT_BYTES), id * ELEMENT_BYTES);
    this.#slots[slot] = id;
    return id;
  }
}
