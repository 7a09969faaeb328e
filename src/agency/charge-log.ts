/**
 * An agency's budget charges on their way to the transparency log. Every charge is recorded in
 * the ledger together with the agency's signed `budget` entry (one write, so a crash cannot keep
 * one without the other, bar a torn final line: `signUnsignedCharges` re-signs such a charge on
 * start). Until the agency has seen a receipt for an entry (its inclusion proof under a tree head
 * it accepted), the entry is `unlogged`: offered again in every Describe, whatever happened to
 * the query or the coordinator that was running it.
 */
import { toHex } from '../crypto/digest.js';
import type { AuditEvent } from '../transparency/events.js';
import type { BudgetLedger, Charge, ChargeState } from '../dp/budget-ledger.js';
import { rhoAdd, rhoToString, RHO_ZERO, type Rho } from '../dp/rho.js';
import { MAX_UNLOGGED_ENTRIES } from '../protocol/links.js';
import { entryFromEvent } from '../transparency/log-entry.js';
import type { LogWitness } from '../transparency/log-witness.js';
import { hashLeaf } from '../merkle/merkle-hash.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';

type BudgetEvent = Extract<AuditEvent, { type: 'budget' }>;

/** The `budget` event of a charge: what the agency signs into the log about it. */
export function budgetEvent(agencyId: string, charge: Charge, state: ChargeState): BudgetEvent {
  return {
    type: 'budget',
    at: Date.parse(charge.at),
    queryId: charge.queryId,
    agencyId,
    dataset: charge.dataset,
    rho: rhoToString(charge.rho),
    spent: rhoToString(state.spent),
    budget: rhoToString(state.budget),
    ledgerHead: charge.hash,
  };
}

/** Signs `budget` entries as `agencyId`. */
export function budgetEntrySigner(
  agencyId: string,
  secretKey: Uint8Array,
): (charge: Charge, state: ChargeState) => Uint8Array {
  return (charge, state) => entryFromEvent(budgetEvent(agencyId, charge, state), agencyId, secretKey);
}

/**
 * Records an entry for every charge that has none: charges cut by a crash between the charge and
 * its entry, and charges of a ledger written before entries were kept. Each is signed with the
 * dataset's total at that charge and the budget of today's policy (the charge's own is not in
 * the ledger; a dataset without a budget now reports its total as the budget).
 */
export async function signUnsignedCharges(
  ledger: BudgetLedger,
  sign: (charge: Charge, state: ChargeState) => Uint8Array,
): Promise<void> {
  const unsigned = new Set(ledger.unsigned().map((c) => c.seq));
  if (unsigned.size === 0) return;
  const spent = new Map<string, Rho>();
  for (const charge of ledger.entries()) {
    const total = rhoAdd(spent.get(charge.dataset) ?? RHO_ZERO, charge.rho);
    spent.set(charge.dataset, total);
    if (!unsigned.has(charge.seq)) continue;
    const budget = ledger.datasets().includes(charge.dataset) ? ledger.budget(charge.dataset) : total;
    await ledger.attachEntry(charge, sign(charge, { spent: total, budget }));
  }
}

/** The entries to offer in Describe: the oldest unlogged ones, as many as one answer carries. */
export function unloggedEntries(ledger: BudgetLedger): Uint8Array[] {
  return ledger
    .unlogged()
    .slice(0, MAX_UNLOGGED_ENTRIES)
    .map((u) => u.entry);
}

/**
 * Records, durably, every unlogged charge whose entry the admitted `proof` carries a receipt
 * for. BAD_MESSAGE (from the witness) when a receipt does not prove its entry.
 */
export async function recordReceipts(
  ledger: BudgetLedger,
  witness: LogWitness,
  proof: QueryLogProof | undefined,
): Promise<void> {
  if (proof === undefined || (proof.receipts ?? []).length === 0) return;
  const proven = witness.receipts(proof);
  for (const { charge, entry } of ledger.unlogged()) {
    const index = proven.get(toHex(hashLeaf(entry)));
    if (index !== undefined) await ledger.markLogged(charge, index);
  }
}
