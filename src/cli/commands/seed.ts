import type { Command } from 'commander';
import { generateScenario } from '../../seed/generate.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { action, parseIntOption } from '../run.js';
import { formatInteger, renderTable } from '../table.js';

export function registerSeed(program: Command): void {
  program
    .command('seed')
    .description('write a deterministic synthetic scenario: one CSV per agency dataset plus the schema')
    .requiredOption('--scenario <name>', 'scenario to generate (sichuan)')
    .requiredOption('--out <dir>', 'folder to write into')
    .option(
      '--rows <n>',
      'residence registrations of the largest city (成都市 in sichuan); other cities get fewer, in proportion to their migrantShare',
      parseIntOption('--rows', 1, 100_000_000),
    )
    .option('--seed <s>', 'seed; the same scenario, rows and seed give byte-identical files', 'fedstat')
    .option('--json', 'print the manifest as JSON')
    .action(
      action(async (opts: { scenario: string; out: string; rows?: number; seed: string; json?: boolean }) => {
        const json = opts.json === true;
        const bar = progressBar('seeding', { json });
        const manifest = await generateScenario({
          scenario: opts.scenario,
          outDir: opts.out,
          seed: opts.seed,
          ...(opts.rows === undefined ? {} : { rows: opts.rows }),
          onProgress: (done, total) => bar.update(done, total, 'persons'),
        });
        bar.done();
        if (json) {
          process.stdout.write(`${toJson(manifest)}\n`);
          return;
        }
        const rows = manifest.agencies.flatMap((a) =>
          Object.entries(a.datasets).map(([d, f]) => [a.id, a.name, d, f.file, formatInteger(f.rows)]),
        );
        process.stdout.write(
          `${renderTable(['agency', 'name', 'dataset', 'file', 'rows'], rows, ['left', 'left', 'left', 'left', 'right'])}\n`,
        );
        process.stdout.write(`\nschema: ${manifest.schemaFile}\n`);
      }),
    );
}
