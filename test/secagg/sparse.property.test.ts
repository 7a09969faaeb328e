import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FedstatError } from '../../src/errors.js';
import { isFedstatError } from '../../src/errors.js';
import { SecAggAggregation } from '../../src/secagg/aggregation.js';
import { neighbourhoods } from '../../src/secagg/graph.js';
import { addMaskInto } from '../../src/secagg/masks.js';
import { defaultThreshold, minimumThreshold } from '../../src/secagg/params.js';
import { FIELD_PRIME, randomFieldElement } from '../../src/secagg/shamir.js';
import type { SparseGraph } from '../../src/secagg/sparse-params.js';
import {
  FEDERATION,
  LARGE_POOL,
  PARTICIPANTS,
  PRIMES,
  PUBLIC_KEYS,
  nextQuery,
  plainSum,
  runQuery,
  type QueryRun,
} from './harness.js';

/** n agencies, a sparse graph, random values and random dropouts in both rounds. */
const sparseRun: fc.Arbitrary<QueryRun & { graph: SparseGraph }> = fc
  .record({
    n: fc.integer({ min: 12, max: 48 }),
    half: fc.integer({ min: 1, max: 8 }),
    modulus: fc.constantFrom(...PRIMES),
    length: fc.integer({ min: 1, max: 8 }),
    p1: fc.constantFrom(0, 0.05, 0.1, 0.2, 0.3),
    p2: fc.constantFrom(0, 0, 0.02, 0.1),
  })
  .filter(({ n, half }) => 2 * half <= n - 2)
  .chain(({ n, half, modulus, length, p1, p2 }) =>
    fc
      .record({
        participants: fc.shuffledSubarray([...LARGE_POOL], { minLength: n, maxLength: n }).map((ids) => ids.sort()),
        shareThreshold: fc.integer({ min: minimumThreshold(2 * half + 1), max: 2 * half + 1 }),
        values: fc.array(
          fc.array(fc.bigInt({ min: 0n, max: modulus - 1n }), { minLength: length, maxLength: length }),
          { minLength: n, maxLength: n },
        ),
        coins1: fc.array(fc.noBias(fc.integer({ min: 0, max: 999 })), { minLength: n, maxLength: n }),
        coins2: fc.array(fc.noBias(fc.integer({ min: 0, max: 999 })), { minLength: n, maxLength: n }),
      })
      .map((r) => ({
        participants: r.participants,
        threshold: defaultThreshold(n),
        modulus,
        values: new Map(r.participants.map((id, k) => [id, r.values[k]!])),
        dropRound1: new Set(r.participants.filter((_, k) => r.coins1[k]! < p1 * 1000)),
        dropRound2: new Set(r.participants.filter((_, k) => r.coins2[k]! < p2 * 1000)),
        graph: { degree: 2 * half, shareThreshold: r.shareThreshold },
      })),
  );

/** Whether the run can finish, predicted from the graph alone (not from the protocol code). */
function predict(run: QueryRun & { graph: SparseGraph }, queryId: string): boolean {
  const u = run.participants;
  const g = neighbourhoods({ federationId: FEDERATION, queryId, participants: u, degree: run.graph.degree });
  const survivors = new Set(u.filter((id) => !run.dropRound1.has(id)));
  const answered = new Set([...survivors].filter((id) => !run.dropRound2.has(id)));
  if (survivors.size < run.threshold) return false;
  const t = run.graph.shareThreshold;
  for (const id of survivors) {
    const i = u.indexOf(id);
    const holders = g.holders(i).map((k) => u[k]!);
    if (holders.filter((h) => survivors.has(h)).length < t) return false;
    if (holders.filter((h) => answered.has(h)).length < t) return false;
    const droppedNeighbour = g.neighbours(i).some((k) => !survivors.has(u[k]!));
    if (!answered.has(id) && droppedNeighbour) return false;
  }
  return true;
}

