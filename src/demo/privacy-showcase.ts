/**
 * The demo's differential-privacy section: one query released with distributed DP, shown next to
 * the exact values (computed here from the seed files, for the demo only: in a real federation
 * nobody holds them), the budget every agency charged in its own ledger, and a dry run showing
 * that a query spending more than is left would be refused.
 *
 * The check is deterministic: every released count lies within the noise's 2^-100 tail bound of
 * the exact count (a failure means a bug, not bad luck). How many 95 % intervals cover the exact
 * value is reported, not asserted: about 1 in 20 may miss.
 */
import type { Coordinator, QueryResult } from '../coordinator/coordinator.js';
import type { DryRunPrediction } from '../coordinator/dry-run.js';
import type { ResultRow } from '../coordinator/release.js';
import { displayCanonicalRho } from '../dp/rho.js';
import { datasetSchemaOf } from '../federation/federation.js';
import { planCells } from '../protocol/cells.js';
import { parseQueryRho, privacyTerms } from '../protocol/privacy-terms.js';
import { referenceRows } from './reference.js';

export const DEMO_BUDGET = '1';
export const DEMO_RHO = '0.1';
export const DEMO_DP_SQL =
  'SELECT district, COUNT(*) AS registered, AVG(age) AS avg_age FROM residence_registrations GROUP BY district';

export interface PrivacyShowcase {
  readonly sql: string;
  readonly result: QueryResult;
  /** The exact rows (demo only), by district. */
  readonly exact: readonly ResultRow[];
  /** Aggregates whose 95 % interval holds the exact value, out of all released aggregates. */
  readonly covered: number;
  readonly aggregates: number;
  /** Released counts farther from the exact count than the noise's tail bound allows (must be none). */
  readonly outOfBound: readonly string[];
  readonly budgets: readonly { agency: string; spent: string; remaining: string }[];
  /** The same query asking for more ρ than is left: who would refuse. */
  readonly overspend: DryRunPrediction;
  readonly overspendRho: string;
}

export async function runPrivacyShowcase(coordinator: Coordinator, files: readonly string[]): Promise<PrivacyShowcase> {
  const federation = coordinator.federation;
  const plan = coordinator.plan(DEMO_DP_SQL);
  const schema = datasetSchemaOf(federation, plan.dataset);
  const result = await coordinator.query(DEMO_DP_SQL, { requireAll: true, privacy: { rho: DEMO_RHO } });
  const exact = (await referenceRows(plan, schema, files, { ...federation.policy, minGroupSize: 1 })).rows;
  const byDistrict = new Map(exact.map((r) => [r['district'], r]));
  const terms = privacyTerms(planCells(plan, schema), schema, parseQueryRho(DEMO_RHO), result.privacy?.threshold ?? 1);
  const bound = BigInt(result.privacy?.survivors ?? 0) * (terms.measures[0]?.agencyNoiseBound ?? 0n);
  let covered = 0;
  let aggregates = 0;
  const outOfBound: string[] = [];
  result.rows.forEach((row, i) => {
    const truth = byDistrict.get(row['district']);
    const n = (truth?.['registered'] as bigint | undefined) ?? 0n;
    const released = row['registered'] as bigint;
    const diff = released > n ? released - n : n - released;
    if (diff > bound && !(released === 0n && n <= bound)) outOfBound.push(String(row['district']));
    for (const alias of ['registered', 'avg_age']) {
      const ci = result.uncertainty?.[i]?.[alias]?.ci95;
      const value = truth?.[alias];
      if (ci === undefined || value === undefined || value === null) continue;
      aggregates++;
      if (Number(ci[0]) <= Number(value) && Number(value) <= Number(ci[1])) covered++;
    }
  });
  const { described } = await coordinator.discover();
  const budgets = described
    .flatMap((d) =>
      d.budgets
        .filter((b) => b.dataset === plan.dataset)
        .map((b) => ({
          agency: d.agencyId,
          spent: displayCanonicalRho(b.spent),
          remaining: displayCanonicalRho(b.remaining),
        })),
    )
    .sort((a, b) => a.agency.localeCompare(b.agency));
  const overspendRho = '0.95';
  const overspend = (await coordinator.dryRun(DEMO_DP_SQL, { privacy: { rho: overspendRho } })).prediction;
  return { sql: DEMO_DP_SQL, result, exact, covered, aggregates, outOfBound, budgets, overspend, overspendRho };
}
