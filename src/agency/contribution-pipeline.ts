/**
 * The path from an agency's exact local cells to the bytes it sends:
 *   cells → packed slots → stages → encrypt → sign.
 * Stages transform packed slot vectors modulo the plain modulus between packing and encryption.
 * That is where secure-aggregation masks and distributed-DP noise slot in; with no stages the
 * agency sends its packed cells encrypted as they are.
 */
import type { SlotLayout } from '../he/packing.js';
import type { QueryEnvelope } from '../protocol/query-envelope.js';

export interface StageContext {
  readonly envelope: QueryEnvelope;
  readonly agencyId: string;
  readonly layout: SlotLayout;
  readonly plainModulus: bigint;
}

export interface ContributionStage {
  readonly name: string;
  /** Returns the transformed slot vectors (same count and length); may transform in place. */
  apply(slots: BigUint64Array[], context: StageContext): BigUint64Array[] | Promise<BigUint64Array[]>;
}

export async function runStages(
  stages: readonly ContributionStage[], slots: BigUint64Array[], context: StageContext,
): Promise<BigUint64Array[]> {
  let current = slots;
  for (const stage of stages) current = await stage.apply(current, context);
  return current;
}
