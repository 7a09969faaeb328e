/**
 * The steps from an admitted query to this agency's signed contribution: the slot layout (the
 * no-wrap proof the coordinator derives too), the local aggregate packed into slots, the agency's
 * noise, the secure-aggregation masks, the encryption, the signature. Noise comes before masking
 * and encryption: nobody, not even the key authority, sees a total without it.
 */
import { sha256, toHex } from '../crypto/digest.js';
import { datasetParties } from '../federation/federation.js';
import { addNoise, packSlots, planSlotLayout, type SlotLayout } from '../he/packing.js';
import { encodeCells } from '../protocol/cells.js';
import { joinSlotLayout } from '../protocol/join-round.js';
import { signContribution, slotsToBytes, type Contribution, type MaskingMaterial } from '../protocol/contribution.js';
import { addFlatInto } from '../protocol/flat-slots.js';
import { drawCellNoiseYielding } from '../protocol/privacy-terms.js';
import { queryDigest, type AnswerMode, type QueryEnvelope, type SignedQuery } from '../protocol/query-envelope.js';
import type { AgencyContext } from './agency-context.js';
import type { AdmittedQuery } from './admission.js';
import type { AnswerTrail } from './answer-trail.js';
import { flContribution } from './fl-contribution.js';
import { glmContribution } from './glm-contribution.js';

/** This agency's part of the admitted query, in slots, with its share of the noise, and their layout. */
export async function localContribution(
  ctx: AgencyContext,
  q: AdmittedQuery,
): Promise<{ layout: SlotLayout; slots: BigUint64Array[] }> {
  if (q.kind === 'glm') return glmContribution(ctx, q.plan, q.schema, q.encoding);
  if (q.kind === 'fl') return flContribution(ctx, q.plan, q.schema, q.encoding, q.trainer);
  if (q.kind === 'join') {
    // The values come from the inner products (join-contribution.ts): the slots carry noise and masks only.
    const parties = datasetParties(ctx.federation, q.plan.dataset).length;
    const layout = joinSlotLayout(q.join, parties, ctx.params.plainModulus, q.terms?.agencyNoiseBound ?? 0n);
    const slots = packSlots(layout, new Array<bigint>(q.join.cells.cellBounds.length).fill(0n));
    if (q.terms !== null)
      addNoise(layout, slots, await drawCellNoiseYielding(q.terms, q.join.cells.groupCount, ctx.random));
    return { layout, slots };
  }
  // Laid out against every agency the federation lets serve the dataset, with room for the noise.
  const parties = datasetParties(ctx.federation, q.plan.dataset).length;
  const layout = planSlotLayout(q.cells.cellBounds, parties, ctx.params, q.terms?.agencyNoiseBound ?? 0n);
  const local = await ctx.store.aggregate(q.plan, q.schema);
  const slots = packSlots(layout, encodeCells(q.cells, local));
  if (q.terms !== null) addNoise(layout, slots, await drawCellNoiseYielding(q.terms, q.cells.groupCount, ctx.random));
  return { layout, slots };
}

/** Round 1 of secure aggregation: adds this agency's masks to `slots` and returns the material that removes them. */
export function maskSlots(
  ctx: AgencyContext,
  env: QueryEnvelope,
  layout: SlotLayout,
  slots: BigUint64Array[],
  now: number,
): MaskingMaterial {
  const { plainModulus } = ctx.params;
  const round1 = ctx.participant.round1(
    {
      queryId: env.queryId,
      participants: env.agencies,
      threshold: env.threshold,
      length: layout.slotsUsed,
      modulus: plainModulus,
      expiresAt: env.expiresAt,
      ...(env.secaggGraph === undefined ? {} : { graph: env.secaggGraph }),
    },
    now,
  );
  addFlatInto(slots, round1.mask, plainModulus);
  return { shares: round1.shares, commitment: round1.commitment, pairwiseCommitments: round1.pairwiseCommitments };
}

/** The payloads: BFV ciphertexts, or (`plaintext` mode, benchmarks only) the slot vectors themselves. */
export function encryptSlots(ctx: AgencyContext, mode: AnswerMode, slots: readonly BigUint64Array[]): Uint8Array[] {
  return mode === 'plaintext' ? slots.map(slotsToBytes) : slots.map((s) => ctx.encryptor.encrypt(s));
}

/** Signs the contribution and records its `contribution` event; the answer carries every entry of `trail`. */
export function signAnswer(
  ctx: AgencyContext,
  query: SignedQuery,
  env: QueryEnvelope,
  payloads: readonly Uint8Array[],
  masking: MaskingMaterial | null,
  now: number,
  trail: AnswerTrail,
): Contribution {
  const { federation, me, secrets } = ctx;
  const contribution = signContribution(
    federation.id,
    queryDigest(query.bytes),
    me.id,
    env.queryId,
    env.mode,
    payloads,
    masking,
    secrets.signing.secretKey,
  );
  trail.record({
    type: 'contribution',
    at: now,
    queryId: env.queryId,
    agencyId: me.id,
    digest: toHex(sha256(contribution.signature)),
  });
  return { ...contribution, logEntries: trail.entries };
}
