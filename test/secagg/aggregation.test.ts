import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecAggAggregation, type Round1Material, type Round2Answer } from '../../src/secagg/aggregation.js';
import { addMaskInto } from '../../src/secagg/masks.js';
import { SecAggParticipant } from '../../src/secagg/participant.js';
import { FIELD_PRIME, randomFieldElement } from '../../src/secagg/shamir.js';
import { FEDERATION, PARTICIPANTS, POOL, PUBLIC_KEYS, nextQuery, secretOf } from './harness.js';
import { fedstatErrorOf as failure } from '../helpers/fedstat-error.js';

const U = POOL.slice(0, 6);
const T = 4;

/** A query with round 1 done by `answering` (their masks kept), the aggregation not yet fixed. */
function setup(answering: readonly string[] = U, participants: ReadonlyMap<string, SecAggParticipant> = PARTICIPANTS) {
  const { queryId, now, expiresAt } = nextQuery();
  const aggregation = new SecAggAggregation({
    federationId: FEDERATION,
    queryId,
    participants: U,
    threshold: T,
    length: 3,
    modulus: 97n,
    agreementKeys: PUBLIC_KEYS,
  });
  const material = new Map(
    answering.map((id) => [
      id,
      participants.get(id)!.round1({ queryId, participants: U, threshold: T, length: 3, modulus: 97n, expiresAt }, now),
    ]),
  );
  for (const [id, m] of material) aggregation.acceptRound1(id, m);
  const answer = (id: string): Round2Answer => {
    const set = aggregation.fixSurvivors();
    return participants.get(id)!.round2({ queryId, ...set }, aggregation.sharesFor(id), now);
  };
  return { queryId, now, aggregation, material, answer };
}

describe('round 1 at the coordinator', () => {
  it('refuses malformed, misaddressed, repeated and late material', () => {
    const { aggregation, material } = setup(U.slice(0, 5));
    const m = material.get(U[0]!)!;
    const fresh = setup(U.slice(0, 0));
    const other = fresh.aggregation;
    const cases: [string, Round1Material, RegExp][] = [
      ['stranger', m, /not a participant/],
      [U[1]!, m, /share 0 must go from/],
      [U[0]!, { ...m, shares: m.shares.slice(1) }, /one sealed share for each/],
      [U[0]!, { ...m, shares: [m.shares[1]!, m.shares[0]!, ...m.shares.slice(2)] }, /share 0 must go from .* to/],
      [
        U[0]!,
        { ...m, shares: m.shares.map((s, k) => (k === 2 ? { ...s, box: s.box.subarray(1) } : s)) },
        /share 2 has a malformed box/,
      ],
      [
        U[0]!,
        { ...m, shares: m.shares.map((s, k) => (k === 2 ? { ...s, nonce: new Uint8Array(12) } : s)) },
        /share 2 has a malformed nonce/,
      ],
      [U[0]!, { ...m, commitment: new Uint8Array(31) }, /commitment must have 32 bytes/],
      [U[0]!, { ...m, pairwiseCommitments: m.pairwiseCommitments.slice(1) }, /pairwise commitments/],
      [U[0]!, null as unknown as Round1Material, /one sealed share/],
    ];
    for (const [agency, bad, message] of cases) {
      const e = failure(() => other.acceptRound1(agency, bad));
      expect([e.code, e.message]).toEqual(['BAD_MESSAGE', expect.stringMatching(message)]);
    }
    expect(failure(() => aggregation.acceptRound1(U[0]!, m)).code).toBe('REPLAY');
    aggregation.fixSurvivors();
    expect(failure(() => aggregation.acceptRound1(U[5]!, m)).code).toBe('POLICY_REFUSED');
  });

  it('refuses garbage of any shape with a FedstatError, never anything else', () => {
    const { aggregation } = setup([]);
    fc.assert(
      fc.property(fc.constantFrom(...U, 'x'), fc.anything(), (agency, junk) => {
        expect(failure(() => aggregation.acceptRound1(agency, junk as Round1Material)).code).toBe('BAD_MESSAGE');
      }),
      { numRuns: 300 },
    );
  });

  it('aborts with UNAVAILABLE and a retry hint when fewer than the threshold answered', () => {
    const { aggregation } = setup(U.slice(0, T - 1));
    const e = failure(() => aggregation.fixSurvivors());
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(/only 3 of 6 agencies answered round 1, fewer than the threshold 4 .*retry/);
  });

  it('catches two survivors whose pairwise seeds differ (a stale agreement key) before anything is revealed', () => {
    const stale = new Map(PUBLIC_KEYS);
    stale.set(
      U[3]!,
      new Uint8Array(randomBytes(32)).map((b, i) => (i === 0 ? b | 8 : b)),
    ); // U[0] has a wrong key for U[3]
    const confused = new Map(PARTICIPANTS);
    confused.set(
      U[0]!,
      new SecAggParticipant({
        federationId: FEDERATION,
        self: U[0]!,
        agreementSecret: secretOf(U[0]!),
        peerKeys: stale,
      }),
    );
    const { aggregation } = setup(U, confused);
    const e = failure(() => aggregation.fixSurvivors());
    expect(e.code).toBe('BAD_MESSAGE');
    expect(e.message).toContain(`agencies ${U[0]!} and ${U[3]!} derived different pairwise masks`);
  });
});

