/**
 * Round 1 of a join at a multiplying agency: one ciphertext per released cell, the inner product
 * of the encrypting side's summed components (loaded before round 1) with this agency's own
 * components at its positions, plus the cell's slot (its noise and secure-aggregation mask) in
 * coefficient 0. The other coefficients are masked cross terms (he/inner-product.ts).
 */
import { FedstatError } from '../errors.js';
import { InnerProducts } from '../he/inner-product.js';
import type { SlotLayout } from '../he/packing.js';
import type { JoinCells } from '../protocol/join-round.js';
import type { AgencyContext } from './agency-context.js';
import type { LinkSession } from './link-session.js';
import { linkValues } from './link-values.js';

/** The payloads of this agency's round-1 answer to a join: one serialized ciphertext per cell. */
export async function joinPayloads(
  ctx: AgencyContext,
  session: LinkSession,
  join: JoinCells,
  layout: SlotLayout,
  slots: readonly BigUint64Array[],
): Promise<Uint8Array[]> {
  const loaded = session.loaded;
  if (loaded === null)
    throw new FedstatError('BAD_MESSAGE', `query ${session.env.queryId}: round 1 came before the encrypted components`);
  if (slots.length !== join.outputs.length || layout.ciphertextCount !== join.outputs.length)
    throw new FedstatError('INTERNAL', 'the join layout does not hold one cell per ciphertext');
  const weights = linkValues(session, join, session.side);
  using products = new InnerProducts(ctx.params, ctx.hePublicKey, loaded.summed);
  return await products.computeAsync(
    loaded.positions,
    join.outputs.map((o, i) => {
      const w = weights[o.mComponent];
      if (w === undefined)
        throw new FedstatError('INTERNAL', `the join names component ${o.mComponent} of ${weights.length}`);
      return { component: o.eComponent, weights: w, constant: slots[i]?.[0] ?? 0n };
    }),
  );
}
