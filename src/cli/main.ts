#!/usr/bin/env node
/** The `fedstat` command line. */
import { Command, CommanderError } from 'commander';
import { FEDSTAT_VERSION } from '../transport/agency-server.js';
import { registerAgency } from './commands/agency.js';
import { registerAudit } from './commands/audit.js';
import { registerBudget } from './commands/budget.js';
import { registerDemo } from './commands/demo.js';
import { registerInit } from './commands/init.js';
import { registerKeyAuthority } from './commands/key-authority.js';
import { registerPredict } from './commands/predict.js';
import { registerQuery } from './commands/query.js';
import { registerSeed } from './commands/seed.js';
import { registerTrain } from './commands/train.js';
import { EXIT } from './exit-codes.js';
import { reportError } from './run.js';

export function buildProgram(): Command {
  const program = new Command('fedstat')
    .description('Privacy-preserving federated statistics between agencies: encrypted GROUP BY over gRPC.')
    .version(FEDSTAT_VERSION)
    .option('--verbose', 'print stack traces with errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    // Before the subcommands are added, so they inherit it: usage errors become exit code 2.
    .exitOverride();
  registerSeed(program);
  registerInit(program);
  registerAgency(program);
  registerKeyAuthority(program);
  registerQuery(program);
  registerTrain(program);
  registerBudget(program);
  registerAudit(program);
  registerPredict(program);
  registerDemo(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    process.exitCode = reportError(e, { verbose: process.argv.includes('--verbose') });
  }
}

await main();
