/**
 * An agency's part of one federated-averaging round: its records read from its own store in
 * batches (they never leave it), the local work of learn/fl/local-round.ts at the signed global
 * parameters, its share of the noise in a DP round, split into the round's ciphertexts.
 */
import { randomBytes } from 'node:crypto';
import { taggedDigest } from '../crypto/digest.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { SlotLayout } from '../he/packing.js';
import { drawFlNoise, encodeFlUnits, type FlEncodingPlan } from '../learn/fl/fl-encoding.js';
import { modelColumns, responseScale } from '../learn/fl/fl-model.js';
import type { Trainer } from '../learn/fl/trainer.js';
import { localRoundUnits } from '../learn/fl/local-round.js';
import { RoundingStream } from '../learn/fl/rounding-stream.js';
import { splitFlat } from '../protocol/flat-slots.js';
import { decodeParameters, flSlotLayout, type FlRoundPlan } from '../protocol/fl-round.js';
import type { AgencyContext } from './agency-context.js';

/** Records read from the store at a time. */
const SCAN_ROWS = 4096;

/** The round's slots and their layout (see the file comment). */
export async function flContribution(
  ctx: AgencyContext,
  plan: FlRoundPlan,
  schema: DatasetSchema,
  encoding: FlEncodingPlan,
  trainer: Trainer,
): Promise<{ layout: SlotLayout; slots: BigUint64Array[] }> {
  const dp = encoding.inputs.privacy !== null;
  // Exact rounds round and shuffle from the run's seed and step, so a resumed run (or another with the seed) repeats them bit for bit.
  const seed = (what: string): Uint8Array =>
    dp ? randomBytes(16) : taggedDigest(`fedstat/fl-${what}/v1`, plan.seed, plan.step, ctx.me.id);
  const records = ctx.store.scanRecords(plan.dataset, schema, modelColumns(plan.coding), plan.where, SCAN_ROWS);
  const units = await localRoundUnits(
    {
      trainer,
      coding: plan.coding,
      responseScale: responseScale(plan.coding, schema),
      global: decodeParameters(plan.parameters, trainer.size),
      plan: encoding,
      hyper: plan.hyper,
      train: plan.train,
      validation: plan.validation,
      splitKey: String(plan.seed),
      rounding: new RoundingStream(seed('rounding')),
      shuffle: new RoundingStream(seed('shuffle')),
    },
    records,
  );
  const noise = dp ? await drawFlNoise(encoding, ctx.random) : undefined;
  const layout = flSlotLayout(encoding);
  const flat = encodeFlUnits(units, encoding, noise);
  return { layout, slots: splitFlat(flat, layout.slotCount, layout.ciphertextCount) };
}
