/**
 * The demo's linked-records section (人-房-事-证, issue 16): two questions no single department can
 * answer, asked across departments by citizen id without any id leaving its agency (ECDH-PSI, then
 * the other side's values under BFV), each checked against the plaintext join of the seed files.
 *
 * - Registered migrants with no social-insurance record, by district: an anti-join of public
 *   security's registrations against HR/social security's records, released with distributed DP
 *   (ρ charged at the agencies of both datasets). Check: every released count lies within the
 *   noise's 2^-100 tail bound of the exact count, and every withheld group's exact count lies
 *   within that bound of the release threshold (deterministic: a failure is a bug, not bad luck).
 * - Average monthly rent of insured workers, by sector: social insurance ⋈ rental filings, exact
 *   when the federation's policy allows exact releases (else DP, checked as above).
 *
 * The seed writes one record per person per dataset, so no id repeats within one agency; the
 * plaintext pass counts that anyway and the queries pass the bound it finds as maxRowsPerId.
 */
import type { Coordinator, QueryResult } from '../coordinator/coordinator.js';
import type { ResultRow } from '../coordinator/release.js';
import { displayCanonicalRho } from '../dp/rho.js';
import type { Federation } from '../federation/federation.js';
import { chooseMultiplying, joinCells, joinPrivacyTerms } from '../protocol/join-round.js';
import { parseQueryRho } from '../protocol/privacy-terms.js';
import { parseJoinQuery } from '../query/parse-join.js';
import type { JoinPlan, JoinSideName } from '../query/join-plan.js';
import { joinReferenceRows } from './join-reference.js';
import { DEMO_RHO } from './privacy-showcase.js';
import { compareRows } from './reference.js';

/** Registered migrants whose id no social-insurance record holds, by district (anti-join, DP). */
export const DEMO_ANTI_JOIN_SQL =
  'SELECT r.district, COUNT(*) AS without_insurance_record FROM residence_registrations r WHERE NOT EXISTS (SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id) GROUP BY r.district';
/** Insured workers with a rental filing and their average monthly rent, by sector (inner join). */
export const DEMO_INNER_JOIN_SQL =
  "SELECT s.sector, COUNT(*) AS insured_renters, AVG(r.monthly_rent) AS avg_monthly_rent FROM social_insurance s JOIN rental_filings r ON s.citizen_id = r.citizen_id WHERE s.insured = '是' GROUP BY s.sector";

/**
 * Time each agency has per linkage phase. The default 30 s is short for the demo's largest bureau
 * (成都市: 50,000 ids hashed to the group and blinded in one phase) on a busy two-core machine.
 */
const LINKAGE_DEADLINE_MS = 300_000;

/** One linked-record query, its release and its check against the plaintext join. */
export interface LinkedQuery {
  readonly title: string;
  readonly sql: string;
  readonly result: QueryResult;
  /** The exact rows of every non-empty group (demo only: nobody in a federation can compute them). */
  readonly exact: readonly ResultRow[];
  /** The bound passed to the query: the most records one id has at one agency in the seed files. */
  readonly maxRowsPerId: number;
  /** Exact release: null when it equals the plaintext join, else the first difference. */
  readonly mismatch: string | null;
  /** DP release: counts and sums farther from the exact value than the noise's tail bound allows (must be none). */
  readonly outOfBound: readonly string[];
  /** DP release: the tail bound on the summed noise of one COUNT cell (null for an exact release). */
  readonly countBound: bigint | null;
  /** DP release: aggregates whose 95 % interval holds the exact value, out of all released aggregates. */
  readonly covered: number;
  readonly aggregates: number;
  /** Wall time of the query (linkage, round 1, unmasking, decryption, release), in milliseconds. */
  readonly ms: number;
}

export interface LinkageShowcase {
  readonly rho: string;
  readonly antiJoin: LinkedQuery;
  readonly innerJoin: LinkedQuery;
  /** What the agencies of each dataset in the section have left after it, from Describe. */
  readonly budgets: readonly { agency: string; dataset: string; spent: string; remaining: string }[];
}

