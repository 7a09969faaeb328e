// The public API of each entry point, as api-extractor reports it, committed in docs/api/ so that
// any change to the public surface shows in review. Run after `npm run build`.
//
//   node test/tools/api-report.js           check: fail if a report differs from the code (npm test)
//   node test/tools/api-report.js --update  rewrite docs/api/*.api.md from the code
//   node test/tools/api-report.js --dist D  read the declarations from D instead of dist/
//
// Every exported name needs a TSDoc comment (ae-undocumented is an error here).
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { argv, exit, stderr } from 'node:process';

const root = resolve(import.meta.dirname, '..', '..');
const update = argv.includes('--update');
const distAt = argv.indexOf('--dist');
const dist = distAt >= 0 ? resolve(argv[distAt + 1] ?? 'dist') : join(root, 'dist');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const temp = mkdtempSync(join(tmpdir(), 'fedstat-api-'));

/** Entry point name in package.json ("." → "fedstat") → its report file stem. */
const stem = (/** @type {string} */ key) => (key === '.' ? 'fedstat' : `fedstat-${key.slice(2).replaceAll('/', '-')}`);

let failed = false;
for (const [key, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string') continue; // ./package.json
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: join(dist, target.types.replace(/^\.\/dist\//, '')),
      compiler: { tsconfigFilePath: join(root, 'tsconfig.build.json') },
      apiReport: {
        enabled: true,
        reportFileName: `${stem(key)}.api.md`,
        reportFolder: join(root, 'docs', 'api'),
        reportTempFolder: temp,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: 'warning' } },
        extractorMessageReporting: {
          default: { logLevel: 'warning', addToApiReportFile: false },
          'ae-undocumented': { logLevel: 'error', addToApiReportFile: false },
          'ae-missing-release-tag': { logLevel: 'none', addToApiReportFile: false },
          // Types the API mentions but does not export (protocol messages an embedder never builds) are
          // listed in the report for review rather than exported.
          'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
        },
        tsdocMessageReporting: { default: { logLevel: 'warning' } },
      },
    },
    configObjectFullPath: join(root, 'package.json'),
    packageJsonFullPath: join(root, 'package.json'),
  });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false });
  if (!result.succeeded) {
    failed = true;
    const changed = result.apiReportChanged
      ? '; docs/api differs from the code: run npm run api:update and review the diff'
      : '';
    stderr.write(`${stem(key)}: ${result.errorCount} errors, ${result.warningCount} warnings${changed}\n`);
  }
}
rmSync(temp, { recursive: true, force: true });
exit(failed ? 1 : 0);
