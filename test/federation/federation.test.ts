import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FedstatError } from '../../src/errors.js';
import { loadFederation, parseFederation } from '../../src/federation/federation.js';
import { initFederation, parseAgencySpec, type InitResult } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { parseSchema } from '../../src/federation/schema.js';
import { TEST_SCHEMA } from '../helpers/test-federation.js';
import { fedstatErrorOf as errorOf } from '../helpers/fedstat-error.js';

describe('schema validation', () => {
  it('accepts the issue example and normalises values to NFC', () => {
    const s = parseSchema(
      {
        datasets: {
          residents: {
            columns: {
              district: { type: 'category', values: ['锦江区', '青羊区', 'Cafe\u0301'] },
              age: { type: 'integer', min: 0, max: 120 },
              income: { type: 'integer', min: 0, max: 2000000 },
            },
          },
        },
      },
      'schema.json',
    );
    const d = s.datasets['residents']!.columns['district']!;
    expect(d.type === 'category' && d.values[2]).toBe('Café');
    expect(Object.isFrozen(s)).toBe(true);
  });

  const cases: [string, unknown, RegExp][] = [
    ['no datasets', {}, /schema\.json: datasets: .*declare at least one dataset/],
    [
      'bad type',
      { datasets: { d: { columns: { c: { type: 'float' } } } } },
      /datasets\.d\.columns\.c\.type: unknown column type "float"; use "category"/,
    ],
    [
      'min > max',
      { datasets: { d: { columns: { c: { type: 'integer', min: 5, max: 1 } } } } },
      /datasets\.d\.columns\.c: "min" is greater than "max"; swap/,
    ],
    [
      'unsafe bound',
      { datasets: { d: { columns: { c: { type: 'integer', min: 0, max: 2 ** 60 } } } } },
      /columns\.c\.max: "max" must be a safe integer/,
    ],
    [
      'duplicate value',
      { datasets: { d: { columns: { c: { type: 'category', values: ['a', 'a'] } } } } },
      /columns\.c\.values\[1\]: duplicate value "a"/,
    ],
    [
      'bad name',
      { datasets: { 'my data': { columns: { c: { type: 'integer', min: 0, max: 1 } } } } },
      /dataset name "my data" is not allowed/,
    ],
    ['only ids', { datasets: { d: { columns: { c: { type: 'id' } } } } }, /at least one category or integer column/],
  ];
  for (const [what, raw, message] of cases) {
    it(`refuses ${what} naming file, path and fix`, () => {
      const e = errorOf(() => parseSchema(raw, 'schema.json'));
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message).toMatch(message);
    });
  }
});

describe('init, federation file and key files', () => {
  let dir: string;
  let init: InitResult;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedstat-fed-'));
    init = await initFederation({
      outDir: join(dir, 'fed'),
      schema: TEST_SCHEMA,
      agencies: [parseAgencySpec('cd-psb=127.0.0.1:7301'), parseAgencySpec('my-psb=127.0.0.1:7302')],
      policy: { minAgencies: 2, minGroupSize: 5 },
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a public federation file and one 0600 key file per party', () => {
    expect(Object.keys(init.keyFiles).sort()).toEqual(['cd-psb', 'coordinator', 'key-authority', 'my-psb']);
    for (const f of Object.values(init.keyFiles)) expect(statSync(f).mode & 0o777).toBe(0o600);
    const text = readFileSync(init.federationFile, 'utf8');
    for (const f of Object.values(init.keyFiles)) {
      const seed = (JSON.parse(readFileSync(f, 'utf8')) as { signingSeed: string }).signingSeed;
      expect(text).not.toContain(seed);
    }
    const fed = loadFederation(init.federationFile);
    expect(fed.id).toBe(init.federation.id);
    expect(fed.policy).toEqual({ minAgencies: 2, minGroupSize: 5, exactRelease: false, transparencyLog: true });
  });

  it('loads key files that match and refuses loose permissions and foreign keys', () => {
    expect(loadKeyFile(init.keyFiles['cd-psb']!, init.federation).party).toBe('cd-psb');
    expect(loadKeyFile(init.keyFiles['key-authority']!, init.federation).heSecretKey).not.toBeNull();
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, readFileSync(init.keyFiles['cd-psb']!));
    chmodSync(loose, 0o644);
    expect(errorOf(() => loadKeyFile(loose, init.federation)).message).toMatch(/chmod 600/);
  });

  it('refuses a key file from another federation', async () => {
    const other = await initFederation({
      outDir: join(dir, 'other'),
      schema: TEST_SCHEMA,
      agencies: [parseAgencySpec('cd-psb=127.0.0.1:7301'), parseAgencySpec('my-psb=127.0.0.1:7302')],
    });
    const e = errorOf(() => loadKeyFile(other.keyFiles['cd-psb']!, init.federation));
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toMatch(/belongs to another federation/);
  });

  it('refuses to overwrite an existing federation without --force', async () => {
    const again = await initFederation({
      outDir: join(dir, 'fed'),
      schema: TEST_SCHEMA,
      agencies: [parseAgencySpec('a=127.0.0.1:1'), parseAgencySpec('b=127.0.0.1:2')],
    }).catch((e: unknown) => e);
    expect((again as FedstatError).message).toMatch(/--force/);
  });

  it('names the JSON path of errors in a federation file', () => {
    const doc = JSON.parse(readFileSync(init.federationFile, 'utf8')) as {
      parties: { endpoint?: string }[];
      policy: { minAgencies: number };
    };
    doc.parties[2]!.endpoint = 'nowhere';
    expect(errorOf(() => parseFederation(doc, 'f.json')).message).toMatch(
      /f\.json: parties\[2\]\.endpoint: invalid endpoint "nowhere"; write HOST:PORT/,
    );
    doc.parties[2]!.endpoint = '127.0.0.1:7301';
    doc.policy.minAgencies = 0;
    expect(errorOf(() => parseFederation(doc, 'f.json')).message).toMatch(/policy\.minAgencies/);
  });

  it('parses agency specs strictly', () => {
    expect(parseAgencySpec('dy-housing=[::1]:7400')).toEqual({ id: 'dy-housing', endpoint: '[::1]:7400' });
    expect(() => parseAgencySpec('Bad_ID=127.0.0.1:1')).toThrow(/the agency id has uppercase letters/);
    expect(() => parseAgencySpec('a=127.0.0.1:99999')).toThrow(/port 99999 is outside 1-65535/);
  });
});

describe('schema values that cannot be written in SQL', () => {
  it('refuses control characters and ambiguous backslashes in category values, and datasets differing in case', () => {
    const col = (v: string): unknown => ({
      datasets: { d: { columns: { c: { type: 'category', values: ['ok', v] } } } },
    });
    expect(errorOf(() => parseSchema(col('a\nb'), 's.json')).message).toMatch(/values\[1\]: .*control characters/);
    expect(errorOf(() => parseSchema(col('a\\'), 's.json')).message).toMatch(/odd run of backslashes/);
    expect(errorOf(() => parseSchema(col("a\\'b"), 's.json')).message).toMatch(/odd run of backslashes/);
    expect(parseSchema(col('a\\b'), 's.json').datasets['d']).toBeDefined();
    const twice = {
      datasets: {
        d: { columns: { c: { type: 'integer', min: 0, max: 1 } } },
        D: { columns: { c: { type: 'integer', min: 0, max: 1 } } },
      },
    };
    expect(errorOf(() => parseSchema(twice, 's.json')).message).toMatch(/differs from another only in case/);
  });
});
