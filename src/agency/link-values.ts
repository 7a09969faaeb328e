/**
 * One side's per-element vectors of a join: for each component (group × (COUNT, SUM of each of
 * the side's measures)), the value of every element in the order the agency sent its elements.
 * SUM components are shifted by the column's negative minimum (Σ(x − min) = Σx − min·COUNT), as
 * cells.ts shifts a single-dataset query's sums, so joined totals decode the same way. The
 * anti-join's encrypting side sends a single component: 1 for every id it holds (presence).
 */
import { FedstatError } from '../errors.js';
import type { JoinCells } from '../protocol/join-round.js';
import { encryptingSide } from '../protocol/join-round.js';
import type { JoinSideName } from '../query/join-plan.js';
import type { LinkSession } from './link-session.js';

/** The component vectors of `side` (the session's own side), in element order. */
export function linkValues(session: LinkSession, cells: JoinCells, side: JoinSideName): BigInt64Array[] {
  const n = session.order.length;
  if (session.plan.join.join === 'anti' && side === encryptingSide(session.plan))
    return [new BigInt64Array(n).fill(1n)];
  const { comps, width } = session.inputs;
  if (width !== cells.widths[side] || comps.length !== width * session.inputs.ids.length)
    throw new FedstatError(
      'INTERNAL',
      `the store returned ${width} components per id, the join needs ${cells.widths[side]}`,
    );
  const offsets = cells.offsets[side];
  const stride = 1 + offsets.length;
  const out: BigInt64Array[] = [];
  for (let c = 0; c < width; c++) {
    const k = c % stride; // 0: COUNT, k ≥ 1: SUM of measure k − 1
    const offset = k === 0 ? 0n : (offsets[k - 1] ?? 0n);
    const countAt = c - k;
    const values = new BigInt64Array(n);
    for (let e = 0; e < n; e++) {
      const row = (session.order[e] ?? 0) * width;
      const v = comps[row + c] ?? 0n;
      values[e] = offset === 0n ? v : v - offset * (comps[row + countAt] ?? 0n);
    }
    out.push(values);
  }
  return out;
}
