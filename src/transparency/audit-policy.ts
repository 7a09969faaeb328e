/**
 * The federation's policy, checked over a log one entry at a time (entries whose signature and
 * author were already verified; forged entries never count). Ordering matters: the log is
 * append-only, so a release must come after its query and the contributions it combines, and a
 * decryption after its query; an entry that refers to a query the log has not shown yet refers
 * to a query nobody can audit.
 *
 * Budgets are exact rationals (never floats). For each agency and dataset: the sum of the
 * charges in the log must stay within the budget each charge records, the agency's own reported
 * `spent` must too, and consecutive charges must move `spent` by exactly the charge (a jump means
 * charges were made that the log does not show).
 *
 * Memory: one small record per query id (needed to catch a release or decryption repeated any
 * time later) and one per agency and dataset; a released query keeps only its flags.
 */
import type { AuditEvent } from '../audit/events.js';
import { formatRho, parseCanonicalRho, RHO_ZERO, rhoAdd, rhoCompare, rhoToString, type Rho } from '../dp/budget-rho.js';
import type { Policy } from '../federation/federation.js';
import type { FindingList } from './audit-findings.js';
import { ENTRY_KINDS, type EntryKind } from './entry-shape.js';

/** One agency's logged spending on one dataset. */
export interface BudgetSummary {
  readonly agency: string;
  readonly dataset: string;
  /** Budget entries in the log. */
  readonly charges: number;
  /** Sum of the logged charges, canonical "n/d". */
  readonly logged: string;
  /** The agency's total spent after its last logged charge, as it reported it ("n/d"). */
  readonly spent: string;
  /** The budget its last charge recorded ("n/d"). */
  readonly budget: string;
}

interface QueryState {
  readonly index: number;
  readonly agencies: ReadonlySet<string>;
  /** Agencies with a logged contribution; dropped to null once released (no longer needed). */
  contributed: Set<string> | null;
  /** agency → ρ it charged for this query (canonical text). */
  charged: Map<string, string> | null;
  released: number | null;
  decrypted: number | null;
}

interface BudgetState {
  charges: number;
  logged: Rho;
  spent: Rho;
  budget: Rho;
}

const rhoOf = (text: string): Rho => parseCanonicalRho(text) ?? RHO_ZERO; // shapes are checked on decode
const show = (r: Rho): string => formatRho(r);

export class AuditPolicyChecker {
  readonly #policy: Policy;
  readonly #findings: FindingList;
  readonly #queries = new Map<string, QueryState>();
  readonly #budgets = new Map<string, BudgetState>();
  readonly #counts = new Map<EntryKind, number>(ENTRY_KINDS.map((k) => [k, 0]));

  constructor(policy: Policy, findings: FindingList) {
    this.#policy = policy;
    this.#findings = findings;
  }

  /** Entries seen per kind. */
  counts(): Record<EntryKind, number> {
    return Object.fromEntries(this.#counts) as Record<EntryKind, number>;
  }

  /** Per agency and dataset, sorted. */
  budgets(): BudgetSummary[] {
    return [...this.#budgets.entries()].map(([key, b]) => {
      const [agency = '', dataset = ''] = JSON.parse(key) as string[];
      return { agency, dataset, charges: b.charges, logged: rhoToString(b.logged), spent: rhoToString(b.spent), budget: rhoToString(b.budget) };
    }).sort((a, b) => a.agency.localeCompare(b.agency) || a.dataset.localeCompare(b.dataset));
  }