describe('round 2 at the coordinator', () => {
  it("hands each survivor the survivors' shares addressed to it, and nothing to the dropped", () => {
    const { aggregation } = setup(U.slice(0, 5));
    const { survivors, dropped } = aggregation.fixSurvivors();
    expect([survivors, dropped]).toEqual([U.slice(0, 5), [U[5]!]]);
    expect(aggregation.sharesFor(U[2]!).map((s) => [s.from, s.to])).toEqual(survivors.map((id) => [id, U[2]!]));
    expect(failure(() => aggregation.sharesFor(U[5]!)).code).toBe('POLICY_REFUSED');
  });

  it('refuses answers that reveal what they must not, or miss what they must', () => {
    const { aggregation, answer } = setup(U.slice(0, 5));
    const good = answer(U[1]!);
    const seed = good.pairwiseSeeds[0]!;
    const share = good.selfMaskShares[0]!;
    const cases: [string, Round2Answer, RegExp][] = [
      [
        U[1]!,
        { ...good, selfMaskShares: [...good.selfMaskShares, { of: U[5]!, x: 2, y: 1n }] },
        /share of an agency that is not a survivor/,
      ],
      [U[1]!, { ...good, selfMaskShares: [{ ...share, x: 3 }] }, /own x-coordinate 2/],
      [U[1]!, { ...good, selfMaskShares: [{ ...share, y: FIELD_PRIME }] }, /not a field element/],
      [U[1]!, { ...good, selfMaskShares: [share, share] }, /two shares/],
      [U[1]!, { ...good, pairwiseSeeds: [] }, /all 1 dropped/],
      [U[1]!, { ...good, pairwiseSeeds: [{ with: U[2]!, seed: seed.seed }] }, /not dropped/],
      [
        U[1]!,
        { ...good, pairwiseSeeds: [{ ...seed, seed: seed.seed.map((b, i) => (i === 0 ? b ^ 1 : b)) }] },
        /does not match its round-1 commitment/,
      ],
      [U[2]!, { selfMaskShares: [], pairwiseSeeds: good.pairwiseSeeds }, /does not match its round-1 commitment/], // U[1]'s seed as U[2]'s
      [U[5]!, good, /not a survivor/],
    ];
    for (const [agency, bad, message] of cases) {
      const e = failure(() => aggregation.acceptRound2(agency, bad));
      expect([e.code, e.message]).toEqual(['BAD_MESSAGE', expect.stringMatching(message)]);
    }
    aggregation.acceptRound2(U[1]!, good);
    expect(failure(() => aggregation.acceptRound2(U[1]!, good)).code).toBe('REPLAY');
  });

  it('recovers b from surplus shares when some are corrupted, and refuses when no threshold-subset matches', () => {
    for (const corrupt of [1, 2, 3]) {
      const { aggregation, answer, material } = setup(U);
      const values = U.map((_, k) => BigUint64Array.from([BigInt(k), 5n, 96n]));
      const masked = U.map((id, k) => {
        const v = values[k]!.slice();
        addMaskInto(v, material.get(id)!.mask, 1, 97n);
        return v;
      });
      U.forEach((id, k) => {
        const a = answer(id);
        // The first `corrupt` answering agencies lie about their share of U[0]'s b (random errors:
        // equal ones can cancel in some subset, which then rightly reconstructs the true b).
        const lie =
          k < corrupt
            ? {
                ...a,
                selfMaskShares: a.selfMaskShares.map((s) =>
                  s.of === U[0] ? { ...s, y: (s.y + randomFieldElement()) % FIELD_PRIME } : s,
                ),
              }
            : a;
        aggregation.acceptRound2(id, lie);
      });
      if (U.length - corrupt >= T) {
        const total = new BigUint64Array(3);
        for (const v of masked) addMaskInto(total, v, 1, 97n);
        addMaskInto(total, aggregation.finalize(), -1, 97n);
        expect([...total]).toEqual([15n, 30n % 97n, (6n * 96n) % 97n]);
        expect([...aggregation.finalize()]).toEqual([...aggregation.finalize()]);
      } else {
        // 6 shares, t = 4, 3 wrong: every 4-subset holds a wrong share, none matches the commitment.
        const e = failure(() => aggregation.finalize());
        expect([e.code, e.message]).toEqual([
          'BAD_MESSAGE',
          expect.stringContaining(`shares of ${U[0]!}'s self-mask do not match its commitment`),
        ]);
      }
    }
  });

  it('reports everything missing in one UNAVAILABLE message', () => {
    const { aggregation, answer } = setup(U.slice(0, 5));
    for (const id of U.slice(0, 1)) aggregation.acceptRound2(id, answer(id));
    const e = failure(() => aggregation.finalize());
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toContain(`only 1 of the 4 shares needed for ${U[0]!}'s self-mask arrived`);
    expect(e.message).toContain(
      `survivors ${U.slice(1, 5).join(', ')} did not reveal their pairwise seeds with the dropped ${U[5]!}`,
    );
    expect(e.message).toMatch(/retry the query$/);
    expect(aggregation.missingRound2()).toEqual(U.slice(1, 5));
  });
});
