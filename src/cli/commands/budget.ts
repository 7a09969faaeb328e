import type { Command } from 'commander';
import { connectCoordinator } from '../../coordinator/connect.js';
import { displayCanonicalRho } from '../../dp/rho.js';
import { toJson } from '../json.js';
import { armExitGuard } from '../exit-guard.js';
import { action, parseIntOption } from '../run.js';
import { renderTable } from '../table.js';

export function registerBudget(program: Command): void {
  program
    .command('budget')
    .description(
      'show the privacy budget (zCDP rho) each agency has spent and has left, per dataset, as the agencies themselves report it',
    )
    .requiredOption('--federation <file>', 'federation.json')
    .option('--key <file>', 'coordinator key file (default: keys/coordinator.key beside the federation file)')
    .option(
      '--key-authority-key <file>',
      'key authority key file for the in-process key authority (default: keys/key-authority.key)',
    )
    .option('--insecure', 'plain TCP instead of mTLS; only to agencies on loopback addresses')
    .option(
      '--deadline <ms>',
      'time allowed for every agency to answer; one that does not is listed as unreachable',
      parseIntOption('--deadline', 1),
      5_000,
    )
    .option('--json', 'print the budgets as JSON')
    .action(
      action(async (opts: BudgetCliOptions, cmd: Command) => {
        try {
          await runBudget(opts);
        } finally {
          armExitGuard({ verbose: cmd.optsWithGlobals<{ verbose?: boolean }>().verbose === true });
        }
      }),
    );
}

interface BudgetCliOptions {
  federation: string;
  key?: string;
  keyAuthorityKey?: string;
  insecure?: boolean;
  deadline: number;
  json?: boolean;
}

/** The budget command; everything it opens is closed when it returns or throws. */
async function runBudget(opts: BudgetCliOptions): Promise<void> {
  await using coordinator = await connectCoordinator({
    federation: opts.federation,
    ...(opts.key === undefined ? {} : { keyFile: opts.key }),
    ...(opts.keyAuthorityKey === undefined ? {} : { keyAuthorityKeyFile: opts.keyAuthorityKey }),
    insecure: opts.insecure === true,
    describeDeadlineMs: opts.deadline,
    transparencyLog: false, // reads budgets only: the log is neither opened nor locked
  });
  const { described, failed } = await coordinator.discover();
  const agencies = described
    .map((d) => ({
      agency: d.agencyId,
      datasets: d.datasets,
      budgets: d.budgets.map((b) => ({
        dataset: b.dataset,
        budget: displayCanonicalRho(b.budget),
        spent: displayCanonicalRho(b.spent),
        remaining: displayCanonicalRho(b.remaining),
        charges: b.charges,
      })),
      // Charges whose log entries the agency holds until a receipt: normally its latest one.
      unloggedCharges: (d.unloggedEntries ?? []).length,
      ledgerFault: d.ledgerFault ?? null,
    }))
    .sort((a, b) => a.agency.localeCompare(b.agency));
  if (opts.json === true) {
    process.stdout.write(`${toJson({ agencies, unreachable: failed })}\n`);
    return;
  }
  const rows = agencies.flatMap((a) => {
    const budgeted = a.budgets.map((b) => [a.agency, b.dataset, b.budget, b.spent, b.remaining, String(b.charges)]);
    const without = a.datasets
      .filter((d) => !a.budgets.some((b) => b.dataset === d))
      .map((d) => [a.agency, d, 'none (DP queries refused)', '—', '—', '—']);
    return [...budgeted, ...without];
  });
  process.stdout.write(
    `${renderTable(['agency', 'dataset', 'budget rho', 'spent', 'remaining', 'queries'], rows, ['left', 'left', 'right', 'right', 'right', 'right'])}\n`,
  );
  for (const a of agencies) {
    if (a.ledgerFault !== null)
      process.stdout.write(`fault: agency ${a.agency} cannot charge its budget: ${a.ledgerFault}\n`);
  }
  for (const f of failed) process.stdout.write(`warning: agency ${f.id} did not answer: ${f.reason}\n`);
}