  /** Checks entry `index`, whose author is verified. */
  check(index: number, event: AuditEvent): void {
    this.#counts.set(event.type, (this.#counts.get(event.type) ?? 0) + 1);
    const f = this.#findings;
    const q = this.#queries.get(event.queryId);
    const unknown = (what: string): void => f.add('unknown-query', index, `${what} refers to query ${event.queryId}, which the log does not show asked before it`);
    switch (event.type) {
      case 'query':
        if (q !== undefined) {
          f.add('duplicate-query', index, `query id ${event.queryId} was already logged at entry ${q.index}`);
          return;
        }
        this.#queries.set(event.queryId, {
          index, agencies: new Set(event.agencies), contributed: new Set(), charged: new Map(), released: null, decrypted: null,
        });
        return;
      case 'contribution':
        if (q === undefined) return unknown(`${event.agencyId}'s contribution`);
        if (!q.agencies.has(event.agencyId)) f.add('not-asked', index, `${event.agencyId} contributed to query ${event.queryId}, which did not ask it`);
        if (q.contributed?.has(event.agencyId) === true) f.add('duplicate-contribution', index, `${event.agencyId} contributed to query ${event.queryId} twice`);
        q.contributed?.add(event.agencyId);
        return;
      case 'survivors':
      case 'unmask':
        if (q === undefined) unknown(`a ${event.type} entry`);
        return;
      case 'refusal':
        return; // refusing an unknown or unlogged query is exactly right
      case 'budget':
        if (q === undefined) unknown(`${event.agencyId}'s budget charge`);
        else q.charged?.set(event.agencyId, event.rho);
        this.#budget(index, event);
        return;
      case 'decryption':
        if (q === undefined) {
          f.add('decryption-without-query', index, `the key authority decrypted query ${event.queryId}, which the log does not show asked before it`);
          return;
        }
        if (q.decrypted !== null) f.add('decrypted-twice', index, `query ${event.queryId} was already decrypted at entry ${q.decrypted}`);
        else q.decrypted = index;
        return;
      case 'release':
        this.#release(index, event, q);
        return;
    }
  }

  #release(index: number, event: AuditEvent & { type: 'release' }, q: QueryState | undefined): void {
    const f = this.#findings;
    if (q === undefined) {
      f.add('release-without-query', index, `query ${event.queryId} was released but the log does not show it asked before`);
      return;
    }
    if (q.released !== null) {
      f.add('released-twice', index, `query ${event.queryId} was already released at entry ${q.released}`);
      return;
    }
    q.released = index;
    const contributed = q.contributed ?? new Set<string>();
    if (contributed.size < this.#policy.minAgencies) {
      f.add('too-few-contributions', index, `query ${event.queryId} was released with ${contributed.size} logged contribution(s); the policy needs at least ${this.#policy.minAgencies}`);
    }
    for (const agency of event.contributors) {
      if (!contributed.has(agency)) {
        f.add('unbacked-contributor', index, `the release of query ${event.queryId} names ${agency}, which logged no contribution to it`);
      } else if (event.rho !== null && q.charged?.get(agency) !== event.rho) {
        f.add('unpaid-release', index, `query ${event.queryId} was released at rho ${show(rhoOf(event.rho))} but ${agency} logged no charge of that rho for it`);
      }
    }
    q.contributed = null;
    q.charged = null;
  }

  #budget(index: number, e: AuditEvent & { type: 'budget' }): void {
    const f = this.#findings;
    const key = JSON.stringify([e.agencyId, e.dataset]);
    const rho = rhoOf(e.rho);
    const spent = rhoOf(e.spent);
    const budget = rhoOf(e.budget);
    const prev = this.#budgets.get(key);
    const logged = rhoAdd(prev?.logged ?? RHO_ZERO, rho);
    const who = `${e.agencyId} on ${e.dataset}`;
    if (rhoCompare(spent, budget) > 0) {
      f.add('budget-exceeded', index, `${who} reports spent ${show(spent)} over its budget ${show(budget)}`);
    } else if (rhoCompare(logged, budget) > 0) {
      f.add('budget-exceeded', index, `the charges of ${who} in the log add up to ${show(logged)}, over its budget ${show(budget)}`);
    }
    const expected = prev === undefined ? null : rhoAdd(prev.spent, rho);
    if (expected !== null && rhoCompare(spent, expected) !== 0) {
      f.add('budget-gap', index, `${who} moved from spent ${show(prev!.spent)} to ${show(spent)} with a charge of ${show(rho)}: charges are missing from the log`);
    } else if (expected === null && rhoCompare(spent, rho) < 0) {
      f.add('budget-gap', index, `${who} reports spent ${show(spent)}, less than this charge of ${show(rho)}`);
    }
    this.#budgets.set(key, { charges: (prev?.charges ?? 0) + 1, logged, spent, budget });
  }
}
