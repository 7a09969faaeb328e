/**
 * The coordinator's side of ECDH-PSI: matching doubly-blinded values and assigning positions.
 *
 * Every agency's elements arrive blinded under both side keys, so equal values mean equal ids and
 * the coordinator (who holds no key) learns only the equality pattern. Each distinct value gets
 * one position, drawn as the first D entries of a uniformly random permutation of [0, P), where P
 * is the total number of elements sent. P is public and independent of the overlap, and an
 * agency's own positions are a uniformly random injection into [0, P) whatever the other agencies
 * hold, so an agency cannot tell its matched elements from its unmatched ones.
 */
import { randomFillSync } from 'node:crypto';
import { ElementTable } from './element-table.js';
import { ELEMENT_BYTES, isCanonicalElement } from './group.js';
import { badSet, truncatedSet } from './blinded-set.js';

/** One agency's doubly-blinded set, as the coordinator received it. */
export interface BlindedSetOf {
  /** The agency that sent it (unique among the sets of one matching). */
  readonly agency: string;
  /** The dataset side the agency belongs to. */
  readonly side: 'left' | 'right';
  /** n × 32 bytes: the agency's elements under both side keys, in the agency's own order. */
  readonly elements: Uint8Array;
}

/** The outcome of `matchBlindedSets`. */
export interface Matching {
  /** P = total number of elements sent (public to every agency: independent of the overlap). */
  readonly positionCount: number;
  /** agency → the position of each of its elements, in the order it sent them. */
  readonly positions: ReadonlyMap<string, Uint32Array>;
  /** 1 at positions where at least one right-side element sits (anti-join mask is its complement over left positions). */
  readonly rightPresent: Uint8Array;
  /** 1 at positions where at least one left-side element sits. */
  readonly leftPresent: Uint8Array;
  /**
   * What the coordinator learns (docs/threat-model.md): the number of distinct values, how many of
   * them occur on both sides, and for each (left agency, right agency) pair how many values they share.
   */
  readonly stats: {
    readonly distinct: number;
    readonly matched: number;
    readonly overlaps: readonly { readonly left: string; readonly right: string; readonly count: number }[];
  };
}

const LEFT = 1;
const RIGHT = 2;

/** Uniform 32-bit integers from node:crypto, drawn 4096 at a time. */
function cryptoUint32Source(): () => number {
  const pool = new Uint32Array(4096);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    return pool[next++] ?? 0;
  };
}

/** A uniform integer in [0, bound) for 0 < bound <= 2^30, by rejection sampling (no modulo bias). */
function uniformBelow(bound: number, randomUint32: () => number): number {
  const limit = 2 ** 32 - (2 ** 32 % bound); // the largest multiple of bound that fits
  for (;;) {
    const r = randomUint32();
    if (!Number.isInteger(r) || r < 0 || r >= 2 ** 32) throw new RangeError('randomUint32 must return a uint32');
    if (r < limit) return r % bound;
  }
}

/**
 * Match the doubly-blinded sets of all agencies. Elements with equal values (in any agencies, on
 * either side) share one position; distinct values get distinct positions, the first D entries of
 * a uniformly random permutation of [0, P) (Fisher–Yates fed by `randomUint32`, node:crypto by
 * default). Throws FedstatError BAD_MESSAGE naming the agency when a set is truncated, holds a
 * non-canonical element or repeats a value, and RangeError when two sets name the same agency.
 */
export function matchBlindedSets(
  sets: readonly BlindedSetOf[],
  randomUint32: () => number = cryptoUint32Source(),
): Matching {
  const names = new Set<string>();
  let total = 0;
  for (const set of sets) {
    if (names.has(set.agency)) throw new RangeError(`agency ${set.agency} appears twice in matchBlindedSets`);
    if (set.side !== 'left' && set.side !== 'right')
      throw new RangeError(`side of agency ${set.agency} is left or right`);
    names.add(set.agency);
    if (set.elements.length % ELEMENT_BYTES !== 0) throw truncatedSet(set.agency, set.elements.length);
    total += set.elements.length / ELEMENT_BYTES;
  }
  if (total > 2 ** 30) throw new RangeError('matchBlindedSets takes at most 2^30 elements');

  // Pass 1: number the distinct values in order of first appearance. `lastSet` catches a value
  // repeated within one set (sets are scanned one after another, so a repeat sees its own index).
  const table = new ElementTable(total);
  const lastSet = new Int32Array(total);
  const sides = new Uint8Array(total);
  const ids: Uint32Array[] = [];
  sets.forEach((set, s) => {
    const n = set.elements.length / ELEMENT_BYTES;
    const own = new Uint32Array(n);
    const bit = set.side === 'left' ? LEFT : RIGHT;
    for (let i = 0; i < n; i++) {
      const offset = i * ELEMENT_BYTES;
      if (!isCanonicalElement(set.elements, offset)) throw badSet(set.agency, i, 'is non-canonical or of low order');
      const before = table.size;
      const id = table.add(set.elements, offset);
      if (id < before && lastSet[id] === s) {
        throw badSet(set.agency, i, 'repeats an earlier element (each id must be sent once)');
      }
      lastSet[id] = s;
      sides[id] = (sides[id] ?? 0) | bit;
      own[i] = id;
    }
    ids.push(own);
  });
  const distinct = table.size;

  // Pass 2: positions = the first D entries of a Fisher–Yates shuffle of [0, P).
  const perm = new Uint32Array(total);
  for (let i = 0; i < total; i++) perm[i] = i;
  for (let i = 0; i < distinct; i++) {
    const j = i + uniformBelow(total - i, randomUint32);
    const a = perm[i] ?? 0;
    perm[i] = perm[j] ?? 0;
    perm[j] = a;
  }

  const positions = new Map<string, Uint32Array>();
  const leftPresent = new Uint8Array(total);
  const rightPresent = new Uint8Array(total);
  let matched = 0;
  for (let id = 0; id < distinct; id++) {
    const at = perm[id] ?? 0;
    const side = sides[id] ?? 0;
    if (side & LEFT) leftPresent[at] = 1;
    if (side & RIGHT) rightPresent[at] = 1;
    if (side === (LEFT | RIGHT)) matched++;
  }
  sets.forEach((set, s) => {
    const own = ids[s] ?? new Uint32Array(0);
    const out = new Uint32Array(own.length);
    for (let i = 0; i < own.length; i++) out[i] = perm[own[i] ?? 0] ?? 0;
    positions.set(set.agency, out);
  });

  return {
    positionCount: total,
    positions,
    rightPresent,
    leftPresent,
    stats: { distinct, matched, overlaps: overlaps(sets, ids, distinct) },
  };
}

/** For each (left agency, right agency) pair, how many values both hold. */
function overlaps(
  sets: readonly BlindedSetOf[],
  ids: readonly Uint32Array[],
  distinct: number,
): { left: string; right: string; count: number }[] {
  const out: { left: string; right: string; count: number }[] = [];
  const held = new Uint8Array(distinct);
  sets.forEach((right, r) => {
    if (right.side !== 'right') return;
    const rightIds = ids[r] ?? new Uint32Array(0);
    for (const id of rightIds) held[id] = 1;
    sets.forEach((left, l) => {
      if (left.side !== 'left') return;
      let count = 0;
      for (const id of ids[l] ?? new Uint32Array(0)) count += held[id] ?? 0;
      out.push({ left: left.agency, right: right.agency, count });
    });
    for (const id of rightIds) held[id] = 0;
  });
  return out;
}
