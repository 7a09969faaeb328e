/**
 * The preflight (checkPlausible): a query is sent only when, on what the agencies reported, it can
 * succeed; its codes match what checkQuorum would decide after round 1, and it agrees with
 * checkQuorum on every input where the prediction comes true.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPlausible, checkQuorum } from '../../src/coordinator/query-policy.js';
import type { FailedAgency } from '../../src/coordinator/gather.js';
import type { Policy } from '../../src/federation/federation.js';
import { FedstatError } from '../../src/errors.js';

const policy = (minAgencies: number): Policy => ({
  minAgencies,
  minGroupSize: 1,
  exactRelease: false,
  transparencyLog: true,
});
const agency = (i: number, reason: string): FailedAgency => ({ id: `a${i}`, code: 'POLICY_REFUSED', reason });
const outcome = (run: () => void): string => {
  try {
    run();
    return 'sent';
  } catch (e) {
    return e instanceof FedstatError ? e.code : 'other';
  }
};

describe('checkPlausible', () => {
  it('sends what can succeed and says why it sends nothing otherwise', () => {
    const base = {
      queryId: 'q',
      serving: 4,
      unreachable: [],
      refusing: [],
      threshold: 3,
      mode: 'encrypted' as const,
      requireAll: false,
    };
    expect(outcome(() => checkPlausible(policy(2), base))).toBe('sent');
    expect(outcome(() => checkPlausible(policy(2), { ...base, refusing: [agency(1, 'budget exhausted')] }))).toBe(
      'sent',
    );
    expect(() =>
      checkPlausible(policy(2), {
        ...base,
        refusing: [agency(1, 'budget exhausted'), agency(2, 'has no privacy budget')],
      }),
    ).toThrow(
      /query q not sent, nothing spent: 2 agencies would answer, the policy needs at least 3; a1 \(budget exhausted\); a2 \(has no privacy budget\)/,
    );
    // The threshold alone: availability; below minAgencies: policy.
    expect(outcome(() => checkPlausible(policy(2), { ...base, serving: 2, threshold: 3 }))).toBe('UNAVAILABLE');
    expect(outcome(() => checkPlausible(policy(3), { ...base, serving: 2, threshold: 2 }))).toBe('POLICY_REFUSED');
    expect(() =>
      checkPlausible(policy(2), {
        ...base,
        requireAll: true,
        unreachable: [{ id: 'a9', code: 'UNAVAILABLE', reason: 'down' }],
      }),
    ).toThrow(/not sent, nothing spent: --require-all, but a9 \(down\)/);
    // Plaintext benchmark mode has no threshold to meet.
    expect(outcome(() => checkPlausible(policy(2), { ...base, serving: 2, threshold: 3, mode: 'plaintext' }))).toBe(
      'sent',
    );
  });

  it('agrees with checkQuorum whenever the prediction comes true (the same agencies answer)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        (serving, refusingN, unreachableN, minAgencies, t, requireAll) => {
          const threshold = Math.min(t, serving); // queryThreshold never asks for more than the agencies asked
          const refusing = Array.from({ length: Math.min(refusingN, serving) }, (_, i) => agency(i, 'refuses'));
          const unreachable = Array.from({ length: unreachableN }, (_, i): FailedAgency => ({
            id: `u${i}`,
            code: 'UNAVAILABLE',
            reason: 'down',
          }));
          const answered = Array.from({ length: serving - refusing.length }, (_, i) => `ok${i}`);
          const before = outcome(() =>
            checkPlausible(policy(minAgencies), {
              queryId: 'q',
              serving,
              unreachable,
              refusing,
              threshold,
              mode: 'encrypted',
              requireAll,
            }),
          );
          const after = outcome(() =>
            checkQuorum(policy(minAgencies), {
              queryId: 'q',
              answered,
              failed: [...unreachable, ...refusing],
              asked: serving + unreachableN,
              threshold,
              mode: 'encrypted',
              requireAll,
            }),
          );
          // Sent exactly when round 1 would then reach its quorum. Refused with the same class of
          // error, except where the preflight knows more: agencies it predicts to refuse make it a
          // policy matter (round 1 would call the shortfall a matter of availability, or report an
          // all-refusing round's own code).
          expect(before === 'sent').toBe(after === 'sent');
          if (before !== 'sent' && refusing.length === 0 && answered.length > 0) expect(before).toBe(after);
          if (before !== 'sent' && refusing.length > 0) expect(before).toBe('POLICY_REFUSED');
        },
      ),
      { numRuns: 500 },
    );
  });
});
