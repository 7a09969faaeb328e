/**
 * The preflight of a query, after Describe and before anything is logged, sent or spent: it
 * refuses a query that cannot succeed — too few agencies would answer (unreachable, or refusing
 * by the budgets and ledger faults they reported), `--require-all` with one of them missing, or
 * an unreachable key authority — so that no agency charges its budget for a query bound to fail.
 * A prediction only: checkQuorum decides after round 1.
 */
import { FedstatError, isFedstatError } from '../errors.js';
import type { Policy } from '../federation/federation.js';
import type { KeyAuthority } from '../key-authority/key-authority.js';
import type { AgencyDescription } from '../protocol/links.js';
import type { PrivacyTerms } from '../protocol/privacy-terms.js';
import type { AnswerMode } from '../protocol/query-envelope.js';
import { withDeadline } from '../util/with-deadline.js';
import { predictQuery } from './dry-run.js';
import type { FailedAgency } from './query-context.js';
import { checkPlausible } from './query-policy.js';

export interface PreflightInput {
  readonly policy: Policy;
  readonly keyAuthority: Pick<KeyAuthority, 'describe'>;
  /** How long the key authority has to answer Describe. */
  readonly describeDeadlineMs: number;
  /** δ for the prediction's ε (display only: it changes no refusal). */
  readonly delta: number;
  readonly queryId: string;
  readonly dataset: string;
  readonly described: readonly AgencyDescription[];
  readonly serving: readonly string[];
  readonly failedServing: readonly FailedAgency[];
  readonly threshold: number;
  readonly terms: PrivacyTerms | null;
  readonly mode: AnswerMode;
  readonly requireAll: boolean;
  readonly requireAllReason?: string;
}

/** Throws (POLICY_REFUSED, UNAVAILABLE or CONFIG_INVALID, saying the query was not sent) unless the query can succeed. */
export async function preflight(q: PreflightInput): Promise<void> {
  const prediction = predictQuery({
    dataset: q.dataset,
    candidates: q.serving,
    described: q.described,
    failed: [],
    policy: q.policy,
    threshold: q.threshold,
    terms: q.terms,
    delta: q.delta,
  });
  const refusing = prediction.agencies
    .filter((a) => a.refusal !== null)
    .map((a) => ({ id: a.id, code: 'POLICY_REFUSED' as const, reason: a.refusal ?? '' }));
  checkPlausible(q.policy, {
    queryId: q.queryId,
    serving: q.serving.length,
    unreachable: q.failedServing,
    refusing,
    threshold: q.threshold,
    mode: q.mode,
    requireAll: q.requireAll,
    ...(q.requireAllReason === undefined ? {} : { requireAllReason: q.requireAllReason }),
  });
  if (q.mode === 'plaintext') return;
  try {
    await withDeadline(q.keyAuthority.describe(), q.describeDeadlineMs, 'the key authority did not answer Describe');
  } catch (e) {
    // It answered, but is not this federation's key authority (another federation file, other HE parameters): configuration.
    if (isFedstatError(e, 'CONFIG_INVALID')) {
      throw new FedstatError('CONFIG_INVALID', `query ${q.queryId} not sent, nothing spent: ${e.message}`, {
        cause: e,
      });
    }
    const why = e instanceof Error ? e.message : String(e);
    throw new FedstatError(
      'UNAVAILABLE',
      `query ${q.queryId} not sent, nothing spent: the key authority is unreachable (${why}); ` +
        'start it (fedstat key-authority serve) and retry',
      { cause: e },
    );
  }
}
