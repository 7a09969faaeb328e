/**
 * Before a DP training run asks its first round (or a resumed one its next), every agency serving
 * the dataset must hold the budget for all the rounds still announced: a run charged round by
 * round would otherwise stop half-way at an agency whose budget covers only some of them, its
 * spend wasted. Agencies that cannot be reached are left to each round's own preflight.
 */
import { compare, mul, rational, type Rational } from '../dp/rational.js';
import { formatRho, parseCanonicalRho } from '../dp/rho.js';
import { FedstatError } from '../errors.js';
import type { AgencyDescription } from '../protocol/links.js';

/** POLICY_REFUSED, naming the agencies short of budget, unless each holds ρ·rounds for `dataset`. */
export function checkRunBudget(
  described: readonly AgencyDescription[],
  dataset: string,
  rhoPerRound: Rational,
  rounds: number,
): void {
  const needed = mul(rhoPerRound, rational(BigInt(rounds)));
  const short = described.flatMap((d) => {
    if (!d.datasets.includes(dataset)) return [];
    const status = d.budgets.find((b) => b.dataset === dataset);
    const left = status === undefined ? null : parseCanonicalRho(status.remaining);
    if (left === null) return [`${d.agencyId} (no budget for ${dataset})`];
    return compare(left, needed) < 0 ? [`${d.agencyId} (rho ${formatRho(left)} left)`] : [];
  });
  if (short.length > 0)
    throw new FedstatError(
      'POLICY_REFUSED',
      `the run was not started, nothing spent: its ${rounds} remaining rounds need rho ${formatRho(needed)} at every agency, and ${short.join(', ')} cannot pay for them all; lower --rho or --rounds, or raise the budgets`,
    );
}
