/**
 * One federated-averaging round as a query the coordinator runs like any other (coordinator.ts'
 * round steps): planned here from the run's model and the round's global parameters, sized once
 * discovery has fixed the threshold (the encoding plan's noise depends on it), and finished by
 * decoding the decrypted slots into the round's totals and recording the release.
 */
import type { Rational } from '../dp/rational.js';
import { datasetParties, type Federation } from '../federation/federation.js';
import type { HeParams } from '../he/he-params.js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import type { ModelCoding } from '../learn/design.js';
import { decodeFlTotal, FL_KINDS, type FlEncodingPlan, type FlTotals } from '../learn/fl/fl-encoding.js';
import type { NetworkModelSpec } from '../learn/fl/trainer-registry.js';
import { joinFlat } from '../protocol/flat-slots.js';
import {
  FL_ROUND_KIND,
  encodeParameters,
  flPlanDigest,
  flRoundEncoding,
  flRoundQueryId,
  flSlotLayout,
  type FlHyper,
  type FlRoundEncoding,
  type FlRoundPlan,
} from '../protocol/fl-round.js';
import type { PrivacyTerms } from '../protocol/privacy-terms.js';
import type { Predicate } from '../query/plan.js';
import type { PlannedQuery, RoundFinish, SizedPlan } from './query-context.js';
import { recordRoundRelease } from './round-release.js';

/** What stays the same over the rounds of one run. */
export interface FlRunPlan {
  readonly federation: Federation;
  readonly params: Pick<HeParams, 'paramsId' | 'plainModulus'>;
  readonly runId: string;
  readonly coding: ModelCoding;
  readonly model: NetworkModelSpec;
  /** The model's parameter count. */
  readonly parameterCount: number;
  readonly hyper: FlHyper;
  readonly validation: number;
  /** The run's seed (fl-round.ts `FlRoundPlan.seed`). */
  readonly seed: number;
  readonly where: Predicate | null;
  /** Exact rounds: the L2 bound of one agency's local − global. */
  readonly updateBound: number;
  /** How the run is described in the audit trail. */
  readonly description: string;
  /** ρ of each round; null for exact rounds. */
  readonly rhoPerRound: Rational | null;
}

/** One round to ask: its number, the updates applied before it, whether it trains, and whom. */
export interface FlRoundAsk {
  readonly round: number;
  readonly step: number;
  readonly train: boolean;
  readonly parameters: Float64Array;
  /** The agencies asked (all serving the dataset, or this round's sample). */
  readonly candidates: readonly string[];
}

/** A planned round, how to finish it, and the encoding it was sized with. */
export interface FlRoundQuery {
  readonly planned: PlannedQuery;
  readonly finish: RoundFinish<FlTotals>;
  readonly encoding: () => FlEncodingPlan;
}

function inputsOf(run: FlRunPlan): Omit<FlRoundEncoding, 'planSha256' | 'paramsId'> {
  return {
    preset: run.federation.he.preset,
    plainModulus: run.params.plainModulus.toString(),
    maxRows: run.federation.schema.datasets[run.coding.dataset]!.maxRows,
    maxCiphertexts: MAX_CIPHERTEXTS,
    parameters: run.parameterCount,
    updateBound: run.updateBound,
  };
}

/** The encoding plan of a round of `run` under `threshold`, as every party derives it. */
export function flRunEncoding(run: FlRunPlan, threshold: number): FlEncodingPlan {
  const privacy = run.rhoPerRound === null ? null : { rho: run.rhoPerRound, threshold };
  const { coding, model, validation } = run;
  const round = { dataset: coding.dataset, coding, model, validation, encoding: inputsOf(run), clip: run.hyper.clip };
  return flRoundEncoding(run.federation, round, privacy);
}

/** The round's noise as the privacy terms every query carries (budget preflight, release record). */
function flPrivacyTerms(encoding: FlEncodingPlan): PrivacyTerms | null {
  const privacy = encoding.inputs.privacy;
  if (privacy === null) return null;
  const measures = FL_KINDS.flatMap((kind) => {
    const n = encoding.kinds[kind].noise;
    return n === null ? [] : [{ measure: kind, ...n }];
  });
  const agencyNoiseBound = measures.reduce((m, k) => (k.agencyNoiseBound > m ? k.agencyNoiseBound : m), 0n);
  return { rho: privacy.rho, threshold: privacy.threshold, measures, agencyNoiseBound };
}

/** Plans one round of `run` (see the file comment). */
export function flRoundQuery(run: FlRunPlan, ask: FlRoundAsk, now: () => number): FlRoundQuery {
  const { federation, coding } = run;
  const dataset = coding.dataset;
  let encoding: FlEncodingPlan | null = null;
  const parameters = encodeParameters(ask.parameters);
  const size = (threshold: number): SizedPlan => {
    encoding = flRunEncoding(run, threshold);
    const plan: FlRoundPlan = {
      kind: FL_ROUND_KIND,
      dataset,
      runId: run.runId,
      round: ask.round,
      step: ask.step,
      train: ask.train,
      seed: run.seed,
      coding,
      model: run.model,
      parameters,
      hyper: run.hyper,
      validation: run.validation,
      where: run.where,
      encoding: { ...inputsOf(run), paramsId: run.params.paramsId, planSha256: flPlanDigest(encoding) },
    };
    return { plan, terms: flPrivacyTerms(encoding), layout: flSlotLayout(encoding) };
  };
  const serving = new Set(datasetParties(federation, dataset).map((p) => p.id));
  const planned: PlannedQuery = {
    sql: `FL round ${ask.round} (step ${ask.step}${ask.train ? '' : ', evaluation'}) of run ${run.runId}: ${run.description}`,
    dataset,
    schema: federation.schema.datasets[dataset]!,
    candidates: ask.candidates.filter((a) => serving.has(a)),
    rho: run.rhoPerRound,
    size,
    queryId: flRoundQueryId(run.runId, ask.round),
  };
  const finish: RoundFinish<FlTotals> = async (q, sent, r1, slots) => {
    if (encoding === null) throw new Error('flRoundQuery: the round finished before it was sized');
    const totals = decodeFlTotal(joinFlat(slots), encoding);
    await recordRoundRelease(q, sent, r1, now());
    return totals;
  };
  const sized = (): FlEncodingPlan => {
    if (encoding === null) throw new RangeError('flRoundQuery: the round was not sized yet');
    return encoding;
  };
  return { planned, finish, encoding: sized };
}
