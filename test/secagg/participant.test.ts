import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { x25519PublicKey } from '../../src/crypto/x25519.js';
import { FedstatError } from '../../src/errors.js';
import { addMaskInto, expandMask, selfMaskCommitment, selfMaskSeed } from '../../src/secagg/masks.js';
import { SecAggParticipant, type Round1Query } from '../../src/secagg/participant.js';
import { openShare } from '../../src/secagg/sealed-share.js';
import { combineShares } from '../../src/secagg/shamir.js';
import { FEDERATION, PARTICIPANTS, POOL, PUBLIC_KEYS, nextQuery, secretOf, startQuery } from './harness.js';
import { fedstatErrorOf as failure } from '../helpers/fedstat-error.js';

const U = POOL.slice(0, 5);
const freshParticipant = (self: string, capacity?: number): SecAggParticipant =>
  new SecAggParticipant({
    federationId: FEDERATION,
    self,
    agreementSecret: secretOf(self),
    peerKeys: PUBLIC_KEYS,
    ...(capacity === undefined ? {} : { capacity }),
  });

describe('round 1', () => {
  it('masks with the self-mask plus pairwise masks that cancel across all participants', () => {
    const q = startQuery(U, 4);
    const total = new BigUint64Array(2);
    for (const id of U) addMaskInto(total, q.round1.get(id)!.mask, 1, 97n);
    // Reconstruct every b_i the long way (each recipient opens its own box) and remove the self-masks.
    for (const [i, id] of U.entries()) {
      const shares = U.map((to, k) =>
        openShare(
          q.sealedTo(to)[i]!,
          { federationId: FEDERATION, queryId: q.queryId, expiresAt: q.expiresAt, from: id, to, x: k + 1 },
          secretOf(to),
          PUBLIC_KEYS.get(id)!,
        ),
      );
      const b = combineShares(shares.slice(1), 4);
      expect(combineShares(shares.slice(0, 4), 4)).toBe(b);
      expect(Buffer.from(selfMaskCommitment(b, { federationId: FEDERATION, queryId: q.queryId, party: id }))).toEqual(
        Buffer.from(q.round1.get(id)!.commitment),
      );
      addMaskInto(
        total,
        expandMask(selfMaskSeed(b, { federationId: FEDERATION, queryId: q.queryId, party: id }), 2, 97n),
        -1,
        97n,
      );
    }
    expect([...total]).toEqual([0n, 0n]);
  });

  it('sends one share per participant in order, from itself, and n − 1 pairwise commitments', () => {
    const q = startQuery(U, 5);
    for (const id of U) {
      const r = q.round1.get(id)!;
      expect(r.shares.map((s) => [s.from, s.to])).toEqual(U.map((to) => [id, to]));
      expect(r.commitment.length).toBe(32);
      expect(r.pairwiseCommitments.map((c) => c.length)).toEqual([32, 32, 32, 32]);
    }
    // Both sides of every pair commit to the same seed.
    const [a, b] = [U[0]!, U[3]!];
    expect(Buffer.from(q.round1.get(a)!.pairwiseCommitments[2]!)).toEqual(
      Buffer.from(q.round1.get(b)!.pairwiseCommitments[0]!),
    );
  });

  it('refuses bad queries with the right code', () => {
    const p = freshParticipant(U[0]!);
    const { queryId, now, expiresAt } = nextQuery();
    const q: Round1Query = { queryId, participants: U, threshold: 4, length: 4, modulus: 97n, expiresAt };
    expect(failure(() => p.round1({ ...q, participants: POOL.slice(1, 6) }, now)).message).toMatch(
      /not among the query's participants/,
    );
    expect(failure(() => p.round1({ ...q, participants: [...U, 'zzz-unknown'] }, now)).message).toMatch(
      /zzz-unknown is not an agency/,
    );
    expect(failure(() => p.round1({ ...q, threshold: 3 }, now)).code).toBe('POLICY_REFUSED');
    expect(failure(() => p.round1({ ...q, participants: [...U].reverse() }, now)).code).toBe('BAD_MESSAGE');
    expect(failure(() => p.round1({ ...q, length: 0 }, now)).code).toBe('BAD_MESSAGE');
    expect(failure(() => p.round1({ ...q, modulus: 100n }, now)).code).toBe('BAD_MESSAGE');
    expect(failure(() => p.round1({ ...q, expiresAt: now }, now)).code).toBe('REPLAY');
    expect(failure(() => p.round1({ ...q, expiresAt: Number.NaN }, now)).code).toBe('BAD_MESSAGE');
    expect(p.openQueries).toBe(0); // refusals leave no state
    p.round1(q, now);
    expect(failure(() => p.round1(q, now + 1)).code).toBe('REPLAY');
  });

  it('forgets a query when it expires; a replay is refused as expired, a re-issued id gets fresh masks', () => {
    const p = freshParticipant(U[1]!);
    const { queryId, now, expiresAt } = nextQuery();
    const q: Round1Query = { queryId, participants: U, threshold: 4, length: 4, modulus: 97n, expiresAt };
    const first = p.round1(q, now);
    expect(p.openQueries).toBe(1);
    expect(failure(() => p.round1(q, expiresAt)).code).toBe('REPLAY');
    expect(p.openQueries).toBe(0);
    const again = p.round1({ ...q, expiresAt: expiresAt + 10_000 }, expiresAt + 1);
    expect(again.pairwiseCommitments.map((c) => Buffer.from(c).toString('hex'))).not.toEqual(
      first.pairwiseCommitments.map((c) => Buffer.from(c).toString('hex')),
    );
    expect(failure(() => p.round2({ queryId, survivors: U, dropped: [] }, [], expiresAt + 10_000)).message).toMatch(
      /no round 1/,
    );
  });

  it('refuses new queries beyond its capacity with UNAVAILABLE', () => {
    const p = freshParticipant(U[2]!, 2);
    const { now } = nextQuery();
    const q = (queryId: string, expiresAt = now + 1000): Round1Query => ({
      queryId,
      participants: U,
      threshold: 4,
      length: 1,
      modulus: 97n,
      expiresAt,
    });
    p.round1(q('cap-1'), now);
    p.round1(q('cap-2'), now);
    expect(failure(() => p.round1(q('cap-3'), now)).code).toBe('UNAVAILABLE');
    p.round1(q('cap-3', now + 5000), now + 1000); // the first two have expired: room again
    expect(p.openQueries).toBe(1);
  });

  it('refuses an agreement secret that does not match the federation file', () => {
    expect(
      failure(
        () =>
          new SecAggParticipant({
            federationId: FEDERATION,
            self: U[0]!,
            agreementSecret: new Uint8Array(randomBytes(32)),
            peerKeys: PUBLIC_KEYS,
          }),
      ).code,
    ).toBe('KEY_INVALID');
    const own = new Uint8Array(randomBytes(32));
    expect(
      () =>
        new SecAggParticipant({
          federationId: FEDERATION,
          self: 'new',
          agreementSecret: own,
          peerKeys: new Map([['new', x25519PublicKey(own)]]),
        }),
    ).not.toThrow();
  });
});

