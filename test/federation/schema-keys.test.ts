/**
 * A schema says exactly what its author wrote: a key defined twice (JSON.parse would keep the
 * last and silently drop the first) and a key a schema object does not take (a misspelt
 * `maxrows` would silently keep the default) are refused with the key and its JSON path, in a
 * schema file and in the schema embedded in federation.json.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFederation } from '../../src/federation/federation.js';
import { initFederation, parseAgencySpec, readSchemaFile, type InitResult } from '../../src/federation/init.js';
import { parseSchema, parseSchemaText } from '../../src/federation/schema.js';
import { fedstatErrorOf as errorOf } from '../helpers/fedstat-error.js';
import { TEST_SCHEMA } from '../helpers/test-federation.js';

const COL = '{"type": "integer", "min": 0, "max": 9}';
const CAT = '{"type": "category", "values": ["x"]}';

describe('duplicate keys in a schema file', () => {
  const cases: [string, string, string][] = [
    [
      'a column',
      `{"datasets": {"p": {"columns": {"a": ${CAT}, "b": ${COL}, "a": ${COL}}}}}`,
      'datasets.p.columns.a: duplicate key "a"',
    ],
    [
      'a dataset',
      `{"datasets": {"p": {"columns": {"a": ${COL}}}, "p": {"columns": {"b": ${COL}}}}}`,
      'datasets.p: duplicate key "p"',
    ],
    [
      'a key spelt with an escape',
      `{"datasets": {"p": {"columns": {"a": ${COL}, "\\u0061": ${CAT}}}}}`,
      'datasets.p.columns.a: duplicate key "a"',
    ],
    [
      'a column property',
      `{"datasets": {"p": {"columns": {"a": {"type": "integer", "min": 0, "max": 9, "max": 99}}}}}`,
      'datasets.p.columns.a.max: duplicate key "max"',
    ],
    [
      'maxRows',
      `{"datasets": {"p": {"maxRows": 10, "columns": {"a": ${COL}}, "maxRows": 20}}}`,
      'datasets.p.maxRows: duplicate key "maxRows"',
    ],
    [
      'a top-level key',
      `{"datasets": {"p": {"columns": {"a": ${COL}}}}, "datasets": {"q": {"columns": {"a": ${COL}}}}}`,
      'datasets: duplicate key "datasets"',
    ],
    [
      'a key that is not a name',
      `{"datasets": {"p": {"columns": {"a": ${COL}}}}, "x y": 1, "x y": 2}`,
      '["x y"]: duplicate key "x y"',
    ],
  ];
  it.each(cases)('refuses %s, naming the key and its path', (_, text, where) => {
    const e = errorOf(() => parseSchemaText(text, 's.json'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(
      `s.json: ${where}; define it once: JSON readers keep only the last definition and drop the others`,
    );
    expect(e.message).not.toMatch(/\n/);
  });

  it('accepts the same key in different objects, and reports syntax errors as before', () => {
    const s = parseSchemaText(
      `{"datasets": {"p": {"columns": {"a": ${COL}}}, "q": {"columns": {"a": ${CAT}}}}}`,
      's.json',
    );
    expect(Object.keys(s.datasets)).toEqual(['p', 'q']);
    expect(errorOf(() => parseSchemaText('{"datasets": ', 's.json')).message).toMatch(
      /^s\.json: not valid JSON \(.*\); fix the JSON syntax$/,
    );
  });
});

describe('unknown keys in a schema', () => {
  const ds = (
    extra: Record<string, unknown>,
    col: Record<string, unknown> = { type: 'integer', min: 0, max: 9 },
  ): unknown => ({ datasets: { p: { columns: { a: col }, ...extra } } });
  const cases: [string, unknown, string][] = [
    [
      'maxrows, with a suggestion',
      ds({ maxrows: 10 }),
      'datasets.p.maxrows: unknown key "maxrows"; did you mean maxRows? (keys here: columns, maxRows)',
    ],
    [
      'a misspelt column key',
      ds({}, { type: 'integer', minimum: 0, max: 9 }),
      'datasets.p.columns.a.minimum: unknown key "minimum"; did you mean min? (keys here: type, min, max)',
    ],
    [
      'a key of another column type',
      ds({}, { type: 'category', values: ['x'], min: 0 }),
      'datasets.p.columns.a.min: unknown key "min"; remove it (keys here: type, values)',
    ],
    [
      'an unrelated key',
      ds({ owner: 'psb' }),
      'datasets.p.owner: unknown key "owner"; remove it (keys here: columns, maxRows)',
    ],
    [
      'a top-level key',
      { datasets: { p: { columns: { a: { type: 'id' }, b: { type: 'integer', min: 0, max: 1 } } } }, dataset: {} },
      'dataset: unknown key "dataset"; did you mean datasets? (keys here: datasets)',
    ],
    [
      'a misspelt id format key',
      ds({}, { type: 'id', fromat: 'gb11643' }),
      'datasets.p.columns.a.fromat: unknown key "fromat"; did you mean format? (keys here: type, format)',
    ],
  ];
  it.each(cases)('refuses %s', (_, raw, where) => {
    const e = errorOf(() => parseSchema(raw, 's.json'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`s.json: ${where}`);
  });

  it('suggests the column type a misspelt type is closest to', () => {
    expect(errorOf(() => parseSchema(ds({}, { type: 'categroy', values: ['x'] }), 's.json')).message).toBe(
      's.json: datasets.p.columns.a.type: unknown column type "categroy"; did you mean category? use "category", "integer" or "id"',
    );
  });
});

describe('the schema embedded in federation.json', () => {
  let dir: string;
  let init: InitResult;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedstat-schema-keys-'));
    init = await initFederation({
      outDir: join(dir, 'fed'),
      schema: TEST_SCHEMA,
      agencies: [parseAgencySpec('cd-psb=127.0.0.1:7301'), parseAgencySpec('my-psb=127.0.0.1:7302')],
      policy: { minAgencies: 2, minGroupSize: 5 },
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let edits = 0;
  const edited = (edit: (text: string) => string): string => {
    const file = join(dir, 'fed', `edited-${++edits}.json`);
    writeFileSync(file, edit(readFileSync(init.federationFile, 'utf8')));
    return file;
  };

  it('loads as init wrote it', () => {
    expect(loadFederation(init.federationFile).schema).toEqual(TEST_SCHEMA);
  });

  it('refuses a dataset defined twice', () => {
    const file = edited((t) =>
      t.replace(
        '"datasets": {',
        '"datasets": {"residents": {"columns": {"age": {"type": "integer", "min": 0, "max": 1}}},',
      ),
    );
    const e = errorOf(() => loadFederation(file));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(
      `${file}: schema.datasets.residents: duplicate key "residents"; define it once: JSON readers keep only the last definition and drop the others`,
    );
  });

  it('refuses any key defined twice, outside the schema too', () => {
    const file = edited((t) => t.replace('"policy": {', '"policy": {"minAgencies": 1,'));
    expect(errorOf(() => loadFederation(file)).message).toMatch(/: policy\.minAgencies: duplicate key "minAgencies"; /);
  });

  it('refuses an unknown schema key with a suggestion', () => {
    const file = edited((t) => t.replace('"maxRows":', '"maxrows":'));
    expect(errorOf(() => loadFederation(file)).message).toBe(
      `${file}: schema.datasets.residents.maxrows: unknown key "maxrows"; did you mean maxRows? (keys here: columns, maxRows)`,
    );
  });
});

describe('the schema file given to init', () => {
  it('is read strictly: a duplicate column is refused with its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedstat-schema-file-'));
    try {
      const file = join(dir, 'schema.json');
      writeFileSync(file, `{"datasets": {"p": {"columns": {"a": ${COL}, "a": ${CAT}}}}}`);
      expect(errorOf(() => readSchemaFile(file)).message).toContain(`${file}: datasets.p.columns.a: duplicate key "a"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
