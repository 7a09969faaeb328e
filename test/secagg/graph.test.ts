import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidDegree, neighbourhoods, type GraphSeed } from '../../src/secagg/graph.js';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `agency-${String(i).padStart(4, '0')}`);

/** Components of the graph restricted to `alive` (breadth-first search). */
function components(seed: GraphSeed, alive: ReadonlySet<number>): number {
  const g = neighbourhoods(seed);
  const seen = new Set<number>();
  let count = 0;
  for (const start of alive) {
    if (seen.has(start)) continue;
    count++;
    const queue = [start];
    seen.add(start);
    while (queue.length > 0) {
      const v = queue.pop()!;
      for (const w of g.neighbours(v)) {
        if (alive.has(w) && !seen.has(w)) {
          seen.add(w);
          queue.push(w);
        }
      }
    }
  }
  return count;
}

const sparseSeed: fc.Arbitrary<GraphSeed & { degree: number }> = fc
  .record({
    n: fc.integer({ min: 4, max: 300 }),
    half: fc.integer({ min: 1, max: 40 }),
    q: fc.integer({ min: 0, max: 1e9 }),
  })
  .filter(({ n, half }) => 2 * half <= n - 2)
  .map(({ n, half, q }) => ({ federationId: 'fed', queryId: `q-${q}`, participants: ids(n), degree: 2 * half }));

describe('the SecAgg+ neighbour graph', () => {
  it('is k-regular, symmetric and loop-free, with holders = neighbours + self', () => {
    fc.assert(
      fc.property(sparseSeed, (seed) => {
        const g = neighbourhoods(seed);
        const n = seed.participants.length;
        expect(g.dense).toBe(false);
        const wrong: string[] = [];
        for (let i = 0; i < n; i++) {
          const nb = g.neighbours(i);
          if (nb.length !== seed.degree || new Set(nb).size !== seed.degree) wrong.push(`${i}: degree`);
          if (nb.includes(i)) wrong.push(`${i}: loop`);
          if (nb.some((j, p) => p > 0 && nb[p - 1]! >= j)) wrong.push(`${i}: order`);
          if (nb.some((j) => !g.neighbours(j).includes(i))) wrong.push(`${i}: asymmetric`);
          const holders = g.holders(i);
          if (holders.join() !== [...nb, i].sort((a, b) => a - b).join()) wrong.push(`${i}: holders`);
          if (holders.some((h, p) => g.holderPosition(i, h) !== p)) wrong.push(`${i}: position`);
          const stranger = [...Array(n).keys()].find((j) => j !== i && !nb.includes(j));
          if (stranger !== undefined && g.holderPosition(i, stranger) !== -1) wrong.push(`${i}: stranger`);
        }
        expect(wrong).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('is the same for every party that derives it, and differs per query and per degree', () => {
    fc.assert(
      fc.property(sparseSeed, (seed) => {
        const a = neighbourhoods(seed);
        const b = neighbourhoods({ ...seed, participants: [...seed.participants] });
        const other = neighbourhoods({ ...seed, queryId: `${seed.queryId}-next` });
        const all = (g: typeof a): number[][] => seed.participants.map((_, i) => [...g.neighbours(i)]);
        expect(all(b)).toEqual(all(a));
        // Fewer than k + 2 parties leave no room for two different k-regular circulants to differ much.
        if (seed.participants.length >= 12 && seed.degree <= seed.participants.length / 3)
          expect(all(other)).not.toEqual(all(a));
      }),
      { numRuns: 60 },
    );
  });

  it('is connected, and stays connected after fewer than k removals (k-connected)', () => {
    fc.assert(
      fc.property(
        sparseSeed.chain((seed) =>
          fc.record({
            seed: fc.constant(seed),
            removed: fc.uniqueArray(fc.integer({ min: 0, max: seed.participants.length - 1 }), {
              maxLength: seed.degree - 1,
            }),
          }),
        ),
        ({ seed, removed }) => {
          const gone = new Set(removed);
          const alive = new Set(seed.participants.map((_, i) => i).filter((i) => !gone.has(i)));
          expect(components(seed, alive)).toBe(1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('stays connected w.h.p. when 40 % of 256 parties are removed at random at k = 106', () => {
    let disconnected = 0;
    for (let r = 0; r < 60; r++) {
      const seed = { federationId: 'fed', queryId: `conn-${r}`, participants: ids(256), degree: 106 };
      // The removed set comes from the graph seed's own permutation of another query: independent of this graph.
      const order = neighbourhoods({ ...seed, queryId: `removal-${r}` }).neighbours(0);
      const gone = new Set(order.slice(0, 102));
      const alive = new Set(seed.participants.map((_, i) => i).filter((i) => !gone.has(i)));
      if (components(seed, alive) !== 1) disconnected++;
    }
    expect(disconnected).toBe(0);
  });

  it('spreads neighbourhoods uniformly: every party is some party’s neighbour equally often over many queries', () => {
    const n = 40;
    const counts = new Array<number>(n).fill(0);
    for (let r = 0; r < 400; r++) {
      const g = neighbourhoods({ federationId: 'fed', queryId: `u-${r}`, participants: ids(n), degree: 4 });
      for (const j of g.neighbours(0)) counts[j]!++;
    }
    // Each of the 39 others is expected 400·4/39 ≈ 41 times; a biased permutation would skew this.
    expect(counts[0]).toBe(0);
    for (const c of counts.slice(1)) expect(c).toBeGreaterThan(15);
    for (const c of counts.slice(1)) expect(c).toBeLessThan(75);
  });

  it('is the complete graph without a degree, and refuses an invalid degree', () => {
    const g = neighbourhoods({ federationId: 'fed', queryId: 'q', participants: ids(5) });
    expect(g.dense).toBe(true);
    expect(g.neighbours(2)).toEqual([0, 1, 3, 4]);
    expect(g.holders(2)).toEqual([0, 1, 2, 3, 4]);
    expect(g.holderPosition(2, 4)).toBe(4);
    expect(g.holderPosition(2, 5)).toBe(-1);
    for (const k of [0, 1, 3, 4, 2.5, -2]) expect(isValidDegree(k, 5)).toBe(k === 2);
    expect(() => neighbourhoods({ federationId: 'fed', queryId: 'q', participants: ids(5), degree: 4 })).toThrow(
      RangeError,
    );
  });
});