describe('SecAgg+ (sparse graph) with dropouts', () => {
  it('gives the exact sum over the survivors, or UNAVAILABLE exactly when the graph says so (150 runs)', () => {
    const seen = { sum: 0, unavailable: 0, withDropped: 0 };
    fc.assert(
      fc.property(sparseRun, (run) => {
        const { queryId } = nextQuery();
        // runQuery takes the next query id itself: predict for that one.
        const next = `q-${Number(queryId.slice(2)) + 1}`;
        const outcome = runQuery(run);
        const survivors = run.participants.filter((id) => !run.dropRound1.has(id));
        if (outcome.kind === 'sum') {
          expect(predict(run, next)).toBe(true);
          expect(outcome.survivors).toEqual(survivors);
          expect(outcome.sum).toEqual(plainSum(run, survivors));
          seen.sum++;
          if (outcome.dropped.length > 0) seen.withDropped++;
        } else {
          expect(predict(run, next)).toBe(false);
          expect(outcome.message).toMatch(/retry the query/);
          seen.unavailable++;
        }
      }),
      { numRuns: 150 },
    );
    // Both outcomes, and sums with dropped agencies, really were exercised.
    expect(seen.sum).toBeGreaterThan(20);
    expect(seen.withDropped).toBeGreaterThan(10);
    expect(seen.unavailable).toBeGreaterThan(5);
  }, 180_000);

  it('masks with k neighbours only, and their masks cancel in the total', () => {
    const u = LARGE_POOL.slice(0, 40);
    const { queryId, now, expiresAt } = nextQuery();
    const graph = { degree: 6, shareThreshold: 5 };
    const q = { queryId, participants: u, threshold: defaultThreshold(40), length: 3, modulus: 97n, expiresAt, graph };
    const outs = u.map((id) => PARTICIPANTS.get(id)!.round1(q, now));
    for (const [k, out] of outs.entries()) {
      expect(out.shares).toHaveLength(7);
      expect(out.pairwiseCommitments).toHaveLength(6);
      expect(out.shares.every((s) => s.from === u[k])).toBe(true);
    }
    // Round 1 material of everyone, round 2 of everyone: nothing dropped, so only self-masks remain.
    const aggregation = new SecAggAggregation({ federationId: FEDERATION, ...q, agreementKeys: PUBLIC_KEYS });
    u.forEach((id, k) => aggregation.acceptRound1(id, outs[k]!));
    const set = aggregation.fixSurvivors();
    for (const id of u) {
      const shares = aggregation.sharesFor(id);
      expect(shares).toHaveLength(7); // its neighbours' and its own
      const answer = PARTICIPANTS.get(id)!.round2({ queryId, ...set }, shares, now);
      expect(answer.selfMaskShares).toHaveLength(7);
      expect(answer.pairwiseSeeds).toEqual([]);
      aggregation.acceptRound2(id, answer);
    }
    const total = new BigUint64Array(3);
    for (const out of outs) addMaskInto(total, out.mask, 1, 97n);
    addMaskInto(total, aggregation.finalize(), -1, 97n);
    expect([...total]).toEqual([0n, 0n, 0n]);
  });

  it('names the survivor and its missing neighbours when too many of them dropped in round 1', () => {
    const u = LARGE_POOL.slice(0, 30);
    const { queryId, now, expiresAt } = nextQuery();
    const graph = { degree: 4, shareThreshold: 4 };
    const q = { queryId, participants: u, threshold: defaultThreshold(30), length: 1, modulus: 97n, expiresAt, graph };
    const g = neighbourhoods({ federationId: FEDERATION, queryId, participants: u, degree: 4 });
    const victim = u[7]!;
    const lost = g
      .neighbours(7)
      .slice(0, 2)
      .map((k) => u[k]!);
    const aggregation = new SecAggAggregation({ federationId: FEDERATION, ...q, agreementKeys: PUBLIC_KEYS });
    for (const id of u) {
      const out = PARTICIPANTS.get(id)!.round1(q, now);
      if (!lost.includes(id)) aggregation.acceptRound1(id, out);
    }
    let error: unknown;
    try {
      aggregation.fixSurvivors();
    } catch (e) {
      error = e;
    }
    expect(isFedstatError(error, 'UNAVAILABLE')).toBe(true);
    const message = (error as FedstatError).message;
    expect(message).toContain(
      `${victim} kept 3 of the 4 share holders it needs (missing: ${[...lost].sort().join(', ')})`,
    );
    expect(message).toMatch(/retry the query/);
  });

  it('names the silent holders when too few shares of a survivor arrive in round 2', () => {
    const u = LARGE_POOL.slice(0, 30);
    const { queryId, now, expiresAt } = nextQuery();
    const graph = { degree: 4, shareThreshold: 4 };
    const q = { queryId, participants: u, threshold: defaultThreshold(30), length: 1, modulus: 97n, expiresAt, graph };
    const g = neighbourhoods({ federationId: FEDERATION, queryId, participants: u, degree: 4 });
    const silent = g
      .neighbours(3)
      .slice(0, 2)
      .map((k) => u[k]!);
    const aggregation = new SecAggAggregation({ federationId: FEDERATION, ...q, agreementKeys: PUBLIC_KEYS });
    for (const id of u) aggregation.acceptRound1(id, PARTICIPANTS.get(id)!.round1(q, now));
    const set = aggregation.fixSurvivors();
    for (const id of u) {
      const answer = PARTICIPANTS.get(id)!.round2({ queryId, ...set }, aggregation.sharesFor(id), now);
      if (!silent.includes(id)) aggregation.acceptRound2(id, answer);
    }
    let error: unknown;
    try {
      aggregation.finalize();
    } catch (e) {
      error = e;
    }
    expect(isFedstatError(error, 'UNAVAILABLE')).toBe(true);
    expect((error as FedstatError).message).toContain(
      `only 3 of the 4 shares needed for ${u[3]!}'s self-mask arrived (none from ${[...silent].sort().join(', ')})`,
    );
  });

  it('catches tampered shares: recovers from a surplus, refuses when no t-subset matches the commitment', () => {
    for (const corrupt of [1, 3]) {
      const u = LARGE_POOL.slice(0, 24);
      const { queryId, now, expiresAt } = nextQuery();
      const graph = { degree: 6, shareThreshold: 5 };
      const q = {
        queryId,
        participants: u,
        threshold: defaultThreshold(24),
        length: 2,
        modulus: 97n,
        expiresAt,
        graph,
      };
      const g = neighbourhoods({ federationId: FEDERATION, queryId, participants: u, degree: 6 });
      const liars = new Set(
        g
          .neighbours(0)
          .slice(0, corrupt)
          .map((k) => u[k]!),
      );
      const aggregation = new SecAggAggregation({ federationId: FEDERATION, ...q, agreementKeys: PUBLIC_KEYS });
      const values = u.map((_, k) => BigUint64Array.from([BigInt(k % 97), 1n]));
      const masked = u.map((id, k) => {
        const out = PARTICIPANTS.get(id)!.round1(q, now);
        aggregation.acceptRound1(id, out);
        const v = values[k]!.slice();
        addMaskInto(v, out.mask, 1, 97n);
        return v;
      });
      const set = aggregation.fixSurvivors();
      for (const id of u) {
        const a = PARTICIPANTS.get(id)!.round2({ queryId, ...set }, aggregation.sharesFor(id), now);
        const tampered = liars.has(id)
          ? {
              ...a,
              selfMaskShares: a.selfMaskShares.map((s) =>
                s.of === u[0] ? { ...s, y: (s.y + 1n + randomFieldElement()) % FIELD_PRIME } : s,
              ),
            }
          : a;
        aggregation.acceptRound2(id, tampered);
      }
      if (7 - corrupt >= 5) {
        const total = new BigUint64Array(2);
        for (const v of masked) addMaskInto(total, v, 1, 97n);
        addMaskInto(total, aggregation.finalize(), -1, 97n);
        const expected = values.reduce((acc, v) => [(acc[0]! + v[0]!) % 97n, (acc[1]! + v[1]!) % 97n], [0n, 0n]);
        expect([...total]).toEqual(expected);
      } else {
        expect(() => aggregation.finalize()).toThrow(`shares of ${u[0]!}'s self-mask do not match its commitment`);
      }
    }
  });

  it('refuses round-2 answers that reveal shares or seeds outside the neighbourhood', () => {
    const u = LARGE_POOL.slice(0, 20);
    const { queryId, now, expiresAt } = nextQuery();
    const graph = { degree: 4, shareThreshold: 4 };
    const q = { queryId, participants: u, threshold: defaultThreshold(20), length: 1, modulus: 97n, expiresAt, graph };
    const g = neighbourhoods({ federationId: FEDERATION, queryId, participants: u, degree: 4 });
    const aggregation = new SecAggAggregation({ federationId: FEDERATION, ...q, agreementKeys: PUBLIC_KEYS });
    const stranger = u.find((_, k) => k !== 0 && !g.neighbours(0).includes(k))!;
    for (const id of u) {
      const out = PARTICIPANTS.get(id)!.round1(q, now);
      if (id !== stranger) aggregation.acceptRound1(id, out);
    }
    const set = aggregation.fixSurvivors();
    const a = PARTICIPANTS.get(u[0]!)!.round2({ queryId, ...set }, aggregation.sharesFor(u[0]!), now);
    expect(a.pairwiseSeeds).toEqual([]); // the dropped stranger is no neighbour of u[0]
    const other = u.find((id, k) => id !== stranger && k !== 0 && !g.neighbours(0).includes(k))!;
    expect(() =>
      aggregation.acceptRound2(u[0]!, {
        ...a,
        selfMaskShares: [...a.selfMaskShares, { of: other, x: 1, y: 5n }],
      }),
    ).toThrow(`reveals a share of ${other}, which is not its neighbour`);
    expect(() =>
      aggregation.acceptRound2(u[0]!, { ...a, pairwiseSeeds: [{ with: stranger, seed: new Uint8Array(32) }] }),
    ).toThrow(`reveals a pairwise seed with ${stranger}, which is not its neighbour`);
  });

  it('refuses an unsafe share threshold and a malformed degree', () => {
    const u = LARGE_POOL.slice(0, 20);
    const { queryId, now, expiresAt } = nextQuery();
    const base = { queryId, participants: u, threshold: defaultThreshold(20), length: 1, modulus: 97n, expiresAt };
    const p = PARTICIPANTS.get(u[0]!)!;
    const code = (graph: SparseGraph): string => {
      try {
        p.round1({ ...base, graph }, now);
        return 'accepted';
      } catch (e) {
        return isFedstatError(e) ? e.code : 'other';
      }
    };
    expect(code({ degree: 6, shareThreshold: 4 })).toBe('POLICY_REFUSED'); // below ⌊8/2⌋ + 1 = 5
    expect(code({ degree: 6, shareThreshold: 8 })).toBe('POLICY_REFUSED');
    expect(code({ degree: 5, shareThreshold: 4 })).toBe('BAD_MESSAGE');
    expect(code({ degree: 20, shareThreshold: 12 })).toBe('BAD_MESSAGE');
    expect(p.openQueries).toBe(0);
  });

  it('an agency refuses round 2 when fewer than t of its share holders survive (equivocation guard)', () => {
    const u = LARGE_POOL.slice(0, 20);
    const { queryId, now, expiresAt } = nextQuery();
    const graph = { degree: 4, shareThreshold: 4 };
    const q = { queryId, participants: u, threshold: defaultThreshold(20), length: 1, modulus: 97n, expiresAt, graph };
    const g = neighbourhoods({ federationId: FEDERATION, queryId, participants: u, degree: 4 });
    const p = PARTICIPANTS.get(u[0]!)!;
    p.round1(q, now);
    const gone = g
      .neighbours(0)
      .slice(0, 2)
      .map((k) => u[k]!);
    const set = { queryId, survivors: u.filter((id) => !gone.includes(id)), dropped: gone };
    expect(() => p.round2(set, [], now)).toThrow('3 of its share holders survive, fewer than the threshold 4');
  });
});