/** The CSV files of one dataset, one list per agency serving it. */
export type AgencyFilesOf = (dataset: string) => string[][];

/** Why the section cannot run with these agencies, or null when it can. */
export function linkageShowcaseSkip(federation: Federation, filesOf: AgencyFilesOf): string | null {
  const least = federation.policy.minAgencies;
  for (const sql of [DEMO_ANTI_JOIN_SQL, DEMO_INNER_JOIN_SQL]) {
    const join = parseJoinQuery(sql, federation.schema);
    for (const side of ['left', 'right'] as const) {
      const n = filesOf(join[side].dataset).length;
      // The multiplying side contributes to secure aggregation, so the policy's minimum applies to it.
      const needed = side === chooseMultiplying(join, federation.schema) ? least : 1;
      if (n < needed) return `needs ${needed} agencies serving ${join[side].dataset}; run with more --agencies`;
    }
  }
  return null;
}

/** Runs both linked-record queries and checks each against the plaintext join. */
export async function runLinkageShowcase(coordinator: Coordinator, filesOf: AgencyFilesOf): Promise<LinkageShowcase> {
  const federation = coordinator.federation;
  const antiJoin = await runLinked(
    coordinator,
    filesOf,
    '无社保登记的登记流动人口（按区，差分隐私）',
    DEMO_ANTI_JOIN_SQL,
    DEMO_RHO,
  );
  const innerJoin = await runLinked(
    coordinator,
    filesOf,
    '参保且有租赁备案者的平均月租金（按行业）',
    DEMO_INNER_JOIN_SQL,
    federation.policy.exactRelease ? null : DEMO_RHO,
  );
  const datasets = new Set(
    [antiJoin, innerJoin].flatMap((q) => sideDatasets(parseJoinQuery(q.sql, federation.schema))),
  );
  const { described } = await coordinator.discover();
  const budgets = described
    .flatMap((d) =>
      d.budgets
        .filter((b) => datasets.has(b.dataset))
        .map((b) => ({
          agency: d.agencyId,
          dataset: b.dataset,
          spent: displayCanonicalRho(b.spent),
          remaining: displayCanonicalRho(b.remaining),
        })),
    )
    .sort((a, b) => a.agency.localeCompare(b.agency) || a.dataset.localeCompare(b.dataset));
  return { rho: DEMO_RHO, antiJoin, innerJoin, budgets };
}

/** Whether both queries match the plaintext join (exact) or lie within the noise's tail bound (DP). */
export function linkageShowcasePassed(s: LinkageShowcase): boolean {
  return [s.antiJoin, s.innerJoin].every((q) => q.mismatch === null && q.outOfBound.length === 0);
}

const sideDatasets = (join: JoinPlan): string[] => [join.left.dataset, join.right.dataset];

async function runLinked(
  coordinator: Coordinator,
  filesOf: AgencyFilesOf,
  title: string,
  sql: string,
  rho: string | null,
): Promise<LinkedQuery> {
  const federation = coordinator.federation;
  const join = parseJoinQuery(sql, federation.schema);
  const files = { left: filesOf(join.left.dataset), right: filesOf(join.right.dataset) };
  // Every non-empty group (for the DP check), and the released rows under the policy (exact check).
  const all = await joinReferenceRows(join, federation.schema, files, { ...federation.policy, minGroupSize: 1 });
  const maxRowsPerId = Math.max(1, all.maxRowsPerId);
  const t0 = performance.now();
  const result = await coordinator.query(sql, {
    requireAll: true,
    maxRowsPerId,
    deadlineMs: LINKAGE_DEADLINE_MS,
    ...(rho === null ? {} : { privacy: { rho } }),
  });
  const ms = performance.now() - t0;
  const base = { title, sql, result, exact: all.rows, maxRowsPerId, ms };
  if (result.privacy === null) {
    const expected = await joinReferenceRows(join, federation.schema, files, federation.policy);
    const mismatch =
      compareRows(result.rows, expected.rows) ??
      (result.suppressed === expected.suppressed
        ? null
        : `${result.suppressed} groups withheld, expected ${expected.suppressed}`);
    return { ...base, mismatch, outOfBound: [], countBound: null, covered: 0, aggregates: 0 };
  }
  return { ...base, mismatch: null, ...checkNoisy(federation, join, result, all.rows, maxRowsPerId) };
}

