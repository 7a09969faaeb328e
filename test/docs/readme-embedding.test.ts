/**
 * The README's embedding example is what an agency developer copies first. It must be one import
 * from `fedstat` and about fifteen lines, and it must run as written: here it runs, compiled by
 * Node's type stripping against the built package (self-reference through package.json
 * "exports"), in a folder laid out as its paths say, and serves an agency the coordinator queries.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../src/demo/free-port.js';
import { initFederation, readSchemaFile } from '../../src/federation/init.js';
import { generateScenario } from '../../src/seed/generate.js';
import { packageRoot } from '../../src/util/package-root.js';

const run = promisify(execFile);
const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');

/** The first ```ts block of the README's "The library" section. */
function embeddingExample(): string {
  const section = readme.slice(readme.indexOf('\n## The library\n'));
  const m = /```ts\n([\s\S]*?)\n```/.exec(section);
  if (m?.[1] === undefined) throw new Error('README.md: "The library" has no ts example');
  return m[1];
}

let dir: string;
const snippetFile = join(packageRoot(), 'dist', `readme-embedding-${process.pid}.mts`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-readme-'));
  const manifest = await generateScenario({
    scenario: 'sichuan',
    outDir: join(dir, 'data'),
    rows: 300,
    seed: 'readme',
    agencies: ['cd-psb', 'my-psb'],
  });
  const [port] = await freePorts(1);
  await initFederation({
    outDir: join(dir, 'fed'),
    schema: readSchemaFile(join(dir, 'data', manifest.schemaFile)),
    agencies: [
      { id: 'cd-psb', endpoint: `127.0.0.1:${port}` },
      { id: 'my-psb', endpoint: '127.0.0.1:1' },
    ],
    policy: { minAgencies: 1, minGroupSize: 1, exactRelease: true },
  });
  const cd = manifest.agencies.find((a) => a.id === 'cd-psb')!;
  writeFileSync(
    join(dir, 'records.csv'),
    readFileSync(join(dir, 'data', cd.datasets['residence_registrations']!.file)),
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(snippetFile, { force: true });
});

describe("the README's embedding example", () => {
  it('is one import from fedstat and at most about fifteen lines of code', () => {
    const code = embeddingExample()
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(code.filter((l) => l.startsWith('import '))).toEqual([expect.stringMatching(/ from 'fedstat';$/)]);
    expect(code.length).toBeLessThanOrEqual(15);
  });

  it('runs as written and serves the agency', async () => {
    // The federation's coordinator queries the served agency; then what the example left running is shut down.
    writeFileSync(
      snippetFile,
      `${embeddingExample()}
const { connectCoordinator } = await import('fedstat/coordinator');
const coordinator = await connectCoordinator({ federation: 'fed/federation.json' });
const result = await coordinator.query('SELECT COUNT(*) FROM residence_registrations');
console.log(JSON.stringify({ answered: result.agencies.answered, count: String(result.rows[0]?.['count']) }));
await coordinator.close();
await server.close();
await agency.close();
`,
    );
    const { stdout } = await run(process.execPath, [snippetFile], { cwd: dir });
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { answered: string[]; count: string };
    expect(out.answered).toEqual(['cd-psb']);
    const records = readFileSync(join(dir, 'records.csv'), 'utf8').trim().split('\n').length - 1;
    expect(out.count).toBe(String(records));
  });
});
