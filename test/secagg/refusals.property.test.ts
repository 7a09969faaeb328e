import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { minimumThreshold } from '../../src/secagg/params.js';
import type { Round2Output } from '../../src/secagg/participant.js';
import { PARTICIPANTS, POOL, startQuery } from './harness.js';

type Role = 'S' | 'D' | 'both' | 'neither';

/** A proposal of a (possibly malicious) coordinator: the lists it sends, and whether they are acceptable. */
interface Proposal {
  readonly survivors: string[];
  readonly dropped: string[];
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

/** The agencies whose input the coordinator could unmask from what the answers revealed. */
function unmaskable(
  participants: readonly string[],
  threshold: number,
  answers: ReadonlyMap<string, Round2Output>,
): string[] {
  const shares = new Map<string, number>();
  const pairs = new Set<string>();
  for (const [k, a] of answers) {
    for (const s of a.selfMaskShares) shares.set(s.of, (shares.get(s.of) ?? 0) + 1);
    for (const s of a.pairwiseSeeds) pairs.add(pairKey(k, s.with));
  }
  return participants.filter(
    (j) => (shares.get(j) ?? 0) >= threshold && participants.every((k) => k === j || pairs.has(pairKey(j, k))),
  );
}

/** The refusal a participant must give (independent restatement of the rules), or null. */
function expectedRefusal(p: Proposal, self: string, participants: readonly string[], threshold: number): string | null {
  const s = new Set(p.survivors);
  const d = new Set(p.dropped);
  if (s.size !== p.survivors.length || d.size !== p.dropped.length) return 'twice';
  if ([...s].some((id) => d.has(id))) return 'both as survivor and as dropped';
  if (!s.has(self)) return 'not in the survivor set';
  if ([...s, ...d].some((id) => !participants.includes(id))) return 'not a participant';
  if (participants.some((id) => !s.has(id) && !d.has(id))) return 'neither survivor nor dropped';
  if (s.size < threshold) return 'fewer than the threshold';
  return null;
}

/** A valid set for `self`: a random set of others dropped, but at least `threshold` survivors. */
const validProposalArb = (participants: readonly string[], self: string, threshold: number): fc.Arbitrary<Proposal> =>
  fc.array(fc.noBias(fc.boolean()), { minLength: participants.length, maxLength: participants.length }).map((bits) => {
    const dropped = participants.filter((id, k) => id !== self && bits[k]);
    while (participants.length - dropped.length < threshold) dropped.pop();
    return { survivors: participants.filter((id) => !dropped.includes(id)), dropped };
  });

const proposalArb = (participants: readonly string[]): fc.Arbitrary<Proposal> =>
  fc
    .record({
      roles: fc.array(fc.constantFrom<Role>('S', 'S', 'S', 'D', 'D', 'both', 'neither'), {
        minLength: participants.length,
        maxLength: participants.length,
      }),
      stranger: fc.constantFrom<null | 'S' | 'D'>(null, null, null, 'S', 'D'),
      duplicate: fc.constantFrom(false, false, false, true),
    })
    .map(({ roles, stranger, duplicate }) => {
      const survivors = participants.filter((_, k) => roles[k] === 'S' || roles[k] === 'both');
      const dropped = participants.filter((_, k) => roles[k] === 'D' || roles[k] === 'both');
      if (stranger === 'S') survivors.push('zz-not-in-query');
      if (stranger === 'D') dropped.push('zz-not-in-query');
      if (duplicate && survivors.length > 0) survivors.push(survivors[0]!);
      return { survivors, dropped };
    });

describe('round-2 refusals against an adversarial coordinator', () => {
  it('accepts exactly the valid sets, one set per query, and reveals only what that set allows', () => {
    let accepted = 0;
    let refused = 0;
    let retried = 0;
    fc.assert(
      fc.property(
        fc
          .integer({ min: 3, max: 8 })
          .chain((n) =>
            fc.record({
              participants: fc.shuffledSubarray([...POOL], { minLength: n, maxLength: n }).map((ids) => ids.sort()),
              threshold: fc.integer({ min: minimumThreshold(n), max: n }),
              target: fc.nat(n - 1),
              moves: fc.array(fc.tuple(fc.boolean(), fc.nat()), { minLength: 1, maxLength: 5 }),
            }),
          )
          .chain((r) =>
            fc.tuple(
              fc.constant(r),
              fc.array(
                fc.oneof(
                  validProposalArb(r.participants, r.participants[r.target]!, r.threshold),
                  proposalArb(r.participants),
                ),
                { minLength: 5, maxLength: 5 },
              ),
            ),
          ),
        ([{ participants, threshold, target, moves }, proposals]) => {
          const q = startQuery(participants, threshold);
          const self = participants[target]!;
          const participant = PARTICIPANTS.get(self)!;
          let first: { key: string; proposal: Proposal; answer: Round2Output } | undefined;
          moves.forEach(([repeatFirst, pick], m) => {
            // Sometimes re-send the set that was accepted (an idempotent retry), otherwise a new proposal.
            const p = repeatFirst && first !== undefined ? first.proposal : proposals[(pick + m) % proposals.length]!;
            const refusal = expectedRefusal(p, self, participants, threshold);
            const key = JSON.stringify({ survivors: [...p.survivors].sort(), dropped: [...p.dropped].sort() });
            const call = (): Round2Output => participant.round2({ queryId: q.queryId, ...p }, q.sealedTo(self), q.now);
            if (refusal !== null || (first !== undefined && first.key !== key)) {
              let error: unknown;
              try {
                call();
              } catch (e) {
                error = e;
              }
              expect(error).toBeInstanceOf(FedstatError);
              expect((error as FedstatError).code).toBe('POLICY_REFUSED');
              expect((error as FedstatError).message).toContain(refusal ?? 'different survivor set');
              refused++;
              return;
            }
            const answer = call();
            // Shares of exactly the survivors (every box was passed, the dropped ones' too), seeds with exactly the dropped.
            expect(answer.selfMaskShares.map((s) => s.of)).toEqual(
              participants.filter((id) => p.survivors.includes(id)),
            );
            expect(answer.pairwiseSeeds.map((s) => s.with)).toEqual(
              participants.filter((id) => p.dropped.includes(id)),
            );
            expect(answer.selfMaskShares.every((s) => s.x === target + 1)).toBe(true);
            if (first === undefined) {
              first = { key, proposal: p, answer };
              accepted++;
            } else {
              expect(answer).toEqual(first.answer);
              retried++;
            }
          });
        },
      ),
      { numRuns: 150 },
    );
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(100);
    expect(retried).toBeGreaterThan(5);
  });

  it('never lets an equivocating coordinator unmask an agency (random set per agency, all thresholds allowed)', () => {
    let withDropped = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }).chain((n) =>
          fc.record({
            participants: fc.shuffledSubarray([...POOL], { minLength: n, maxLength: n }).map((ids) => ids.sort()),
            threshold: fc.integer({ min: minimumThreshold(n), max: n }),
            // For each agency, a random subset of the others to call dropped, and a second attempt.
            droppedBits: fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), {
              minLength: 2 * n,
              maxLength: 2 * n,
            }),
          }),
        ),
        ({ participants, threshold, droppedBits }) => {
          const q = startQuery(participants, threshold);
          const answers = new Map<string, Round2Output>();
          droppedBits.forEach((bits, attempt) => {
            const self = participants[attempt % participants.length]!;
            const dropped = participants.filter((id, k) => id !== self && bits[k]);
            const survivors = participants.filter((id) => !dropped.includes(id));
            try {
              const answer = PARTICIPANTS.get(self)!.round2(
                { queryId: q.queryId, survivors, dropped },
                q.sealedTo(self),
                q.now,
              );
              if (answers.has(self)) expect(answer).toEqual(answers.get(self));
              answers.set(self, answer);
              if (dropped.length > 0) withDropped++;
            } catch (e) {
              expect((e as FedstatError).code).toBe('POLICY_REFUSED');
            }
          });
          expect(unmaskable(participants, threshold, answers)).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
    expect(withDropped).toBeGreaterThan(50);
  });
});