describe('round 2', () => {
  const survivors = U.slice(0, 4);
  const dropped = U.slice(4);

  it('refuses every set that would reveal both secrets of one agency or does not partition the query', () => {
    const q = startQuery(U, 4);
    const p = PARTICIPANTS.get(U[0]!)!;
    const cases: [string[], string[], RegExp][] = [
      [U, [U[4]!], /both as survivor and as dropped/],
      [U.slice(0, 4), [], /neither survivor nor dropped/],
      [U.slice(1), [U[0]!], /not in the survivor set/],
      [U.slice(0, 3), U.slice(3), /fewer than the threshold 4/],
      [[...U.slice(0, 4), 'zzz'], [U[4]!], /zzz is not a participant/],
      [[...U, U[0]!], [], /names an agency twice/],
    ];
    for (const [s, d, message] of cases) {
      const e = failure(() => p.round2({ queryId: q.queryId, survivors: s, dropped: d }, q.sealedTo(U[0]!), q.now));
      expect([e.code, e.message]).toEqual(['POLICY_REFUSED', expect.stringMatching(message)]);
    }
    expect(failure(() => p.round2({ queryId: 'never-seen', survivors, dropped }, [], q.now)).message).toMatch(
      /no round 1/,
    );
  });

  it('answers the identical set identically and refuses any other set afterwards', () => {
    const q = startQuery(U, 4);
    const p = PARTICIPANTS.get(U[1]!)!;
    const first = p.round2({ queryId: q.queryId, survivors, dropped }, q.sealedTo(U[1]!), q.now);
    expect(first.selfMaskShares.map((s) => s.of)).toEqual(survivors);
    expect(first.pairwiseSeeds.map((s) => s.with)).toEqual(dropped);
    // Same set in another order, even without the boxes: the same answer.
    expect(p.round2({ queryId: q.queryId, survivors: [...survivors].reverse(), dropped }, [], q.now)).toEqual(first);
    // Moving the dropped agency into the survivors would reveal its b-share after its seed.
    expect(
      failure(() => p.round2({ queryId: q.queryId, survivors: U, dropped: [] }, q.sealedTo(U[1]!), q.now)).message,
    ).toMatch(/already answered a different survivor set/);
    expect(
      failure(() =>
        p.round2(
          { queryId: q.queryId, survivors: [U[0]!, U[1]!, U[2]!, U[4]!], dropped: [U[3]!] },
          q.sealedTo(U[1]!),
          q.now,
        ),
      ).code,
    ).toBe('POLICY_REFUSED');
  });

  it('ignores the share of a dropped agency, shares to others and repeats, and omits shares that fail to open', () => {
    const q = startQuery(U, 4);
    const self = U[2]!;
    const sealed = q.sealedTo(self);
    const tampered = { ...sealed[1]!, box: Uint8Array.from(sealed[1]!.box, (b, i) => (i === 0 ? b ^ 1 : b)) };
    const extra = [tampered, ...sealed.slice(2), sealed[0]!, sealed[0]!, q.sealedTo(U[0]!)[3]!, sealed[4]!];
    const answer = PARTICIPANTS.get(self)!.round2({ queryId: q.queryId, survivors, dropped }, extra, q.now);
    // U[1]'s share was tampered (omitted), U[4] is dropped (ignored though its box was passed).
    expect(answer.selfMaskShares.map((s) => s.of)).toEqual([U[0]!, U[2]!, U[3]!]);
    expect(answer.pairwiseSeeds.map((s) => s.with)).toEqual([U[4]!]);
    expect(
      failure(() => PARTICIPANTS.get(U[3]!)!.round2({ queryId: q.queryId, survivors, dropped }, 'nope' as never, q.now))
        .code,
    ).toBe('BAD_MESSAGE');
  });

  it('refuses round 2 once the query expired', () => {
    const q = startQuery(U, 4);
    expect(
      failure(() =>
        PARTICIPANTS.get(U[0]!)!.round2({ queryId: q.queryId, survivors, dropped }, q.sealedTo(U[0]!), q.expiresAt),
      ).message,
    ).toMatch(/expired/);
  });
});

