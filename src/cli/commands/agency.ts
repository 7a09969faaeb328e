import type { Command } from 'commander';
import { startAgencyNode } from '../../agency/node.js';
import type { AuditEvent } from '../../transparency/events.js';
import { BUDGET_RHO, displayCanonicalRho, parseRhoText } from '../../dp/rho.js';
import { FedstatError } from '../../errors.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { action, collect, parseIntOption } from '../run.js';
import { formatInteger } from '../table.js';
import { stopSignal } from '../stop-signal.js';

function parseDatasets(specs: readonly string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (name === '' || Object.hasOwn(out, name)) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `--dataset ${spec}: expected NAME=FILE.csv (or NAME with --db), each dataset once`,
      );
    }
    out[name] = eq < 0 ? null : spec.slice(eq + 1);
  }
  return out;
}

/** `--budget NAME=RHO` (repeatable) as a map, each ρ checked here so a message names the flag. */
function parseBudgets(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? '' : spec.slice(0, eq);
    if (name === '' || Object.hasOwn(out, name)) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `--budget ${spec}: expected DATASET=RHO such as residents=1, each dataset once`,
      );
    }
    out[name] = spec.slice(eq + 1);
    parseRhoText(out[name], { ...BUDGET_RHO, name: `--budget ${name}`, spell: (v) => `--budget ${name}=${v}` });
  }
  return out;
}

/** One line per answered or refused query for the operator; ids and reasons, never values. */
function describeEvent(e: AuditEvent): string {
  const time = new Date(e.at).toISOString();
  if (e.type === 'contribution') return `${time} contributed to query ${e.queryId}`;
  if (e.type === 'refusal') return `${time} refused query ${e.queryId}: ${e.reason}`;
  if (e.type === 'budget') {
    return `${time} spent rho ${displayCanonicalRho(e.rho)} on ${e.dataset} for query ${e.queryId}; ${displayCanonicalRho(e.spent)} of ${displayCanonicalRho(e.budget)} spent`;
  }
  if (e.type === 'unmask')
    return `${time} unmasked query ${e.queryId}: ${e.survivors.length} survivors, ${e.dropped.length} dropped`;
  return `${time} ${e.type} ${e.queryId}`;
}

export function registerAgency(program: Command): void {
  const agency = program.command('agency').description('run an agency node');
  agency
    .command('serve')
    .description(
      "load CSV files into the agency's DuckDB store (validating every row) and answer encrypted queries over gRPC",
    )
    .requiredOption('--federation <file>', 'federation.json')
    .requiredOption('--key <file>', "this agency's key file")
    .requiredOption(
      '--dataset <name=file.csv>',
      'a dataset to serve and the CSV to load it from (repeatable; NAME alone serves what --db holds)',
      collect,
    )
    .option(
      '--port <p>',
      "port to listen on (default: the endpoint's port in the federation file)",
      parseIntOption('--port', 0, 65535),
    )
    .option('--host <host>', "address to bind (default: the endpoint's host)")
    .option('--db <file>', 'DuckDB file to keep the data in (default: in memory)')
    .option(
      '--on-invalid <mode>',
      'reject: the first invalid row stops the load; skip: skip and count invalid rows',
      'reject',
    )
    .option(
      '--allow-plaintext-benchmark',
      "also answer plaintext and unmasked queries (benchmarks only: reveals this agency's aggregates)",
    )
    .option('--insecure', 'plain TCP instead of mTLS; only on a loopback address')
    .option(
      '--budget <dataset=rho>',
      "this agency's zCDP privacy budget for a dataset, e.g. residents=1 (repeatable; DP queries on a dataset without one are refused)",
      collect,
      [],
    )
    .option('--ledger <file>', 'durable ledger of the privacy budget spent (created 0600; required with --budget)')
    .option(
      '--log-witness <file>',
      'keep the last transparency-log head this agency accepted here, so a restart still refuses a forked or shortened log',
    )
    .option('--audit-log <file>', 'append every contribution, budget spend and refusal to this JSON-lines file')
    .option('--json', 'print events as JSON lines')
    .action(
      action(
        async (opts: {
          federation: string;
          key: string;
          dataset: string[];
          budget: string[];
          ledger?: string;
          logWitness?: string;
          port?: number;
          host?: string;
          db?: string;
          onInvalid: string;
          allowPlaintextBenchmark?: boolean;
          insecure?: boolean;
          auditLog?: string;
          json?: boolean;
        }) => {
          if (opts.onInvalid !== 'reject' && opts.onInvalid !== 'skip') {
            throw new FedstatError('CONFIG_INVALID', `--on-invalid must be reject or skip; got ${opts.onInvalid}`);
          }
          const json = opts.json === true;
          const bar = progressBar('loading', { json });
          const node = await startAgencyNode({
            federationFile: opts.federation,
            keyFile: opts.key,
            datasets: parseDatasets(opts.dataset),
            budgets: parseBudgets(opts.budget),
            ...(opts.ledger === undefined ? {} : { ledgerFile: opts.ledger }),
            ...(opts.logWitness === undefined ? {} : { logWitnessFile: opts.logWitness }),
            onInvalid: opts.onInvalid,
            allowPlaintextMode: opts.allowPlaintextBenchmark === true,
            insecure: opts.insecure === true,
            onLoadProgress: (dataset, rows) => bar.update(rows, undefined, dataset),
            ...(opts.port === undefined ? {} : { port: opts.port }),
            ...(opts.host === undefined ? {} : { host: opts.host }),
            ...(opts.db === undefined ? {} : { dbPath: opts.db }),
            ...(opts.auditLog === undefined ? {} : { auditLog: opts.auditLog }),
            onEvent: {
              append: (e) => process.stdout.write(`${json ? toJson({ event: e.type, ...e }, 0) : describeEvent(e)}\n`),
            },
          });
          bar.done();
          const datasets = (await node.agency.describe()).datasets;
          if (json) {
            for (const l of node.loads) process.stdout.write(`${toJson({ event: 'loaded', ...l }, 0)}\n`);
            process.stdout.write(
              `${toJson({ event: 'listening', agency: node.agency.id, port: node.port, datasets }, 0)}\n`,
            );
          } else {
            for (const l of node.loads) {
              const skipped = l.rowsSkipped > 0 ? `, ${formatInteger(l.rowsSkipped)} invalid rows skipped` : '';
              process.stdout.write(
                `loaded ${l.dataset}: ${formatInteger(l.rowsLoaded)} rows from ${l.file}${skipped}\n`,
              );
              for (const r of l.invalid)
                process.stdout.write(`  skipped ${l.file}:${r.line}: column ${r.column}: ${r.reason}\n`);
            }
            process.stdout.write(
              `agency ${node.agency.id} serving ${datasets.join(', ')} on port ${node.port} (Ctrl-C to stop)\n`,
            );
          }
          // The first SIGINT/SIGTERM stops gracefully (calls in flight get SHUTDOWN_GRACE_MS, then every
          // connection is closed, a hung coordinator's too); a second one kills at once.
          await stopSignal();
          await node.close();
          if (json) process.stdout.write(`${toJson({ event: 'stopped', agency: node.agency.id }, 0)}\n`);
        },
      ),
    );
}
