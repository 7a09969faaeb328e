/**
 * An agency's part of one GLM Newton round: its round sums at the signed β, computed by its own
 * store in one SQL statement, encoded in fixed point under the plan both sides derived (with this
 * agency's share of the noise in a DP round), split into the round's ciphertexts.
 */
import type { DatasetSchema } from '../federation/schema.js';
import type { SlotLayout } from '../he/packing.js';
import { encodeGlmSums, type GlmEncodingPlan } from '../learn/fixed-point.js';
import { drawGlmNoise } from '../learn/glm-noise.js';
import { splitFlat } from '../protocol/flat-slots.js';
import { glmSlotLayout, type GlmRoundPlan } from '../protocol/glm-round.js';
import type { AgencyContext } from './agency-context.js';

/** The round's slots and their layout (see the file comment). */
export async function glmContribution(
  ctx: AgencyContext,
  plan: GlmRoundPlan,
  schema: DatasetSchema,
  encoding: GlmEncodingPlan,
): Promise<{ layout: SlotLayout; slots: BigUint64Array[] }> {
  const sums = await ctx.store.glmSums(plan.coding, schema, plan.beta, plan.where);
  const noise = encoding.privacy === undefined ? undefined : await drawGlmNoise(encoding, ctx.random);
  const layout = glmSlotLayout(encoding);
  const flat = encodeGlmSums(sums, encoding, noise);
  return { layout, slots: splitFlat(flat, layout.slotCount, layout.ciphertextCount) };
}
