/**
 * Synthetic GB 11643 citizen identity numbers, unique across a whole scenario by construction.
 * Layout: 6-digit region code (the person's origin), 8-digit birth date, 3-digit sequence whose
 * parity is the sex (odd: male), check character (ISO 7064 MOD 11-2, from util/gb11643).
 *
 * Uniqueness without remembering every ID: a counter per (region, birth day, sex) hands out the
 * sequence numbers of that key one by one. Each city owns a disjoint residue class of sequences,
 * so cities can be generated independently (and individually) and still never collide.
 */
import { gb11643CheckChar } from '../util/gb11643.js';

/** Sequence "halves" j ∈ [1, 499]: male sequence 2j + 1 (3…999), female 2j (2…998). */
const MAX_HALF = 499;

/** The 18-character ID for a 6-digit region, a `YYYYMMDD` birth date and a sequence in [0, 999]. */
export function formatCitizenId(region: string, birthYmd: string, sequence: number): string {
  const seq = sequence < 10 ? `00${sequence}` : sequence < 100 ? `0${sequence}` : `${sequence}`;
  const first17 = region + birthYmd + seq;
  return first17 + gb11643CheckChar(first17);
}

export interface ParsedCitizenId {
  readonly region: string;
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly sequence: number;
  readonly male: boolean;
}

/** The fields of an 18-character ID (no validation beyond shape: see `isValidGb11643`). */
export function parseCitizenId(id: string): ParsedCitizenId | undefined {
  if (!/^\d{17}[\dX]$/.test(id)) return undefined;
  const sequence = Number(id.slice(14, 17));
  return {
    region: id.slice(0, 6),
    year: Number(id.slice(6, 10)),
    month: Number(id.slice(10, 12)),
    day: Number(id.slice(12, 14)),
    sequence,
    male: sequence % 2 === 1,
  };
}

export interface AllocatorOptions {
  /** Number of distinct region codes (indices 0 … regionCount-1). */
  readonly regionCount: number;
  /** Inclusive range of birth day numbers that may be allocated. */
  readonly firstDay: number;
  readonly lastDay: number;
  /** This generator's residue class (a city's index) out of `partitions` (the number of cities). */
  readonly partition: number;
  readonly partitions: number;
  /** Scrambles where each key's sequences start, so IDs do not all end in 001, 003, … */
  readonly salt: number;
}

/** Hands out distinct sequence numbers per (region, birth day, sex) within one partition. */
export class CitizenIdAllocator {
  readonly #counts: Uint8Array | Uint16Array;
  readonly #days: number;
  readonly #firstDay: number;
  readonly #slots: number;
  readonly #partition: number;
  readonly #partitions: number;
  readonly #salt: number;

  constructor(o: AllocatorOptions) {
    const days = o.lastDay - o.firstDay + 1;
    if (!Number.isSafeInteger(o.regionCount) || o.regionCount < 1)
      throw new RangeError('regionCount must be a positive integer');
    if (!Number.isSafeInteger(days) || days < 1) throw new RangeError('firstDay must not be after lastDay');
    if (!Number.isSafeInteger(o.partitions) || o.partitions < 1 || o.partitions > MAX_HALF)
      throw new RangeError('partitions must be in [1, 499]');
    if (!Number.isSafeInteger(o.partition) || o.partition < 0 || o.partition >= o.partitions)
      throw new RangeError('partition must be in [0, partitions)');
    // Halves j with (j - 1) mod partitions = partition.
    this.#slots = Math.floor((MAX_HALF - 1 - o.partition) / o.partitions) + 1;
    // Bytes when they suffice: the table is read at random, so half the size is fewer cache misses.
    const keys = o.regionCount * days * 2;
    this.#counts = this.#slots <= 255 ? new Uint8Array(keys) : new Uint16Array(keys);
    this.#days = days;
    this.#firstDay = o.firstDay;
    this.#partition = o.partition;
    this.#partitions = o.partitions;
    this.#salt = o.salt >>> 0;
  }

  /** Sequence numbers available per key in this partition. */
  get slotsPerKey(): number {
    return this.#slots;
  }

  /** A fresh sequence number for the key, or undefined when the key's slots are used up. */
  allocate(region: number, birthDay: number, male: boolean): number | undefined {
    const dayOffset = birthDay - this.#firstDay;
    if (region < 0 || dayOffset < 0 || dayOffset >= this.#days)
      throw new RangeError('region or birth day outside the allocator range');
    const key = (region * this.#days + dayOffset) * 2 + (male ? 1 : 0);
    const k = this.#counts[key];
    if (k === undefined) throw new RangeError('region outside the allocator range');
    if (k >= this.#slots) return undefined;
    this.#counts[key] = k + 1;
    const slot = ((mix32(key ^ this.#salt) % this.#slots) + k) % this.#slots;
    const half = 1 + this.#partition + this.#partitions * slot;
    return 2 * half + (male ? 1 : 0);
  }
}

/** murmur3's 32-bit finaliser: integer-only, so identical everywhere. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
