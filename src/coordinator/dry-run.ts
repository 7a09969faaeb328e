/**
 * What a query would cost and who would refuse it, without spending anything: the plan's privacy
 * terms (ρ, the ε it implies, the noise every released count would carry) and, per agency
 * serving the dataset, the prediction from the budgets it reported in Describe. A prediction,
 * not a reservation: another query may spend the budget before this one runs, and the agency's
 * own ledger decides.
 */
import { formatRho, parseCanonicalRho, rhoCompare } from '../dp/rho.js';
import { rhoToEpsilon } from '../dp/conversion.js';
import type { Policy } from '../federation/federation.js';
import type { AgencyDescription } from '../protocol/links.js';
import type { PrivacyTerms } from '../protocol/privacy-terms.js';
import type { FailedAgency } from './gather.js';
import { NoiseModel } from './noisy-values.js';

interface DryRunAgency {
  readonly id: string;
  /** Null when the agency would answer; otherwise why it would not. */
  readonly refusal: string | null;
  /** ρ left for the dataset at this agency (exact decimal or fraction), when it reported a budget. */
  readonly remaining: string | null;
}

interface DryRunPrivacy {
  readonly rho: string;
  readonly epsilon: number;
  readonly delta: number;
  /** Skellam μ of the COUNT cells (any threshold-many survivors together); each agency adds μ/threshold. */
  readonly mu: string;
  readonly agencyMu: string;
  readonly threshold: number;
  /** Noise stderr and 95 % half-width of one released count when exactly `threshold` agencies contribute. */
  readonly countStderr: number;
  readonly countHalfWidth95: number;
}

/** What a query would spend and who would answer, predicted without spending (`query --dry-run`). */
export interface DryRunPrediction {
  /** The dataset the query reads. */
  readonly dataset: string;
  /** The noise each agency would add and the resulting uncertainty; null for an exact release. */
  readonly privacy: DryRunPrivacy | null;
  /** Each agency that may serve the dataset: whether it would answer, and its budget after the charge. */
  readonly agencies: readonly DryRunAgency[];
  /** Agencies predicted to answer, and whether that meets max(minAgencies, threshold). */
  readonly answering: number;
  /** Whether `answering` meets max(minAgencies, threshold): false means the query would be refused. */
  readonly enough: boolean;
}

export interface PredictInput {
  readonly dataset: string;
  /** Agencies the federation lets serve the dataset. */
  readonly candidates: readonly string[];
  readonly described: readonly AgencyDescription[];
  readonly failed: readonly FailedAgency[];
  readonly policy: Policy;
  readonly threshold: number;
  readonly terms: PrivacyTerms | null;
  readonly delta: number;
}

export function predictQuery(input: PredictInput): DryRunPrediction {
  const { dataset, terms } = input;
  const agencies = input.candidates.map((id): DryRunAgency => {
    const down = input.failed.find((f) => f.id === id);
    if (down !== undefined) return { id, refusal: `unreachable: ${down.reason}`, remaining: null };
    const d = input.described.find((x) => x.agencyId === id);
    if (d === undefined || !d.datasets.includes(dataset))
      return { id, refusal: `does not serve ${dataset}`, remaining: null };
    const budget = d.budgets.find((b) => b.dataset === dataset);
    const remaining = budget === undefined ? null : parseCanonicalRho(budget.remaining);
    const shown = remaining === null ? null : formatRho(remaining);
    if (terms === null) {
      return {
        id,
        refusal: input.policy.exactRelease ? null : 'the federation policy requires differential privacy',
        remaining: shown,
      };
    }
    if (remaining === null) return { id, refusal: `has no privacy budget for ${dataset}`, remaining: null };
    if ((d.ledgerFault ?? null) !== null)
      return { id, refusal: `its budget ledger cannot charge: ${d.ledgerFault ?? ''}`, remaining: shown };
    if (rhoCompare(terms.rho, remaining) > 0) {
      return {
        id,
        refusal: `budget exhausted: requested rho ${formatRho(terms.rho)}, remaining ${formatRho(remaining)}`,
        remaining: shown,
      };
    }
    return { id, refusal: null, remaining: shown };
  });
  const answering = agencies.filter((a) => a.refusal === null).length;
  const needed = Math.max(input.policy.minAgencies, input.threshold);
  let privacy: DryRunPrivacy | null = null;
  if (terms !== null) {
    const model = new NoiseModel({ threshold: terms.threshold, survivors: terms.threshold });
    const count = terms.measures[0];
    if (count === undefined) throw new RangeError('predictQuery: privacy terms without measures');
    privacy = {
      rho: formatRho(terms.rho),
      epsilon: rhoToEpsilon(terms.rho, input.delta),
      delta: input.delta,
      mu: formatRho(count.mu),
      agencyMu: formatRho(count.agencyMu),
      threshold: terms.threshold,
      countStderr: model.stddev(count.mu, 1),
      countHalfWidth95: Number(model.halfWidth(count.mu, 1, 0.95)),
    };
  }
  return { dataset, privacy, agencies, answering, enough: answering >= needed };
}
