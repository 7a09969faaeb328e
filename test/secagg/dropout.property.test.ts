import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultThreshold, minimumThreshold } from '../../src/secagg/params.js';
import { POOL, PRIMES, plainSum, runQuery, type QueryRun } from './harness.js';

/** n agencies from the pool, a threshold, random values, and random dropouts in both rounds. */
const queryRun: fc.Arbitrary<QueryRun> = fc
  .record({
    n: fc.integer({ min: 3, max: 20 }),
    modulus: fc.constantFrom(...PRIMES),
    length: fc.integer({ min: 1, max: 16 }),
    p1: fc.constantFrom(0, 0.05, 0.1, 0.2, 0.4),
    p2: fc.constantFrom(0, 0, 0, 0.03, 0.15),
    useDefault: fc.boolean(),
  })
  .chain(({ n, modulus, length, p1, p2, useDefault }) =>
    fc
      .record({
        participants: fc.shuffledSubarray([...POOL], { minLength: n, maxLength: n }).map((ids) => ids.sort()),
        threshold: useDefault ? fc.constant(defaultThreshold(n)) : fc.integer({ min: minimumThreshold(n), max: n }),
        modulus: fc.constant(modulus),
        values: fc.array(
          fc.array(fc.bigInt({ min: 0n, max: modulus - 1n }), { minLength: length, maxLength: length }),
          { minLength: n, maxLength: n },
        ),
        // Unbiased coins: fast-check otherwise favours small numbers, i.e. almost everyone dropping.
        coins1: fc.array(fc.noBias(fc.integer({ min: 0, max: 999 })), { minLength: n, maxLength: n }),
        coins2: fc.array(fc.noBias(fc.integer({ min: 0, max: 999 })), { minLength: n, maxLength: n }),
      })
      .map((r) => ({
        participants: r.participants,
        threshold: r.threshold,
        modulus: r.modulus,
        values: new Map(r.participants.map((id, k) => [id, r.values[k]!])),
        dropRound1: new Set(r.participants.filter((_, k) => r.coins1[k]! < p1 * 1000)),
        dropRound2: new Set(r.participants.filter((_, k) => r.coins2[k]! < p2 * 1000)),
      })),
  );

describe('secure aggregation with dropouts', () => {
  it('gives the exact sum over the survivors, or a clear UNAVAILABLE exactly when it cannot (1000 runs)', () => {
    const seen = { sum: 0, unavailable: 0, withDropped: 0, round1Abort: 0, round2Abort: 0 };
    fc.assert(
      fc.property(queryRun, (run) => {
        const outcome = runQuery(run);
        // Independent prediction of whether the protocol can finish.
        const survivors = run.participants.filter((id) => !run.dropRound1.has(id));
        const answered = survivors.filter((id) => !run.dropRound2.has(id));
        const enoughRound1 = survivors.length >= run.threshold;
        const canFinish =
          enoughRound1 &&
          answered.length >= run.threshold &&
          (answered.length === survivors.length || survivors.length === run.participants.length);
        if (outcome.kind === 'sum') {
          expect(canFinish).toBe(true);
          expect(outcome.survivors).toEqual(survivors);
          expect(outcome.sum).toEqual(plainSum(run, survivors));
          seen.sum++;
          if (outcome.dropped.length > 0) seen.withDropped++;
        } else {
          expect(canFinish).toBe(false);
          expect(outcome.message).toMatch(/retry/);
          expect(outcome.message).not.toMatch(/\d{15,}/); // no field elements or masked values in messages
          if (!enoughRound1) {
            expect(outcome.message).toMatch(/fewer than the threshold/);
            seen.round1Abort++;
          } else {
            expect(outcome.message).toMatch(/cannot be unmasked/);
            seen.round2Abort++;
          }
          seen.unavailable++;
        }
      }),
      { numRuns: 1000 },
    );
    // The property must exercise every outcome, not just the easy one.
    expect(seen.sum).toBeGreaterThan(300);
    expect(seen.withDropped).toBeGreaterThan(100);
    expect(seen.round1Abort).toBeGreaterThan(50);
    expect(seen.round2Abort).toBeGreaterThan(30);
  });

  it('survives exactly up to n − t dropouts in round 1 when nobody is lost in round 2', () => {
    const n = 10;
    const participants = POOL.slice(0, n);
    const t = 7;
    for (let dropped = 0; dropped <= n - t + 1; dropped++) {
      const run: QueryRun = {
        participants,
        threshold: t,
        modulus: 2n ** 61n - 1n,
        values: new Map(participants.map((id, k) => [id, [BigInt(k), BigInt(1000 * k)]])),
        dropRound1: new Set(participants.slice(0, dropped)),
        dropRound2: new Set(),
      };
      const outcome = runQuery(run);
      if (dropped <= n - t) {
        expect(outcome.kind).toBe('sum');
        if (outcome.kind === 'sum') expect(outcome.sum).toEqual(plainSum(run, participants.slice(dropped)));
      } else {
        expect(outcome.kind).toBe('unavailable');
      }
    }
  });

  it('finishes without the round-2 answers of some survivors when nobody dropped in round 1', () => {
    const participants = POOL.slice(0, 6);
    const run: QueryRun = {
      participants,
      threshold: 4,
      modulus: 97n,
      values: new Map(participants.map((id, k) => [id, [BigInt((k * 10) % 97)]])),
      dropRound1: new Set(),
      dropRound2: new Set(participants.slice(0, 2)),
    };
    const outcome = runQuery(run);
    expect(outcome).toMatchObject({ kind: 'sum', sum: plainSum(run, participants) });
  });

  it('names the silent survivors when agencies dropped and a survivor is lost in round 2', () => {
    const participants = POOL.slice(0, 6);
    const run: QueryRun = {
      participants,
      threshold: 4,
      modulus: 97n,
      values: new Map(participants.map((id) => [id, [1n]])),
      dropRound1: new Set([participants[0]!]),
      dropRound2: new Set([participants[3]!]),
    };
    const outcome = runQuery(run);
    expect(outcome.kind).toBe('unavailable');
    if (outcome.kind === 'unavailable') {
      expect(outcome.message).toContain(
        `survivors ${participants[3]!} did not reveal their pairwise seeds with the dropped ${participants[0]!}`,
      );
    }
  });
});
