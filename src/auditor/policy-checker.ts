/**
 * The federation's policy, checked over a log one entry at a time (entries whose signature and
 * author were already verified; forged entries never count). Ordering matters: the log is
 * append-only, so a release must come after its query and the contributions it combines, and a
 * decryption after its query; an entry that refers to a query the log has not shown yet refers
 * to a query nobody can audit.
 *
 * Budgets are exact rationals (never floats), and checked independently of log order: a budget
 * charge may reach the log late (an agency hands over a charge whose entry the coordinator never
 * appended with a later answer), after later charges of the same agency and after its query's
 * release or failure; it must still refer to a query logged before it. Per agency and dataset,
 * the charges ordered by the agency's reported total `spent` must form a chain from zero: each
 * total is the one before plus the charge's ρ, the first one is its own ρ. A total that grows by
 * more than its charge shows spend no logged charge explains (`budget-gap`, naming the amount,
 * also before the first logged charge); one that grows by less shows charges claiming the same
 * spend. Both totals and the sum of the charges must stay within the budget the charges record,
 * and one agency charges one query on one dataset once. The chain is checked by `finish`, after
 * the last entry.
 *
 * Memory: one small record per query id (needed to catch a release or decryption repeated any
 * time later), one per budget charge (the chain is checked at the end) and one per agency and
 * dataset; a released query keeps only its flags.
 */
import type { AuditEvent } from '../transparency/events.js';
import {
  displayCanonicalRho,
  formatRho,
  parseCanonicalRho,
  RHO_ZERO,
  rhoAdd,
  rhoCompare,
  rhoToString,
  type Rho,
} from '../dp/rho.js';
import { sub } from '../dp/rational.js';
import type { Policy } from '../federation/federation.js';
import type { FindingList } from './findings.js';
import { ENTRY_KINDS, type EntryKind } from '../transparency/entry-shape.js';

/** One agency's logged spending on one dataset. */
export interface BudgetSummary {
  /** The agency (party id). */
  readonly agency: string;
  /** The dataset the budget is for. */
  readonly dataset: string;
  /** Budget entries in the log (a repeated charge of one query counts once). */
  readonly charges: number;
  /** Sum of the logged charges, canonical "n/d". */
  readonly logged: string;
  /** The largest total spent the agency reported with a logged charge ("n/d"). */
  readonly spent: string;
  /** The budget recorded by the charge with that total ("n/d"). */
  readonly budget: string;
}

/** A logged budget charge, as the auditor reconciles it with the agency's ledger. */
export interface LoggedCharge {
  /** Its entry index in the log. */
  readonly index: number;
  readonly agency: string;
  readonly dataset: string;
  readonly queryId: string;
  /** Canonical "n/d" texts, as logged. */
  readonly rho: string;
  readonly spent: string;
  readonly budget: string;
  readonly ledgerHead: string;
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

interface ChainLink {
  readonly index: number;
  readonly queryId: string;
  readonly rho: Rho;
  readonly spent: Rho;
  readonly budget: Rho;
}

const rhoOf = (text: string): Rho => parseCanonicalRho(text) ?? RHO_ZERO; // shapes are checked on decode

export class AuditPolicyChecker {
  readonly #policy: Policy;
  readonly #findings: FindingList;
  readonly #queries = new Map<string, QueryState>();
  /** Per agency and dataset (JSON [agency, dataset]): its charges in log order, each query once. */
  readonly #chains = new Map<string, ChainLink[]>();
  /** JSON [agency, dataset, queryId] → entry index of its first charge. */
  readonly #charged = new Map<string, number>();
  readonly #logged: LoggedCharge[] = [];
  readonly #counts = new Map<EntryKind, number>(ENTRY_KINDS.map((k) => [k, 0]));
  #finished = false;

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
    return [...this.#chains.entries()]
      .map(([key, links]) => {
        const [agency = '', dataset = ''] = JSON.parse(key) as string[];
        let logged = RHO_ZERO;
        let last = links[0]!;
        for (const l of links) {
          logged = rhoAdd(logged, l.rho);
          if (rhoCompare(l.spent, last.spent) >= 0) last = l;
        }
        return {
          agency,
          dataset,
          charges: links.length,
          logged: rhoToString(logged),
          spent: rhoToString(last.spent),
          budget: rhoToString(last.budget),
        };
      })
      .sort((a, b) => a.agency.localeCompare(b.agency) || a.dataset.localeCompare(b.dataset));
  }

  /** Every logged budget charge (forgeries excluded, repeats included), in log order. */
  loggedCharges(): readonly LoggedCharge[] {
    return this.#logged;
  }