describe('malformed input from the coordinator', () => {
  it('round 1: a query with any junk field is answered only if valid, else refused with a FedstatError leaving no state', () => {
    const p = freshParticipant(U[3]!);
    const { now, expiresAt } = nextQuery();
    let answered = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('queryId', 'participants', 'threshold', 'length', 'modulus', 'expiresAt'),
        fc.anything(),
        (field, junk) => {
          const good: Record<string, unknown> = {
            queryId: `junk-${answered}`,
            participants: U,
            threshold: 4,
            length: 2,
            modulus: 97n,
            expiresAt,
          };
          const before = p.openQueries;
          try {
            p.round1({ ...good, [field]: junk } as unknown as Round1Query, now);
            answered++;
          } catch (e) {
            expect(e).toBeInstanceOf(FedstatError);
            expect(p.openQueries).toBe(before);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(p.openQueries).toBe(answered); // only junk that happens to be valid (a string query id, a later expiry)
  });

  it('round 2: junk sets are refused and junk boxes ignored, never a crash', () => {
    const q = startQuery(U, 4);
    const p = PARTICIPANTS.get(U[4]!)!;
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (survivors, dropped) => {
        expect(failure(() => p.round2({ queryId: q.queryId, survivors, dropped } as never, [], q.now)).code).toBe(
          'POLICY_REFUSED',
        );
      }),
      { numRuns: 200 },
    );
    const answer = p.round2(
      { queryId: q.queryId, survivors: U, dropped: [] },
      fc.sample(fc.anything(), 200) as never,
      q.now,
    );
    expect(answer).toEqual({ selfMaskShares: [], pairwiseSeeds: [] });
  });
});
