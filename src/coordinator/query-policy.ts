/**
 * The federation policy's decisions about one query, before and after the agencies answer: how
 * it may be released (differentially private or exact), the secure-aggregation threshold, and
 * whether enough agencies contributed. Pure functions of the policy and the counts.
 */
import { MAX_SUPPRESSION_CELLS } from '../disclosure/table.js';
import type { Rational } from '../dp/rational.js';
import { FedstatError } from '../errors.js';
import type { Policy } from '../federation/federation.js';
import type { PlanCells } from '../protocol/cells.js';
import { queryRho } from '../protocol/privacy-terms.js';
import type { AnswerMode } from '../protocol/query-envelope.js';
import { marginsOf, type QueryPlan } from '../query/plan.js';
import { defaultThreshold, minimumThreshold } from '../secagg/participant.js';
import type { FailedAgency } from './gather.js';

/**
 * The query's ρ, or null for an exact release; refuses what the policy or the release's
 * suppression cannot handle, before anyone is asked.
 */
export function releaseRho(
  plan: QueryPlan,
  cells: PlanCells,
  policy: Policy,
  given: Rational | string | undefined,
): Rational | null {
  if (given !== undefined) return queryRho(given);
  if (!policy.exactRelease) {
    throw new FedstatError(
      'POLICY_REFUSED',
      'the federation policy requires differential privacy for every query; give a privacy budget with --rho (e.g. --rho 0.05)',
    );
  }
  if (marginsOf(plan).total && cells.groupCount > MAX_SUPPRESSION_CELLS) {
    throw new FedstatError(
      'PLAN_UNSAFE',
      `an exact ROLLUP/CUBE over ${cells.groupCount} groups is beyond cell suppression's ${MAX_SUPPRESSION_CELLS}; group by smaller columns or release with --rho`,
    );
  }
  return null;
}

/** The query's Shamir threshold: default ⌈2n/3⌉, never below a majority of the agencies asked. */
export function queryThreshold(n: number, requested: number | undefined): number {
  const t = requested ?? defaultThreshold(n);
  const min = minimumThreshold(n);
  if (!Number.isSafeInteger(t) || t < min || t > n) {
    throw new FedstatError(
      'POLICY_REFUSED',
      `threshold ${t} is outside ${min}..${n} for ${n} agencies; below a majority a coordinator could unmask one agency`,
    );
  }
  return t;
}

export interface QuorumInput {
  readonly queryId: string;
  readonly answered: readonly string[];
  readonly failed: readonly FailedAgency[];
  /** Agencies asked (or that should have been). */
  readonly asked: number;
  readonly threshold: number;
  readonly mode: AnswerMode;
  readonly requireAll: boolean;
  /** Why every agency must answer, in messages (default `--require-all`). */
  readonly requireAllReason?: string;
}

/** Throws unless enough agencies contributed for the policy, the threshold and --require-all. */
export function checkQuorum(policy: Policy, q: QuorumInput): void {
  const { queryId, answered, failed, threshold } = q;
  const needed = Math.max(policy.minAgencies, q.mode === 'encrypted' ? threshold : 0);
  if (answered.length >= needed && (!q.requireAll || failed.length === 0)) return;
  const why = failed.map((f) => `${f.id} (${f.reason})`).join('; ');
  const belowThreshold = !q.requireAll && answered.length >= policy.minAgencies;
  const need = q.requireAll
    ? `all agencies serving the dataset (${q.requireAllReason ?? '--require-all'})`
    : belowThreshold
      ? `at least ${threshold} to unmask the sum (the secure-aggregation threshold); retry when more agencies are up`
      : `at least ${policy.minAgencies} (minAgencies)`;
  // With nobody answering, the agencies' own reason (all down, all refusing) is the error's class;
  // too few survivors to unmask is a matter of availability, too few for the policy a refusal.
  const codes = new Set(failed.map((f) => f.code));
  const code =
    answered.length === 0 && codes.size === 1
      ? ([...codes][0] ?? 'UNAVAILABLE')
      : belowThreshold
        ? 'UNAVAILABLE'
        : 'POLICY_REFUSED';
  throw new FedstatError(
    code,
    `query ${queryId}: ${answered.length} of ${q.asked} agencies answered, the policy needs ${need}${why === '' ? '' : `; failed: ${why}`}`,
    { details: { queryId, answered, failed } },
  );
}

export interface PlausibilityInput {
  readonly queryId: string;
  /** Agencies that described themselves as serving the dataset (the ones the query would ask). */
  readonly serving: number;
  /** Agencies allowed to serve the dataset that did not answer Describe. */
  readonly unreachable: readonly FailedAgency[];
  /** Serving agencies predicted to refuse (from the budgets and ledger faults they reported). */
  readonly refusing: readonly FailedAgency[];
  readonly threshold: number;
  readonly mode: AnswerMode;
  readonly requireAll: boolean;
  /** Why every agency must answer, in messages (default `--require-all`). */
  readonly requireAllReason?: string;
}

/**
 * Before round 1: throws unless the query can succeed on what the agencies reported, so that no
 * agency charges its budget for a query the coordinator could have known would fail. A
 * prediction can still be overtaken (an agency goes down, a concurrent query spends its budget);
 * checkQuorum decides after round 1.
 */
export function checkPlausible(policy: Policy, q: PlausibilityInput): void {
  const missing = [...q.unreachable, ...q.refusing];
  const why = missing.map((f) => `${f.id} (${f.reason})`).join('; ');
  const needed = Math.max(policy.minAgencies, q.mode === 'encrypted' ? q.threshold : 0);
  const willAnswer = q.serving - q.refusing.length;
  // As checkQuorum decides after round 1: too few for the threshold alone is a matter of
  // availability (retry when more are up); refusals, minAgencies and --require-all are policy.
  const code = q.refusing.length > 0 || willAnswer < policy.minAgencies ? 'POLICY_REFUSED' : 'UNAVAILABLE';
  if (q.requireAll && missing.length > 0) {
    throw new FedstatError(
      'POLICY_REFUSED',
      `query ${q.queryId} not sent, nothing spent: ${q.requireAllReason ?? '--require-all'}, but ${why}`,
      {
        details: { queryId: q.queryId, failed: missing },
      },
    );
  }
  if (willAnswer < needed) {
    throw new FedstatError(
      code,
      `query ${q.queryId} not sent, nothing spent: ${willAnswer} agencies would answer, the policy needs at least ${needed}${why === '' ? '' : `; ${why}`}`,
      { details: { queryId: q.queryId, failed: missing } },
    );
  }
}
