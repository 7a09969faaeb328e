import type { Command } from 'commander';
import { startAgencyNode } from '../../agency/node.js';
import type { AuditEvent } from '../../transparency/events.js';
import { BUDGET_RHO, displayCanonicalRho, parseRhoText } from '../../dp/rho.js';
import { FedstatError } from '../../errors.js';
import { describeCensus, type InvalidRowCensus } from '../../store/invalid-rows.js';
import { parseDatasetSources } from '../dataset-source.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { action, collect, parseIntOption } from '../run.js';
import { formatInteger } from '../table.js';
import { stopSignal } from '../stop-signal.js';

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

/** Out-of-domain rows a statement over a live source skipped: counts and columns, never values. */
function describeSkipped(c: InvalidRowCensus): string {
  const rows = c.rows === 1 ? '1 row' : `${formatInteger(c.rows)} rows`;
  return `${new Date().toISOString()} dataset ${c.dataset}: skipped ${rows} out of the schema's domains (${describeCensus(c)})`;
}

const SOURCES_HELP = `
Dataset sources (--dataset, repeatable):
  NAME=FILE.csv               load the file into the DuckDB store, every row validated
                                --dataset residents=data/residents.csv
  NAME                        serve the table an earlier run left in --db
                                --dataset residents --db agency.duckdb
  NAME=FILE.parquet           read Parquet files in place (a glob, quoted, reads several)
                                --dataset residents='data/2026-*.parquet'
  NAME=postgres:SCHEMA.TABLE  answer from a live PostgreSQL table or view (a role with SELECT is enough)
                                --dataset rentals=postgres:housing.rental_filings

PostgreSQL connection: libpq's variables PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD or
~/.pgpass (PGPASSFILE), PGSSLMODE, PGSSLROOTCERT; or --postgres postgres://USER@HOST:PORT/DB
without a password, e.g.
  PGPASSWORD=... fedstat agency serve --federation federation.json --key agency-1.key.json \\
    --postgres 'postgres://fedstat_ro@db.internal:5432/housing?sslmode=verify-full' \\
    --dataset rentals=postgres:public.rental_filings
PostgreSQL and Parquet rows are checked against the schema on every read: --on-invalid reject
refuses a query over out-of-domain rows, naming how many of which column; skip answers without
them and reports each statement's skipped rows on stderr.
`;

export function registerAgency(program: Command): void {
  const agency = program.command('agency').description('run an agency node');
  agency
    .command('serve')
    .description(
      "serve datasets from CSV files (loaded into the agency's DuckDB store), Parquet files or live PostgreSQL tables, and answer encrypted queries over gRPC",
    )
    .requiredOption('--federation <file>', 'federation.json')
    .requiredOption('--key <file>', "this agency's key file")
    .requiredOption(
      '--dataset <name=source>',
      'a dataset to serve and where from: FILE.csv, FILE.parquet (or a glob), postgres:SCHEMA.TABLE, or NAME alone for what --db holds (repeatable; see below)',
      collect,
    )
    .option(
      '--postgres <url>',
      'PostgreSQL to read postgres: datasets from, as postgres://USER@HOST:PORT/DB?sslmode=... without a password (default: the PG* variables)',
    )
    .option(
      '--statement-timeout <ms>',
      'cancel a PostgreSQL statement after this many milliseconds',
      parseIntOption('--statement-timeout', 1, 2_147_483_647),
      300_000,
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
      'reject: an invalid CSV row stops the load, and a query over out-of-domain PostgreSQL or Parquet rows is refused; skip: leave them out and report them',
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
    .addHelpText('after', SOURCES_HELP)
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
          postgres?: string;
          statementTimeout: number;
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
            datasets: parseDatasetSources(opts.dataset),
            ...(opts.postgres === undefined ? {} : { postgres: opts.postgres }),
            statementTimeoutMs: opts.statementTimeout,
            onInvalidRows: (c) =>
              process.stderr.write(
                `${json ? toJson({ event: 'skipped', dataset: c.dataset, rows: c.rows, byColumn: c.byColumn }, 0) : describeSkipped(c)}\n`,
              ),
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
