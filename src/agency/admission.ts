/**
 * What an agency checks of a verified query before it looks at any data: that the query is in the
 * transparency log everybody else sees (recording the receipts the proof carries for its own
 * budget entries), and that its own policy lets it answer: it is named, the mode is allowed, it
 * serves the dataset, the query is not from before a restart, and the release is private enough.
 */
import { FedstatError } from '../errors.js';
import { datasetSchemaOf, mayServe } from '../federation/federation.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { Rational } from '../dp/rational.js';
import type { GlmEncodingPlan } from '../learn/fixed-point.js';
import { planCells, type PlanCells } from '../protocol/cells.js';
import type { FlEncodingPlan } from '../learn/fl/fl-encoding.js';
import type { Trainer } from '../learn/fl/trainer.js';
import { networkTrainer } from '../learn/fl/trainer-registry.js';
import { flRoundEncoding, isFlRoundPlan, type FlRoundPlan } from '../protocol/fl-round.js';
import { glmRoundPlan, isGlmRoundPlan, type GlmRoundPlan } from '../protocol/glm-round.js';
import { openQueryRho, privacyTerms, type PrivacyTerms } from '../protocol/privacy-terms.js';
import {
  isJoinRoundPlan,
  joinCells,
  joinPrivacyTerms,
  type JoinCells,
  type JoinRoundPlan,
} from '../protocol/join-round.js';
import type { QueryPlan } from '../query/plan.js';
import { queryDigest, type QueryEnvelope, type SignedQuery } from '../protocol/query-envelope.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import type { AgencyContext } from './agency-context.js';
import type { AnswerTrail } from './answer-trail.js';
import { recordReceipts } from './charge-log.js';

/**
 * A query the agency's policy admitted: its dataset's schema, the ρ it charges (null: exact), and
 * what it computes: a SQL query's cells and noise terms, a join's (join-round.ts), or a GLM round's encoding plan.
 */
export type AdmittedQuery = {
  readonly schema: DatasetSchema;
  readonly rho: Rational | null;
} & (
  | { readonly kind: 'cells'; readonly plan: QueryPlan; readonly cells: PlanCells; readonly terms: PrivacyTerms | null }
  | { readonly kind: 'glm'; readonly plan: GlmRoundPlan; readonly encoding: GlmEncodingPlan }
  | {
      readonly kind: 'join';
      readonly plan: JoinRoundPlan;
      readonly join: JoinCells;
      readonly terms: PrivacyTerms | null;
    }
  | {
      readonly kind: 'fl';
      readonly plan: FlRoundPlan;
      readonly encoding: FlEncodingPlan;
      readonly trainer: Trainer;
    }
);

/** The datasets this agency serves: those in its store that the federation lets it serve. */
export async function servedDatasets(ctx: Pick<AgencyContext, 'store' | 'federation' | 'me'>): Promise<string[]> {
  return (await ctx.store.datasets())
    .filter((d) => Object.hasOwn(ctx.federation.schema.datasets, d) && mayServe(ctx.me, d))
    .sort();
}

/**
 * Admits the query through the agency's log witness and records, durably, the receipts the proof
 * carries. Anything wrong is a refusal, except a stale proof: that is a race between two queries,
 * and the coordinator resends.
 */
export async function admitLogProof(
  ctx: AgencyContext,
  query: SignedQuery,
  env: QueryEnvelope,
  proof: QueryLogProof | undefined,
  trail: AnswerTrail,
): Promise<void> {
  try {
    await ctx.witness.admit(proof, { queryId: env.queryId, queryDigest: queryDigest(query.bytes) });
    if (ctx.ledger !== undefined) await recordReceipts(ctx.ledger, ctx.witness, proof);
  } catch (e) {
    if (!(e instanceof FedstatError) || e.code === 'STALE_HEAD') throw e;
    trail.refuse(e.code, e.message);
  }
}

/** The agency's own policy, in this order; each failure but the restart check is a signed refusal. */
export async function checkPolicy(ctx: AgencyContext, env: QueryEnvelope, trail: AnswerTrail): Promise<AdmittedQuery> {
  const { federation, me } = ctx;
  if (!env.agencies.includes(me.id)) trail.refuse('POLICY_REFUSED', 'it is not among the agencies the query names');
  if (env.mode !== 'encrypted' && !ctx.allowPlaintextMode) {
    trail.refuse('POLICY_REFUSED', `${env.mode} answers are disabled here (they are for benchmarks only)`);
  }
  if (!(await servedDatasets(ctx)).includes(env.plan.dataset))
    trail.refuse('NOT_FOUND', `dataset ${env.plan.dataset} is not served here`);
  if (env.issuedAt < ctx.startedAt) {
    throw new FedstatError(
      'REPLAY',
      `agency ${me.id} refuses query ${env.queryId}: it was issued before the agency (re)started and may have been answered already; run the query again`,
    );
  }
  const schema = datasetSchemaOf(federation, env.plan.dataset);
  if (env.privacy === undefined && !federation.policy.exactRelease)
    trail.refuse(
      'POLICY_REFUSED',
      'the federation policy requires differential privacy for every query; run it with --rho',
    );
  const rho = env.privacy === undefined ? null : openQueryRho(env.privacy.rho);
  try {
    return { schema, rho, ...admittedWork(ctx, env, schema, rho) };
  } catch (e) {
    if (e instanceof FedstatError && (e.code === 'PLAN_UNSAFE' || e.code === 'POLICY_REFUSED'))
      trail.refuse('POLICY_REFUSED', e.message);
    throw e;
  }
}

/** What the admitted query computes, with the noise its ρ buys (PLAN_UNSAFE when it cannot be had). */
function admittedWork(ctx: AgencyContext, env: QueryEnvelope, schema: DatasetSchema, rho: Rational | null) {
  const { plan } = env;
  if (isGlmRoundPlan(plan)) {
    const privacy = rho === null ? null : { rho, threshold: env.threshold };
    return { kind: 'glm' as const, plan, encoding: glmRoundPlan(ctx.federation, plan, privacy) };
  }
  if (isFlRoundPlan(plan)) {
    const privacy = rho === null ? null : { rho, threshold: env.threshold };
    const round = { ...plan, clip: plan.hyper.clip };
    const encoding = flRoundEncoding(ctx.federation, round, privacy);
    const trainer = networkTrainer(plan.model, plan.coding, ctx.trainers);
    if (trainer.size !== encoding.inputs.parameters)
      throw new FedstatError(
        'POLICY_REFUSED',
        `this agency's trainer ${plan.model.kind === 'custom' ? plan.model.name : 'mlp'} has ${trainer.size} parameters, the round ${encoding.inputs.parameters}; register the same trainer as the coordinator`,
      );
    return { kind: 'fl' as const, plan, encoding, trainer };
  }
  if (isJoinRoundPlan(plan)) {
    if (env.mode !== 'encrypted') throw new FedstatError('POLICY_REFUSED', 'join queries are answered encrypted only');
    const join = joinCells(plan, ctx.federation.schema);
    const terms = rho === null ? null : joinPrivacyTerms(plan, join, rho, env.threshold);
    return { kind: 'join' as const, plan, join, terms };
  }
  const cells = planCells(plan, schema);
  return {
    kind: 'cells' as const,
    plan,
    cells,
    terms: rho === null ? null : privacyTerms(cells, schema, rho, env.threshold),
  };
}
