/**
 * Planning a query over linked records (JOIN, or the NOT EXISTS anti-join): the join plan parsed
 * and checked, each side's agencies found at discovery, the join round's plan signed for both
 * sides, its virtual cells (join-round.ts), privacy terms sized for the join's sensitivity, and
 * the one-cell-per-ciphertext layout. Everything from the log on is the ordinary query pipeline,
 * with record linkage (linkage-round.ts) between logging and round 1.
 */
import { FedstatError } from '../errors.js';
import { datasetParties, type Federation } from '../federation/federation.js';
import type { HeParams } from '../he/he-params.js';
import {
  chooseMultiplying,
  JOIN_ROUND_KIND,
  joinCells,
  joinPrivacyTerms,
  joinSlotLayout,
  MAX_ROWS_PER_ID,
  type JoinCells,
  type JoinRoundPlan,
} from '../protocol/join-round.js';
import type { JoinPlan, JoinSideName } from '../query/join-plan.js';
import { parseJoinQuery } from '../query/parse-join.js';
import type { Rational } from '../dp/rational.js';
import { releaseRho } from './query-policy.js';
import type {
  DiscoveredAgencies,
  FailedAgency,
  PlannedQuery,
  QueryContext,
  SentQuery,
  SizedPlan,
} from './query-context.js';
import { runLinkage, type LinkageReport } from './linkage-round.js';

/** What a planned join keeps for its release: the cells sized at discovery, and linkage's report. */
export interface JoinState {
  readonly join: JoinPlan;
  cells: JoinCells | null;
  linkage: LinkageReport | null;
}

/** The bound on rows per id a query uses when it does not give one. */
const DEFAULT_MAX_ROWS_PER_ID = 1;

/** RangeError-free check of a caller's maxRowsPerId: QUERY_INVALID with the range. */
export function checkMaxRowsPerId(value: number | undefined): number {
  const v = value ?? DEFAULT_MAX_ROWS_PER_ID;
  if (!Number.isSafeInteger(v) || v < 1 || v > MAX_ROWS_PER_ID)
    throw new FedstatError(
      'QUERY_INVALID',
      `maxRowsPerId must be a whole number from 1 to ${MAX_ROWS_PER_ID}; got ${String(value)}`,
    );
  return v;
}

/** The agencies serving each side now, sorted; refused when one agency would be on both sides. */
export function joinSides(
  federation: Federation,
  join: JoinPlan,
  found: Pick<DiscoveredAgencies, 'described'>,
): { left: string[]; right: string[] } {
  const serving = (side: JoinSideName): string[] => {
    const dataset = join[side].dataset;
    const allowed = new Set(datasetParties(federation, dataset).map((p) => p.id));
    return found.described
      .filter((d) => d.datasets.includes(dataset) && allowed.has(d.agencyId))
      .map((d) => d.agencyId)
      .sort();
  };
  const left = serving('left');
  const right = serving('right');
  const both = left.filter((a) => right.includes(a));
  if (both.length > 0)
    throw new FedstatError(
      'POLICY_REFUSED',
      `agency ${both.join(', ')} serves both ${join.left.dataset} and ${join.right.dataset}; a join needs each dataset served by other agencies (one holding both side keys could test any id)`,
    );
  for (const side of ['left', 'right'] as const)
    if ((side === 'left' ? left : right).length === 0)
      throw new FedstatError(
        'NOT_FOUND',
        `no agency serves dataset ${join[side].dataset} now; start one with --dataset ${join[side].dataset}=…`,
      );
  return { left, right };
}

/** The join round's plan for the agencies found. */
export function joinRoundPlan(
  federation: Federation,
  join: JoinPlan,
  sides: { left: string[]; right: string[] },
  maxRowsPerId: number,
): JoinRoundPlan {
  const multiplying = chooseMultiplying(join, federation.schema);
  return Object.freeze({
    kind: JOIN_ROUND_KIND,
    dataset: join[multiplying].dataset,
    join,
    multiplying,
    sides: Object.freeze({ left: Object.freeze(sides.left), right: Object.freeze(sides.right) }),
    maxRowsPerId,
  });
}

/**
 * A join query planned for the coordinator's pipeline: `size` fixes the sides from discovery,
 * `link` runs record linkage between the log and round 1, `state` keeps what the release needs.
 */
export function planJoinQuery(
  federation: Federation,
  params: HeParams,
  sql: string,
  given: { rho?: Rational | string; maxRowsPerId?: number },
): { planned: PlannedQuery; state: JoinState } {
  const join = parseJoinQuery(sql, federation.schema);
  const maxRowsPerId = checkMaxRowsPerId(given.maxRowsPerId);
  const multiplying = chooseMultiplying(join, federation.schema);
  const dataset = join[multiplying].dataset;
  const candidates = datasetParties(federation, dataset).map((p) => p.id);
  // The policy's rho rule on the cells as all allowed agencies would make them (before discovery).
  const allowed = {
    left: datasetParties(federation, join.left.dataset).map((p) => p.id),
    right: datasetParties(federation, join.right.dataset).map((p) => p.id),
  };
  const preview = joinCells({ join, multiplying, sides: allowed, maxRowsPerId }, federation.schema);
  const rho = releaseRho(preview.plan, preview.cells, federation.policy, given.rho);
  const state: JoinState = { join, cells: null, linkage: null };
  const size = (threshold: number, found: DiscoveredAgencies): SizedPlan => {
    const plan = joinRoundPlan(federation, join, joinSides(federation, join, found), maxRowsPerId);
    if (plan.sides[multiplying].join() !== found.serving.join())
      throw new FedstatError('UNAVAILABLE', 'the agencies serving the query changed during discovery; run it again');
    const cells = joinCells(plan, federation.schema);
    const terms = rho === null ? null : joinPrivacyTerms(plan, cells, rho, threshold);
    const layout = joinSlotLayout(cells, candidates.length, params.plainModulus, terms?.agencyNoiseBound ?? 0n);
    state.cells = cells;
    return { plan, terms, layout };
  };
  const link = async (q: QueryContext, sent: SentQuery): Promise<readonly FailedAgency[]> => {
    const plan = q.plan as JoinRoundPlan;
    if (state.cells === null) throw new FedstatError('INTERNAL', 'the join was linked before it was sized');
    state.linkage = await runLinkage({ q, sent, plan, cells: state.cells, params });
    return state.linkage.sides[plan.multiplying].failed;
  };
  return {
    planned: { sql, dataset, schema: preview.schema, candidates, rho, size, link },
    state,
  };
}

/** Who a join's release names: round 1's survivors and the encrypting agencies whose vectors were summed. */
export function joinContributors(state: JoinState, answered: readonly string[]): string[] {
  const linked = state.linkage === null ? [] : state.linkage.sides[state.linkage.encrypting].linked;
  return [...new Set([...answered, ...linked])].sort();
}
