/**
 * Benchmark dispatcher: `npm run bench -- NAME [--json] [args]` runs `bench/NAME.ts`, which
 * exports `run(args, json)`. Benchmarks are found by file name, so adding one needs no edit here.
 * With --json a benchmark prints one JSON object whose top-level `ratio` is its headline ratio.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeError } from '../src/errors.js';

export type BenchmarkRun = (args: readonly string[], json: boolean) => Promise<void>;

const here = dirname(fileURLToPath(import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

function benchmarks(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`) && f !== `main${ext}`)
    .map((f) => f.slice(0, -ext.length))
    .filter((name) => /^[a-z0-9][a-z0-9-]*$/.test(name))
    .sort();
}

function usage(): string {
  return `usage: npm run bench -- NAME [--json] [options]\nbenchmarks: ${benchmarks().join(', ')}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (!benchmarks().includes(name)) {
    process.stderr.write(`unknown benchmark ${JSON.stringify(name)}\n${usage()}\n`);
    return 2;
  }
  const json = rest.includes('--json');
  const args = rest.filter((a) => a !== '--json');
  const mod = (await import(pathToFileURL(`${here}/${name}${ext}`).href)) as { run?: unknown };
  if (typeof mod.run !== 'function') {
    process.stderr.write(`benchmark ${name} exports no run(args, json)\n`);
    return 2;
  }
  await (mod.run as BenchmarkRun)(args, json);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`error: ${describeError(e)}\n`);
    process.exitCode = 1;
  },
);
