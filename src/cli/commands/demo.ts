import type { Command } from 'commander';
import { DEFAULT_DEMO_ROWS, runDemo, type DemoReport } from '../../demo/run-demo.js';
import { FedstatError } from '../../errors.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { action, parseIntOption } from '../run.js';
import { queryJson, renderResult } from './query.js';
import { formatInteger, formatMs, renderTable } from '../table.js';

function printHuman(report: DemoReport): void {
  const w = (s: string): boolean => process.stdout.write(`${s}\n`);
  w('');
  w(renderTable(['agency', 'name', 'dataset', 'rows', 'port'],
    report.agencies.map((a) => [a.id, a.name, a.dataset, formatInteger(a.rows), String(a.port)]), ['left', 'left', 'left', 'right', 'right']));
  w(`\nfederation ${report.federationId.slice(0, 16)}… ready in ${formatMs(report.setupMs)}. Every number below was computed under BFV encryption:`);
  w('agencies sent only signed ciphertexts; only the sum over agencies was decrypted.');
  report.showcases.forEach((s, i) => {
    w(`\n━━ ${i + 1}. ${s.showcase.title}`);
    w(`   ${s.showcase.english}`);
    if (s.skipped !== null) {
      w(`   skipped: ${s.skipped}`);
      return;
    }
    for (const q of s.queries) {
      w(`\n${q.sql}`);
      w(renderResult(q.result));
      w(q.mismatch === null
        ? `check: ✓ identical to the plaintext computed from the seed files (${q.result.rows.length} rows, ${q.result.suppressed} withheld)`
        : `check: ✗ MISMATCH with the plaintext computation: ${q.mismatch}`);
    }
    if (s.indicator !== null && s.showcase.indicator !== undefined) {
      const ind = s.showcase.indicator;
      w(`\n${ind.description} (computed by the coordinator from the two released tables):`);
      w(renderTable([ind.joinOn, ind.numerator, ind.denominator, ind.name],
        s.indicator.map((r) => [r.key, formatInteger(r.numerator), formatInteger(r.denominator), r.value.toFixed(1)]), ['left', 'right', 'right', 'right']));
    }
  });
  const checks = report.showcases.flatMap((s) => s.queries);
  w(`\n${report.allChecksPassed ? '✓' : '✗'} ${checks.filter((q) => q.mismatch === null).length} of ${checks.length} encrypted results match the plaintext; demo took ${formatMs(report.totalMs)}`);
}

export function registerDemo(program: Command): void {
  program.command('demo')
    .description('seed a synthetic province, start its agencies on 127.0.0.1, and run encrypted showcase statistics checked against plaintext')
    .option('--agencies <n>', 'number of agencies (department by department; default: all of the scenario)', parseIntOption('--agencies', 3, 64))
    .option('--rows <n>', 'residence registrations in 成都市 (the other cities in proportion)', parseIntOption('--rows', 100, 10_000_000), DEFAULT_DEMO_ROWS)
    .option('--seed <s>', 'seed for the synthetic data', 'fedstat-demo')
    .option('--out <dir>', 'keep the generated data and federation in this folder')
    .option('--json', 'print the report as JSON')
    .action(action(async (opts: { agencies?: number; rows: number; seed: string; out?: string; json?: boolean }) => {
      const json = opts.json === true;
      const bar = progressBar('seeding', { json });
      const report = await runDemo({
        rows: opts.rows, seed: opts.seed,
        ...(opts.agencies === undefined ? {} : { agencies: opts.agencies }),
        ...(opts.out === undefined ? {} : { outDir: opts.out }),
        onSeedProgress: (done, total) => bar.update(done, total, 'rows'),
        onStep: (m) => {
          bar.done();
          if (!json) process.stderr.write(`• ${m}\n`);
        },
      });
      if (json) {
        process.stdout.write(`${toJson({
          federationId: report.federationId, agencies: report.agencies, allChecksPassed: report.allChecksPassed,
          setupMs: report.setupMs, totalMs: report.totalMs,
          showcases: report.showcases.map((s) => ({
            title: s.showcase.title, english: s.showcase.english, skipped: s.skipped, indicator: s.indicator,
            queries: s.queries.map((q) => ({ sql: q.sql, check: q.mismatch === null ? 'ok' : q.mismatch, ...(queryJson(q.result) as object) })),
          })),
        })}\n`);
      } else {
        printHuman(report);
      }
      if (!report.allChecksPassed) throw new FedstatError('INTERNAL', 'an encrypted result differs from the plaintext computation; please report this');
    }));
}