/** The agencies each side of a join had when it ran: linked, or failed during linkage. */
function sidesOf(result: QueryResult): Record<JoinSideName, string[]> {
  const ids = (side: JoinSideName): string[] => {
    const s = result.linkage?.sides[side];
    return s === undefined ? [] : [...s.linked, ...s.failed.map((f) => f.id)].sort();
  };
  return { left: ids('left'), right: ids('right') };
}

/** The DP check, as the privacy section does it, with the noise sized for the join's sensitivity. */
function checkNoisy(
  federation: Federation,
  join: JoinPlan,
  result: QueryResult,
  exact: readonly ResultRow[],
  maxRowsPerId: number,
): Pick<LinkedQuery, 'outOfBound' | 'countBound' | 'covered' | 'aggregates'> {
  const privacy = result.privacy;
  if (privacy === null) throw new RangeError('checkNoisy: the result carries no privacy report');
  const plan = { join, sides: sidesOf(result), maxRowsPerId };
  const cells = joinCells({ ...plan, multiplying: chooseMultiplying(join, federation.schema) }, federation.schema);
  const terms = joinPrivacyTerms(plan, cells, parseQueryRho(privacy.rho), privacy.threshold);
  const survivors = BigInt(privacy.survivors);
  const boundOf = (measure: string): bigint =>
    survivors * (terms.measures.find((m) => m.measure === measure)?.agencyNoiseBound ?? 0n);
  const countBound = boundOf('count');
  const groups = result.columns.filter((c) => c.kind === 'group').map((c) => c.name);
  const keyOf = (row: ResultRow): string => JSON.stringify(groups.map((g) => row[g]));
  const byKey = new Map(exact.map((r) => [keyOf(r), r]));
  const measureOf = (alias: string): string => {
    const item = cells.plan.select.find((s) => s.alias === alias);
    return item?.kind === 'aggregate' && item.fn !== 'count' ? (item.column ?? 'count') : 'count';
  };
  const outOfBound: string[] = [];
  let covered = 0;
  let aggregates = 0;
  const released = new Set<string>();
  result.rows.forEach((row, i) => {
    const key = keyOf(row);
    released.add(key);
    const truth = byKey.get(key);
    for (const col of result.columns) {
      if (col.kind === 'group') continue;
      const value = truth?.[col.name] ?? (col.kind === 'avg' ? null : 0n);
      const got = row[col.name];
      if (col.kind !== 'avg' && typeof got === 'bigint' && typeof value === 'bigint') {
        const bound = boundOf(measureOf(col.name));
        const diff = got > value ? got - value : value - got;
        // A count is clamped at 0, so a released 0 only says the noisy total was ≤ 0.
        if (diff > bound && !(col.kind === 'count' && got === 0n && value <= bound))
          outOfBound.push(`${key} ${col.name}`);
      }
      const ci = result.uncertainty?.[i]?.[col.name]?.ci95;
      if (ci === undefined || value === null) continue;
      aggregates++;
      if (Number(ci[0]) <= Number(value) && Number(value) <= Number(ci[1])) covered++;
    }
  });
  // A withheld group's noisy count fell below minGroupSize: its exact count cannot be far above it.
  const countColumn = result.columns.find((c) => c.kind === 'count')?.name;
  const threshold = BigInt(federation.policy.minGroupSize);
  for (const row of exact) {
    const n = countColumn === undefined ? undefined : row[countColumn];
    if (!released.has(keyOf(row)) && typeof n === 'bigint' && n >= threshold + countBound)
      outOfBound.push(`${keyOf(row)} withheld`);
  }
  return { outOfBound, countBound, covered, aggregates };
}
