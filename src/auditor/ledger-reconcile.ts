/**
 * Reconciling one agency's budget ledger with the log: the agency's own record of what it spent
 * (src/dp/budget-ledger.ts, read with `readLedgerCharges`) against the budget entries it signed
 * into the log. Every ledger charge must appear in the log exactly as the ledger holds it — same
 * dataset, query, ρ, total spent on the dataset after it, and ledger chain head after it — and
 * every budget entry the agency logged must be a charge of its ledger.
 *
 * A charge missing from the log is spend nobody can audit; a logged charge the ledger lacks means
 * the ledger lost a charge (or is not this agency's, or an older copy); a mismatch means the
 * agency logged something other than what it recorded. Duplicated budget entries are the policy
 * checker's `duplicate-charge`; the first one is the one reconciled.
 */
import { displayCanonicalRho, parseCanonicalRho, RHO_ZERO, rhoAdd, rhoToString } from '../dp/rho.js';
import type { LedgerCharge } from '../dp/ledger-charges.js';
import type { FindingList } from './findings.js';
import type { LoggedCharge } from './policy-checker.js';

/** One agency's ledger to reconcile. */
export interface LedgerToReconcile {
  /** The agency (party id) whose ledger this is. */
  readonly agency: string;
  /** Where it was read from (for the report). */
  readonly file: string;
  /** The ledger's charges, oldest first, as `readLedgerCharges` returns them. */
  readonly charges: readonly LedgerCharge[];
}

/** What reconciling one ledger found (each problem is also a finding). */
export interface LedgerReconciliation {
  /** The agency (party id) whose ledger this is. */
  readonly agency: string;
  /** Where the ledger was read from, as given. */
  readonly file: string;
  /** Charges in the ledger. */
  readonly ledgerCharges: number;
  /** Distinct charges (dataset, query) the agency logged. */
  readonly loggedCharges: number;
  /** Ledger charges logged exactly as recorded. */
  readonly matched: number;
  /** Ledger charges the log does not hold (`missing-in-log` findings). */
  readonly missingInLog: number;
  /** Logged charges the ledger does not hold (`missing-in-ledger` findings). */
  readonly missingInLedger: number;
  /** Charges in both that differ (`ledger-mismatch` findings). */
  readonly mismatched: number;
}

const key = (dataset: string, queryId: string): string => JSON.stringify([dataset, queryId]);

/**
 * Reconciles `ledger` with `logged` (every budget entry of the log, from the policy checker) and
 * adds a finding for each charge missing from the log (`missing-in-log`), each logged charge
 * missing from the ledger (`missing-in-ledger`) and each one that differs (`ledger-mismatch`).
 */
export function reconcileLedger(
  ledger: LedgerToReconcile,
  logged: readonly LoggedCharge[],
  findings: FindingList,
): LedgerReconciliation {
  const byKey = new Map<string, LoggedCharge>();
  for (const l of logged) {
    const k = key(l.dataset, l.queryId);
    if (l.agency === ledger.agency && !byKey.has(k)) byKey.set(k, l);
  }
  const inLedger = new Set<string>();
  const spent = new Map<string, ReturnType<typeof rhoAdd>>();
  let matched = 0;
  let missingInLog = 0;
  let mismatched = 0;
  const who = `${ledger.agency}'s ledger`;
  for (const c of ledger.charges) {
    const total = rhoAdd(spent.get(c.dataset) ?? RHO_ZERO, parseCanonicalRho(c.rho) ?? RHO_ZERO);
    spent.set(c.dataset, total);
    const k = key(c.dataset, c.queryId);
    inLedger.add(k);
    const what = `charge ${c.seq} (query ${c.queryId} on ${c.dataset}, rho ${displayCanonicalRho(c.rho)}, at ${c.at})`;
    const l = byKey.get(k);
    if (l === undefined) {
      missingInLog++;
      findings.add(
        'missing-in-log',
        null,
        `${who} ${what} has no budget entry by ${ledger.agency} in the log: spend nobody can audit`,
      );
      continue;
    }
    const differ: string[] = [];
    if (l.rho !== c.rho)
      differ.push(`rho ${displayCanonicalRho(l.rho)} logged, ${displayCanonicalRho(c.rho)} in the ledger`);
    if (l.spent !== rhoToString(total))
      differ.push(
        `spent ${displayCanonicalRho(l.spent)} logged, ${displayCanonicalRho(rhoToString(total))} in the ledger`,
      );
    if (l.ledgerHead !== c.hash)
      differ.push(`ledger head ${l.ledgerHead.slice(0, 12)}… logged, ${c.hash.slice(0, 12)}… in the ledger`);
    if (differ.length > 0) {
      mismatched++;
      findings.add(
        'ledger-mismatch',
        l.index,
        `${ledger.agency}'s logged charge differs from ${who} ${what}: ${differ.join('; ')}`,
      );
    } else {
      matched++;
    }
  }
  let missingInLedger = 0;
  for (const [k, l] of byKey) {
    if (inLedger.has(k)) continue;
    missingInLedger++;
    findings.add(
      'missing-in-ledger',
      l.index,
      `${ledger.agency} logged a charge of rho ${displayCanonicalRho(l.rho)} for query ${l.queryId} on ${l.dataset} that ${who} does not hold: the ledger lost it, or is an older copy or another agency's`,
    );
  }
  return Object.freeze({
    agency: ledger.agency,
    file: ledger.file,
    ledgerCharges: ledger.charges.length,
    loggedCharges: byKey.size,
    matched,
    missingInLog,
    missingInLedger,
    mismatched,
  });
}