  /** Checks entry `index`, whose author is verified. */
  check(index: number, event: AuditEvent): void {
    this.#counts.set(event.type, (this.#counts.get(event.type) ?? 0) + 1);
    const f = this.#findings;
    const q = this.#queries.get(event.queryId);
    const unknown = (what: string): void =>
      f.add(
        'unknown-query',
        index,
        `${what} refers to query ${event.queryId}, which the log does not show asked before it`,
      );
    switch (event.type) {
      case 'query':
        if (q !== undefined) {
          f.add('duplicate-query', index, `query id ${event.queryId} was already logged at entry ${q.index}`);
          return;
        }
        this.#queries.set(event.queryId, {
          index,
          agencies: new Set(event.agencies),
          contributed: new Set(),
          charged: new Map(),
          released: null,
          decrypted: null,
        });
        return;
      case 'contribution':
        if (q === undefined) return unknown(`${event.agencyId}'s contribution`);
        if (!q.agencies.has(event.agencyId))
          f.add('not-asked', index, `${event.agencyId} contributed to query ${event.queryId}, which did not ask it`);
        if (q.contributed?.has(event.agencyId) === true)
          f.add('duplicate-contribution', index, `${event.agencyId} contributed to query ${event.queryId} twice`);
        q.contributed?.add(event.agencyId);
        return;
      case 'survivors':
      case 'unmask':
        if (q === undefined) unknown(`a ${event.type} entry`);
        return;
      case 'refusal':
        return; // refusing an unknown or unlogged query is exactly right
      case 'budget':
        // A late charge (after its query's release or failure) is fine; one before its query is not.
        if (q === undefined) unknown(`${event.agencyId}'s budget charge`);
        else q.charged?.set(event.agencyId, event.rho);
        this.#budget(index, event);
        return;
      case 'decryption':
        if (q === undefined) {
          f.add(
            'decryption-without-query',
            index,
            `the key authority decrypted query ${event.queryId}, which the log does not show asked before it`,
          );
          return;
        }
        if (q.decrypted !== null)
          f.add('decrypted-twice', index, `query ${event.queryId} was already decrypted at entry ${q.decrypted}`);
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
      f.add(
        'release-without-query',
        index,
        `query ${event.queryId} was released but the log does not show it asked before`,
      );
      return;
    }
    if (q.released !== null) {
      f.add('released-twice', index, `query ${event.queryId} was already released at entry ${q.released}`);
      return;
    }
    q.released = index;
    const contributed = q.contributed ?? new Set<string>();
    if (contributed.size < this.#policy.minAgencies) {
      f.add(
        'too-few-contributions',
        index,
        `query ${event.queryId} was released with ${contributed.size} logged contribution(s); the policy needs at least ${this.#policy.minAgencies}`,
      );
    }
    for (const agency of event.contributors) {
      if (!contributed.has(agency)) {
        f.add(
          'unbacked-contributor',
          index,
          `the release of query ${event.queryId} names ${agency}, which logged no contribution to it`,
        );
      } else if (event.rho !== null && q.charged?.get(agency) !== event.rho) {
        f.add(
          'unpaid-release',
          index,
          `query ${event.queryId} was released at rho ${displayCanonicalRho(event.rho)} but ${agency} logged no charge of that rho for it`,
        );
      }
    }
    q.contributed = null;
    q.charged = null;
  }

  #budget(index: number, e: AuditEvent & { type: 'budget' }): void {
    const f = this.#findings;
    this.#logged.push(
      Object.freeze({
        index,
        agency: e.agencyId,
        dataset: e.dataset,
        queryId: e.queryId,
        rho: e.rho,
        spent: e.spent,
        budget: e.budget,
        ledgerHead: e.ledgerHead,
      }),
    );
    const who = `${e.agencyId} on ${e.dataset}`;
    const queryKey = JSON.stringify([e.agencyId, e.dataset, e.queryId]);
    const first = this.#charged.get(queryKey);
    if (first !== undefined) {
      f.add(
        'duplicate-charge',
        index,
        `${who} charged query ${e.queryId} again (first at entry ${first}); a query is charged once`,
      );
      return;
    }
    this.#charged.set(queryKey, index);
    const spent = rhoOf(e.spent);
    const budget = rhoOf(e.budget);
    if (rhoCompare(spent, budget) > 0)
      f.add('budget-exceeded', index, `${who} reports spent ${formatRho(spent)} over its budget ${formatRho(budget)}`);
    const key = JSON.stringify([e.agencyId, e.dataset]);
    const links = this.#chains.get(key) ?? [];
    links.push({ index, queryId: e.queryId, rho: rhoOf(e.rho), spent, budget });
    this.#chains.set(key, links);
  }

  /**
   * Checks what needs every entry: per agency and dataset, the chain of reported totals (in the
   * order of the totals, not of the log) and the sum of the charges against the budget. Call
   * once, after the last entry.
   */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const f = this.#findings;
    for (const key of [...this.#chains.keys()].sort()) {
      const [agency = '', dataset = ''] = JSON.parse(key) as string[];
      const who = `${agency} on ${dataset}`;
      const links = [...this.#chains.get(key)!].sort((a, b) => rhoCompare(a.spent, b.spent) || a.index - b.index);
      let before = RHO_ZERO; // the total before this charge, as the previous charge reported it
      let logged = RHO_ZERO;
      let previous: ChainLink | null = null;
      for (const l of links) {
        logged = rhoAdd(logged, l.rho);
        const expected = rhoAdd(before, l.rho);
        const order = rhoCompare(l.spent, expected);
        const at = `its charge of ${formatRho(l.rho)} for query ${l.queryId} reports spent ${formatRho(l.spent)}`;
        const below =
          previous === null
            ? 'before its first logged charge'
            : `between the charge for query ${previous.queryId} (entry ${previous.index}, spent ${formatRho(previous.spent)}) and this one`;
        if (order > 0) {
          f.add(
            'budget-gap',
            l.index,
            `${who}: ${formatRho(sub(l.spent, expected))} of spent budget that no logged charge explains, ${below} (${at}): charges are missing from the log`,
          );
        } else if (order < 0) {
          f.add(
            'budget-gap',
            l.index,
            previous === null
              ? `${who}: ${at}, less than the charge itself`
              : `${who}: ${at}, but the logged charges up to the one for query ${previous.queryId} (entry ${previous.index}) already reach ${formatRho(before)}: two charges claim the same spend`,
          );
        }
        if (rhoCompare(l.spent, l.budget) <= 0 && rhoCompare(logged, l.budget) > 0) {
          f.add(
            'budget-exceeded',
            l.index,
            `the charges of ${who} in the log add up to ${formatRho(logged)}, over its budget ${formatRho(l.budget)}`,
          );
        }
        before = l.spent;
        previous = l;
      }
    }
  }
}
