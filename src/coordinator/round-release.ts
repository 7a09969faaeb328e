/**
 * A training round's release record (a GLM Newton round, a federated-averaging round): one row,
 * nothing suppressed, the contributors and the round's ρ, appended to the audit trail and the log,
 * then the log published, before the decoded total is used.
 */
import { queryRhoText } from '../protocol/privacy-terms.js';
import type { RoundOne } from './gather.js';
import type { QueryContext, SentQuery } from './query-context.js';

/** Records the round's release (see the file comment). */
export async function recordRoundRelease(q: QueryContext, sent: SentQuery, r1: RoundOne, at: number): Promise<void> {
  sent.audit.append({
    type: 'release',
    at,
    queryId: q.queryId,
    contributors: r1.answered,
    rows: 1,
    suppressed: 0,
    rho: q.terms === null ? null : queryRhoText(q.terms.rho),
  });
  await sent.queryLog?.publish();
}