describe('the minimum threshold', () => {
  /** Whether some assignment of one valid survivor set per agency unmasks agency 0 (sets only, no crypto). */
  function equivocationAttackExists(n: number, t: number): boolean {
    const all = (1 << n) - 1;
    const options: number[][] = Array.from({ length: n }, (_, k) => {
      const sets: number[] = [];
      for (let s = 0; s <= all; s++) if (s & (1 << k) && popcount(s) >= t) sets.push(s);
      return sets;
    });
    const choice = new Array<number>(n).fill(0);
    for (;;) {
      const sets = choice.map((c, k) => options[k]![c]!);
      const shares = sets.filter((s) => s & 1).length; // agencies told "0 survived"
      const seeds = Array.from({ length: n }, (_, k) => k === 0 || !(sets[k]! & 1) || !(sets[0]! & (1 << k))).every(
        Boolean,
      );
      if (shares >= t && seeds) return true;
      let k = 0;
      while (k < n && ++choice[k]! === options[k]!.length) choice[k++] = 0;
      if (k === n) return false;
    }
  }
  const popcount = (x: number): number => x.toString(2).split('1').length - 1;

  it('is exactly the smallest threshold no equivocation can break (exhaustive for n ≤ 5)', () => {
    for (let n = 2; n <= 5; n++) {
      const safe = Array.from({ length: n }, (_, i) => i + 1).filter((t) => !equivocationAttackExists(n, t));
      expect(safe[0]).toBe(minimumThreshold(n));
      expect(safe).toEqual(Array.from({ length: n - minimumThreshold(n) + 1 }, (_, i) => minimumThreshold(n) + i));
    }
  });

  it('refuses the plain majority for n = 3, under which the cyclic attack unmasks everyone', () => {
    const [j, k2, k3] = POOL.slice(0, 3) as [string, string, string];
    // With t = 2 each of these sets would be valid, and together they reveal everything.
    const cyclic = new Map<string, Round2Output>([
      [
        j,
        {
          selfMaskShares: [
            { of: j, x: 1, y: 0n },
            { of: k3, x: 1, y: 0n },
          ],
          pairwiseSeeds: [{ with: k2, seed: new Uint8Array(32) }],
        },
      ],
      [
        k2,
        {
          selfMaskShares: [
            { of: j, x: 2, y: 0n },
            { of: k2, x: 2, y: 0n },
          ],
          pairwiseSeeds: [{ with: k3, seed: new Uint8Array(32) }],
        },
      ],
      [
        k3,
        {
          selfMaskShares: [
            { of: k2, x: 3, y: 0n },
            { of: k3, x: 3, y: 0n },
          ],
          pairwiseSeeds: [{ with: j, seed: new Uint8Array(32) }],
        },
      ],
    ]);
    expect(unmaskable([j, k2, k3], 2, cyclic)).toEqual([j, k2, k3]);
    expect(minimumThreshold(3)).toBe(3);
    expect(() => startQuery([j, k2, k3], 2)).toThrow(/threshold 2 is outside 3\.\.3/);
  });
});
