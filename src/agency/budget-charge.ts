/**
 * The agency's own zCDP budget: a differentially private query's ρ is charged to it, durably,
 * before the agency reads any data; Describe reports what is left. The coordinator cannot spend it.
 */
import { FedstatError } from '../errors.js';
import type { BudgetLedger, Charge, ChargeState } from '../dp/budget-ledger.js';
import { rhoToString } from '../dp/rho.js';
import type { Rational } from '../dp/rational.js';
import { MAX_UNLOGGED_ENTRIES, type BudgetStatus } from '../protocol/links.js';
import type { QueryEnvelope } from '../protocol/query-envelope.js';
import type { AgencyContext } from './agency-context.js';
import type { AnswerTrail } from './answer-trail.js';
import { budgetEvent } from './charge-log.js';

/**
 * Spends the query's ρ from this agency's budget for the dataset (the plan's; a join's encrypting
 * side names its own) and records the charge's signed
 * `budget` entry in `trail`. Refused without a budget for the dataset, while too many charges
 * still wait for the log, or when the ledger refuses (budget exhausted) or cannot write.
 */
export async function chargeBudget(
  ctx: AgencyContext,
  env: QueryEnvelope,
  rho: Rational,
  now: number,
  trail: AnswerTrail,
  dataset: string = env.plan.dataset,
): Promise<void> {
  const { ledger, logged } = ctx;
  if (ledger === undefined || !ledger.datasets().includes(dataset)) {
    trail.refuse(
      'POLICY_REFUSED',
      `it has no privacy budget for dataset ${dataset}; start it with --budget ${dataset}=RHO --ledger FILE`,
    );
  }
  const unlogged = logged ? ledger.unlogged().length : 0;
  if (unlogged >= MAX_UNLOGGED_ENTRIES) {
    trail.refuse(
      'POLICY_REFUSED',
      `${unlogged} of its budget charges are not yet in the transparency log; it charges again once a coordinator with the log has appended them (any query does)`,
    );
  }
  let charged;
  // The state the ledger decided the charge in (not re-read afterwards: another charge may follow at once).
  let state: ChargeState | undefined;
  const sign = (c: Charge, s: ChargeState): Uint8Array => {
    state = s;
    return ctx.signBudget(c, s);
  };
  try {
    charged = await ledger.charge({
      dataset,
      queryId: env.queryId,
      rho,
      at: new Date(now),
      ...(logged ? { logEntry: sign } : {}),
    });
  } catch (e) {
    // Said in the log and on the agency's console: a ledger that cannot charge is an operator's problem.
    if (e instanceof FedstatError && (e.code === 'POLICY_REFUSED' || e.code === 'IO')) trail.refuse(e.code, e.message);
    throw e;
  }
  const event = budgetEvent(
    ctx.me.id,
    charged,
    state ?? { spent: ledger.spent(dataset), budget: ledger.budget(dataset) },
  );
  trail.record(event, ledger.logEntryOf(charged));
}

/** Every dataset's budget, spent and remaining ρ, as Describe reports them (none without a ledger). */
export function budgetStatuses(ledger: BudgetLedger | undefined): BudgetStatus[] {
  if (ledger === undefined) return [];
  return ledger.datasets().map((dataset) => ({
    dataset,
    budget: rhoToString(ledger.budget(dataset)),
    spent: rhoToString(ledger.spent(dataset)),
    remaining: rhoToString(ledger.remaining(dataset)),
    charges: ledger.charges(dataset),
  }));
}
