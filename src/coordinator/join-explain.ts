/**
 * What a join query would do and cost, without linking anything: the join plan, which side
 * encrypts and which multiplies, the components each side computes per id, the sensitivity the
 * noise is sized for, the per-id costs of linkage, and the release's one-cell-per-ciphertext
 * layout (`query --explain`); with Describe answers, who on each side would answer (`--dry-run`).
 */
import { datasetParties, type Federation } from '../federation/federation.js';
import { ciphertextByteLength } from '../he/ciphertext-layout.js';
import type { HeParams } from '../he/he-params.js';
import { proveNoWrap } from '../he/packing.js';
import {
  chooseMultiplying,
  encryptingSide,
  joinCells,
  joinPrivacyTerms,
  joinSensitivity,
  joinSlotLayout,
} from '../protocol/join-round.js';
import { queryRho, type PrivacyTerms } from '../protocol/privacy-terms.js';
import { formatJoinPlan } from '../query/format-join-plan.js';
import type { JoinPlan, JoinSideName } from '../query/join-plan.js';
import { parseJoinQuery } from '../query/parse-join.js';
import { defaultThreshold } from '../secagg/participant.js';
import type { AgencyDescription } from '../protocol/links.js';
import { predictQuery, type DryRunPrediction } from './dry-run.js';
import type { FailedAgency } from './gather.js';
import { checkMaxRowsPerId, joinRoundPlan, joinSides } from './join-query.js';
import { DEFAULT_DISPLAY_DELTA, type QueryExplanation, type QueryOptions } from './query-types.js';

/** The join part of a query's explanation. */
export interface JoinExplanation {
  /** `inner` (JOIN … ON) or `anti` (WHERE NOT EXISTS). */
  readonly kind: 'inner' | 'anti';
  /** The FROM dataset. */
  readonly left: string;
  /** The joined (or NOT EXISTS) dataset. */
  readonly right: string;
  /** The side whose agencies send their components under BFV. */
  readonly encrypting: JoinSideName;
  /** The side whose agencies multiply and answer round 1. */
  readonly multiplying: JoinSideName;
  /** Components per id each side computes (groups × (COUNT + its SUMs)); the anti-join's right side sends presence. */
  readonly components: Readonly<Record<JoinSideName, number>>;
  /** At most this many rows share one id at one agency (`--max-rows-per-id`). */
  readonly maxRowsPerId: number;
  /** Joined records one record can be part of: the noise is sized for it. */
  readonly sensitivity: number;
  /** What linking costs, per id linked. */
  readonly perId: {
    /** Hashes to the group, at the id's agency (once per id, then cached). */
    readonly hashes: 1;
    /** Scalar multiplications: one at its agency, one at an agency of the other side. */
    readonly blindings: 2;
    /** Bytes to and from the coordinator: the blinded set, the re-blinding round trip, the position. */
    readonly bytes: number;
  };
  /** Bytes of one ciphertext; the encrypting side sends components × ⌈ids of all agencies / N⌉ of them, each multiplying agency receives them. */
  readonly ciphertextBytes: number;
  /** Ids per ciphertext block (N). */
  readonly idsPerBlock: number;
}

type ExplainOptions = Pick<QueryOptions, 'privacy' | 'threshold' | 'maxRowsPerId'>;

/** The explanation of a join query, with `sides` (from discovery) or all allowed agencies. */
export function explainJoin(
  federation: Federation,
  params: HeParams,
  sql: string,
  options: ExplainOptions,
): QueryExplanation & { readonly join: JoinExplanation } {
  return explainJoinPlan(federation, params, parseJoinQuery(sql, federation.schema), options).explanation;
}

function explainJoinPlan(
  federation: Federation,
  params: HeParams,
  join: JoinPlan,
  options: ExplainOptions,
  sides?: { left: string[]; right: string[] },
): { explanation: QueryExplanation & { readonly join: JoinExplanation }; terms: PrivacyTerms | null } {
  const maxRowsPerId = checkMaxRowsPerId(options.maxRowsPerId);
  const multiplying = chooseMultiplying(join, federation.schema);
  const allowed = sides ?? {
    left: datasetParties(federation, join.left.dataset).map((p) => p.id),
    right: datasetParties(federation, join.right.dataset).map((p) => p.id),
  };
  const plan = joinRoundPlan(federation, join, allowed, maxRowsPerId);
  const cells = joinCells(plan, federation.schema);
  const parties = datasetParties(federation, join[multiplying].dataset).length;
  const threshold = options.threshold ?? defaultThreshold(Math.max(1, plan.sides[multiplying].length));
  const rho = options.privacy?.rho;
  const terms = rho === undefined ? null : joinPrivacyTerms(plan, cells, queryRho(rho), threshold);
  const layout = joinSlotLayout(cells, parties, params.plainModulus, terms?.agencyNoiseBound ?? 0n);
  const encrypting = encryptingSide(plan);
  const explanation = {
    sql: formatJoinPlan(join),
    plan: cells.plan,
    groups: cells.cells.groupCount,
    measures: cells.cells.measures.map((m) => (m.kind === 'count' ? 'COUNT(*)' : `SUM(${m.column ?? ''})`)),
    parties: layout.parties,
    limbBase: layout.limbBase,
    slotsUsed: layout.slotsUsed,
    ciphertexts: layout.ciphertextCount,
    worstSlotTotal: proveNoWrap(layout, { slotCount: 1, plainModulus: params.plainModulus }),
    noiseBound: layout.noiseBound,
    plainModulus: params.plainModulus,
    join: {
      kind: join.join,
      left: join.left.dataset,
      right: join.right.dataset,
      encrypting,
      multiplying,
      components: { left: cells.widths.left, right: join.join === 'anti' ? 1 : cells.widths.right },
      maxRowsPerId,
      sensitivity: joinSensitivity(plan),
      perId: { hashes: 1 as const, blindings: 2 as const, bytes: 32 * 3 + 4 },
      ciphertextBytes: ciphertextByteLength(params.shape),
      idsPerBlock: params.slotCount,
    },
  };
  return { explanation, terms };
}

/**
 * The dry run of a join: a query that cannot run is refused before `discover` contacts anyone;
 * then the explanation for the agencies serving now, and each side's prediction.
 */
export async function predictJoin(
  federation: Federation,
  params: HeParams,
  sql: string,
  options: ExplainOptions,
  discover: () => Promise<{ described: readonly AgencyDescription[]; failed: readonly FailedAgency[] }>,
): Promise<
  QueryExplanation & {
    readonly join: JoinExplanation;
    readonly prediction: DryRunPrediction;
    readonly encryptingPrediction: DryRunPrediction;
  }
> {
  const join = parseJoinQuery(sql, federation.schema);
  explainJoinPlan(federation, params, join, options);
  const found = await discover();
  const sides = joinSides(federation, join, found);
  const { explanation, terms } = explainJoinPlan(federation, params, join, options, sides);
  const predict = (side: JoinSideName, threshold: number): DryRunPrediction =>
    predictQuery({
      dataset: join[side].dataset,
      candidates: datasetParties(federation, join[side].dataset)
        .map((p) => p.id)
        .sort(),
      described: found.described,
      failed: found.failed,
      policy: federation.policy,
      threshold,
      terms,
      delta: options.privacy?.delta ?? DEFAULT_DISPLAY_DELTA,
    });
  const m = explanation.join.multiplying;
  return {
    ...explanation,
    prediction: predict(m, terms?.threshold ?? options.threshold ?? defaultThreshold(Math.max(1, sides[m].length))),
    encryptingPrediction: predict(explanation.join.encrypting, 1),
  };
}
