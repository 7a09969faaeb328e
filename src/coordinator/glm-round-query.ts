/**
 * One Newton round of a federated GLM fit as a query the coordinator runs like any other
 * (coordinator.ts' round steps): planned here from the fit's coding and the round's β, sized once
 * discovery has fixed the threshold (the encoding plan, and in a DP round the noise, depend on
 * it), and finished by decoding the decrypted slots into the round's total sums and recording
 * the release.
 */
import type { Rational } from '../dp/rational.js';
import { datasetParties, type Federation } from '../federation/federation.js';
import type { HeParams } from '../he/he-params.js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import type { ModelCoding } from '../learn/design.js';
import { decodeGlmTotal, type GlmEncodingPlan } from '../learn/fixed-point.js';
import type { GlmSums } from '../learn/sums.js';
import { joinFlat } from '../protocol/flat-slots.js';
import {
  GLM_ROUND_KIND,
  glmPlanDigest,
  glmRoundPlan,
  glmRoundQueryId,
  glmSlotLayout,
  type GlmRoundEncoding,
  type GlmRoundPlan,
} from '../protocol/glm-round.js';
import type { Predicate } from '../query/plan.js';
import { glmPrivacyTerms } from './glm-privacy-terms.js';
import type { PlannedQuery, RoundFinish, SizedPlan } from './query-context.js';
import { recordRoundRelease } from './round-release.js';

/** What stays the same over the rounds of one fit. */
export interface GlmFitPlan {
  readonly federation: Federation;
  readonly params: Pick<HeParams, 'paramsId' | 'plainModulus'>;
  readonly fitId: string;
  readonly coding: ModelCoding;
  readonly where: Predicate | null;
  /** How the fit is described in the audit trail (formula, family, WHERE). */
  readonly description: string;
  /** ρ of each round; null for exact sums. */
  readonly rhoPerRound: Rational | null;
}

/** A planned round, how to finish it (the decoded total sums), and the encoding it was sized with. */
export interface GlmRoundQuery {
  readonly planned: PlannedQuery;
  readonly finish: RoundFinish<GlmSums>;
  /** The encoding plan the round was sized with (RangeError before it was). */
  readonly encoding: () => GlmEncodingPlan;
}

function inputsOf(fit: GlmFitPlan): Omit<GlmRoundEncoding, 'planSha256' | 'paramsId'> {
  return {
    preset: fit.federation.he.preset,
    plainModulus: fit.params.plainModulus.toString(),
    maxRows: fit.federation.schema.datasets[fit.coding.dataset]!.maxRows,
    maxCiphertexts: MAX_CIPHERTEXTS,
  };
}

/** The encoding plan of a round of `fit` at `beta` under `threshold`, as every party derives it. */
export function glmRoundEncoding(fit: GlmFitPlan, beta: readonly number[], threshold: number): GlmEncodingPlan {
  const privacy = fit.rhoPerRound === null ? null : { rho: fit.rhoPerRound, threshold };
  const { coding } = fit;
  return glmRoundPlan(fit.federation, { dataset: coding.dataset, coding, beta, encoding: inputsOf(fit) }, privacy);
}

/** Plans round `round` of `fit` at `beta` (see the file comment). */
export function glmRoundQuery(
  fit: GlmFitPlan,
  round: number,
  beta: readonly number[],
  now: () => number,
): GlmRoundQuery {
  const { federation, coding } = fit;
  const dataset = coding.dataset;
  const schema = federation.schema.datasets[dataset]!;
  let encoding: GlmEncodingPlan | null = null;
  const inputs = inputsOf(fit);
  const size = (threshold: number): SizedPlan => {
    encoding = glmRoundEncoding(fit, beta, threshold);
    const plan: GlmRoundPlan = {
      kind: GLM_ROUND_KIND,
      dataset,
      fitId: fit.fitId,
      round,
      coding,
      beta,
      where: fit.where,
      encoding: { ...inputs, paramsId: fit.params.paramsId, planSha256: glmPlanDigest(encoding) },
    };
    return { plan, terms: glmPrivacyTerms(encoding), layout: glmSlotLayout(encoding) };
  };
  const planned: PlannedQuery = {
    sql: `GLM round ${round} of fit ${fit.fitId}: ${fit.description}`,
    dataset,
    schema,
    candidates: datasetParties(federation, dataset).map((p) => p.id),
    rho: fit.rhoPerRound,
    size,
    queryId: glmRoundQueryId(fit.fitId, round),
  };
  const finish: RoundFinish<GlmSums> = async (q, sent, r1, slots) => {
    if (encoding === null) throw new Error('glmRoundQuery: the round finished before it was sized');
    const sums = decodeGlmTotal(joinFlat(slots), encoding);
    await recordRoundRelease(q, sent, r1, now());
    return sums;
  };
  const sized = (): GlmEncodingPlan => {
    if (encoding === null) throw new RangeError('glmRoundQuery: the round was not sized yet');
    return encoding;
  };
  return { planned, finish, encoding: sized };
}
