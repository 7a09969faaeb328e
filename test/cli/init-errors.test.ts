/**
 * Configuration mistakes around `init` and the files it writes, through the built CLI as separate
 * processes: each is one line on stderr with the fix and the documented exit code (3 for
 * configuration and keys, 8 for local files), never "unexpected error … please report this" (1),
 * a missing party (4) or a network error (7).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { reportError } from '../../src/cli/run.js';
import { cliPath, startAgencyProcesses, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { freePorts } from '../../src/demo/free-port.js';
import { initFederation, type InitResult } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { parseSchema } from '../../src/federation/schema.js';
import { TransparencyLogSink } from '../../src/transparency/log-sink.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { runCli, type CliRun } from '../helpers/run-cli.js';

type Run = CliRun;
const fedstat = (...args: string[]): Promise<Run> => runCli(args);

function oneLine(run: Run, exit: number): string {
  const lines = run.err.trimEnd().split('\n');
  expect(lines, run.err).toHaveLength(1);
  expect(run.err).not.toMatch(/unexpected error|please report/);
  expect(run.code, run.err).toBe(exit);
  return lines[0]!;
}

const SCHEMA = {
  datasets: {
    residents: {
      columns: {
        district: { type: 'category', values: ['锦江区', '青羊区'] },
        age: { type: 'integer', min: 0, max: 120 },
      },
    },
  },
};

let dir: string;
let schemaFile: string;
let fed: InitResult;
let other: InitResult;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-init-errors-'));
  schemaFile = join(dir, 'schema.json');
  writeFileSync(schemaFile, JSON.stringify(SCHEMA));
  const ports = await freePorts(3);
  const schema = parseSchema(SCHEMA, schemaFile);
  const policy = { minAgencies: 2, minGroupSize: 1, exactRelease: true, transparencyLog: false };
  [fed, other] = await Promise.all([
    initFederation({
      outDir: join(dir, 'fed'),
      schema,
      policy,
      keyAuthorityEndpoint: `127.0.0.1:${ports[2]}`,
      agencies: [
        { id: 'a1', endpoint: `127.0.0.1:${ports[0]}` },
        { id: 'a2', endpoint: `127.0.0.1:${ports[1]}` },
      ],
    }),
    initFederation({
      outDir: join(dir, 'other'),
      schema,
      policy,
      agencies: [
        { id: 'b1', endpoint: '127.0.0.1:7401' },
        { id: 'b2', endpoint: '127.0.0.1:7402' },
      ],
    }),
  ]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fedstat init refuses, in one line with the fix', () => {
  const init = (out: string, ...args: string[]): Promise<Run> =>
    fedstat('init', '--out', join(dir, out), '--schema', schemaFile, ...args);

  it('two parties on one endpoint (exit 3), naming both, writing nothing', async () => {
    // other spellings of one endpoint (localhost, [::1], 127.0.0.2) are covered in test/federation/init-validation.test.ts
    const [twoAgencies, keyAuthority] = await Promise.all([
      init('dup', '--agency', 'a1=127.0.0.1:7301', '--agency', 'a2=127.0.0.1:7301'),
      init('ka', '--agency', 'a1=127.0.0.1:7301', '--agency', 'a2=127.0.0.1:7302', '--key-authority', 'localhost:7302'),
    ]);
    expect(oneLine(twoAgencies, EXIT.CONFIG)).toBe(
      'fedstat: agency a1 and agency a2 have the same endpoint (both at 127.0.0.1:7301); give every party its own HOST:PORT',
    );
    expect(oneLine(keyAuthority, EXIT.CONFIG)).toBe(
      "fedstat: agency a2 and the key authority have the same endpoint (127.0.0.1:7302 and localhost:7302 are both this machine's loopback interface, port 7302); give every party its own HOST:PORT",
    );
    for (const out of ['dup', 'ka']) expect(existsSync(join(dir, out)), out).toBe(false);
  });

  it('a bad port, a bad id and a malformed --agency, each as what it is (exit 3)', async () => {
    const [port, id, malformed] = await Promise.all([
      init('bad', '--agency', 'a1=127.0.0.1:70000', '--agency', 'a2=127.0.0.1:7302'),
      init('bad', '--agency', `${'a'.repeat(64)}=127.0.0.1:7301`, '--agency', 'a2=127.0.0.1:7302'),
      init('bad', '--agency', 'a1', '--agency', 'a2=127.0.0.1:7302'),
    ]);
    expect(oneLine(port, EXIT.CONFIG)).toBe(
      'fedstat: --agency a1=127.0.0.1:70000: port 70000 is outside 1-65535; use a port from 1 to 65535',
    );
    expect(oneLine(id, EXIT.CONFIG)).toMatch(
      /: the agency id has 64 characters, more than 63; an agency id must be a DNS label, 1 to 63 lowercase letters, digits and inner dashes/,
    );
    expect(oneLine(malformed, EXIT.CONFIG)).toBe(
      'fedstat: --agency a1: expected ID=HOST:PORT, e.g. cd-psb=127.0.0.1:7301',
    );
    for (const r of [port, id]) expect(r.err).not.toMatch(/lowercase id/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });

  it('--out naming an existing file (exit 8, not an unexpected ENOTDIR)', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const run = await fedstat(
      'init',
      '--out',
      file,
      '--schema',
      schemaFile,
      '--agency',
      'a1=127.0.0.1:7301',
      '--agency',
      'a2=127.0.0.1:7302',
    );
    expect(oneLine(run, EXIT.IO)).toBe(
      `fedstat: --out ${file} is a file, not a folder; give --out a folder to create the federation in (it is created if missing)`,
    );
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('a key file of another federation', () => {
  it('is a key problem (exit 3) that says so, not "no party" (exit 4)', async () => {
    // other parties' key files (coordinator, key authority, same ids) are covered in test/federation/key-file-federation.test.ts
    const agency = await fedstat(
      'agency',
      'serve',
      '--federation',
      fed.federationFile,
      '--key',
      other.keyFiles['b1']!,
      '--dataset',
      `residents=${join(dir, 'none.csv')}`,
    );
    expect(oneLine(agency, EXIT.CONFIG)).toBe(
      `fedstat: key file ${other.keyFiles['b1']!}: it belongs to another federation: its TLS certificate was not issued by the federation CA (ca.crt); use the key file fedstat init wrote together with ${fed.federationFile}`,
    );
  });
});

/** A copy of the federation folder whose federation.json has another minGroupSize: another federation id, same keys. */
function editedCopy(name: string): string {
  const edited = join(dir, name);
  cpSync(join(dir, 'fed'), edited, { recursive: true });
  const file = join(edited, 'federation.json');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { policy: { minGroupSize: number } };
  doc.policy.minGroupSize = 5;
  writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

describe('a federation file edited at one party', () => {
  let agencies: AgencyProcess[] = [];
  beforeAll(async () => {
    const csv = (n: number): string =>
      `district,age\n${Array.from({ length: n }, (_, i) => `${i % 2 === 0 ? '锦江区' : '青羊区'},${20 + i}`).join('\n')}\n`;
    for (const id of ['a1', 'a2']) writeFileSync(join(dir, `${id}.csv`), csv(6));
    agencies = await startAgencyProcesses(
      ['a1', 'a2'].map((id) => ({
        id,
        federationFile: fed.federationFile,
        keyFile: fed.keyFiles[id]!,
        datasets: { residents: join(dir, `${id}.csv`) },
      })),
    );
  });
  afterAll(async () => {
    await Promise.all(agencies.map((a) => a.stop()));
  });

  it('is a configuration problem (exit 3) saying the files differ and what to do, not a network error (exit 7)', async () => {
    const file = editedCopy('edited');
    const sql = 'SELECT district, COUNT(*) FROM residents GROUP BY district';
    const run = await fedstat('query', '--federation', file, sql);
    const line = oneLine(run, EXIT.CONFIG);
    // both agencies answered Describe, for the federation file they hold
    for (const id of ['a1', 'a2'])
      expect(line).toContain(
        `${id} (its federation file differs from this one (the federation ids differ): a copy was edited or replaced; give every party the same federation.json)`,
      );
  });

  it('edited in place beside its transparency log: exit 3, saying the federation file changed', async () => {
    const file = editedCopy('edited-in-place');
    const log = join(dir, 'edited-in-place', 'transparency.log');
    // the log as the coordinator left it after a query under the original file: one entry, its head published
    const { secretKey } = loadKeyFile(fed.keyFiles['coordinator']!, fed.federation).signing;
    const store = await TransparencyLogStore.open(log, { logId: fed.federation.id, secretKey });
    const sink = new TransparencyLogSink(store, 'coordinator', secretKey);
    void sink.appendEntry(new Uint8Array([1, 2, 3]));
    await sink.publish();
    await store.close();
    const run = await fedstat(
      'query',
      '--federation',
      file,
      '--transparency-log',
      log,
      'SELECT COUNT(*) FROM residents',
    );
    expect(oneLine(run, EXIT.CONFIG)).toMatch(
      /names log [0-9a-f]{64}, not this federation's \([0-9a-f]{64}\): the federation file changed since this log was started, or the log belongs to another federation; use the federation\.json this log was kept for/,
    );
  });

  it('edited at the key authority: exit 3 before anything is sent, not "unreachable" (exit 7)', async () => {
    const ka = spawn(
      process.execPath,
      [
        cliPath(),
        'key-authority',
        'serve',
        '--federation',
        editedCopy('edited-ka'),
        '--key',
        fed.keyFiles['key-authority']!,
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        ka.stdout.on('data', (b: Buffer) => {
          if (b.toString().includes('listening')) resolve();
        });
        ka.once('exit', (code) => reject(new Error(`key authority exited with ${code}`)));
      });
      const run = await fedstat('query', '--federation', fed.federationFile, 'SELECT COUNT(*) FROM residents');
      expect(oneLine(run, EXIT.CONFIG)).toMatch(
        /not sent, nothing spent: the key authority at 127\.0\.0\.1:\d+ loaded another federation file \(federation ids differ\)/,
      );
    } finally {
      ka.kill('SIGTERM');
    }
  });
});

describe('the CLI error contract', () => {
  it('reports a file-system error that escaped unwrapped as IO (exit 8), not as a bug', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const e = Object.assign(new Error("ENOTDIR: not a directory, mkdir '/x/keys'"), {
        code: 'ENOTDIR',
        syscall: 'mkdir',
        path: '/x/keys',
      });
      expect(reportError(e, {})).toBe(EXIT.IO);
      expect(stderr).toHaveBeenCalledWith(
        'fedstat: cannot mkdir /x/keys: ENOTDIR; check the path and its permissions\n',
      );
      expect(reportError(new Error('boom'), {})).toBe(EXIT.INTERNAL);
    } finally {
      stderr.mockRestore();
    }
  });
});
