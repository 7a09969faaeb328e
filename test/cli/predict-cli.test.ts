/**
 * `fedstat predict` through the built CLI: a model fitted in this process (fitPooled) and written
 * as MODEL.json scores a CSV file, and every fitted value equals the plaintext computation from
 * the fit's coefficients; an invalid row is refused naming its line, an unknown dataset and a
 * foreign federation with the fix; --json's shape. A federated network's MODEL.json scores as its
 * trainer's `evaluate` predicts, bit for bit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFederation } from '../../src/federation/federation.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import { designVector, offsetOf } from '../../src/learn/design-row.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import type { FamilyName } from '../../src/learn/family.js';
import { clampEta, familyOf } from '../../src/learn/family.js';
import { parseFormula } from '../../src/learn/formula.js';
import { modelDocument, modelText } from '../../src/learn/model-file.js';
import { fitPooled } from '../../src/learn/pooled-fit.js';
import type { GlmFit } from '../../src/learn/pooled-fit.js';
import { freePorts } from '../../src/demo/free-port.js';
import { runCli } from '../helpers/run-cli.js';
import { trainNetwork } from '../learn/fl/network-fixture.js';
import { WORKERS_DATASET_JSON, workerRows } from '../learn/workers.js';

const SCHEMA_JSON = {
  datasets: {
    workers: WORKERS_DATASET_JSON,
    homes: { columns: { rooms: { type: 'integer', min: 1, max: 9 } } },
  },
};
const WORKERS = parseSchema(SCHEMA_JSON, 'schema.json').datasets['workers'] as DatasetSchema;
const HEADER = ['citizen_id', 'district', 'sex', 'age', 'income', 'insured', 'visits', 'months'] as const;

function rowsOf(n: number, seed: number): DataRecord[] {
  return workerRows(n, seed, (i) => `id,${i}`);
}

/** RFC 4180 for the test's own files (the ids hold a comma). */
function csvOf(rows: readonly DataRecord[], header: readonly string[] = HEADER): string {
  const field = (v: string | number | undefined): string => {
    const s = String(v);
    return /[",]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return `${header.join(',')}\n${rows.map((r) => header.map((h) => field(r[h])).join(',')).join('\n')}\n`;
}

/** Splits the CSV the CLI wrote (quoted fields with commas; no line breaks inside fields). */
function parseCsv(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => {
      const out: string[] = [];
      for (let i = 0; i <= line.length;) {
        if (line[i] === '"') {
          let v = '';
          i++;
          for (;;) {
            const q = line.indexOf('"', i);
            v += line.slice(i, q);
            if (line[q + 1] === '"') {
              v += '"';
              i = q + 2;
            } else {
              i = q + 2;
              break;
            }
          }
          out.push(v);
        } else {
          const c = line.indexOf(',', i);
          const end = c < 0 ? line.length : c;
          out.push(line.slice(i, end));
          i = end + 1;
        }
      }
      return out;
    });
}

function fitOf(formula: string, family: FamilyName, rows: readonly DataRecord[]): { fit: GlmFit; coding: ModelCoding } {
  const coding = codeModel(parseFormula(formula, WORKERS, 'workers'), WORKERS, family, 'workers');
  return { fit: fitPooled(rows, coding), coding };
}

/** The fit's own η and μ for a record: the internal-scale coefficients over the design vector. */
function internalScore(coding: ModelCoding, beta: readonly number[], rec: DataRecord): { eta: number; mu: number } {
  const x = designVector(coding, rec);
  let eta = offsetOf(coding, rec);
  for (let j = 0; j < x.length; j++) if (x[j] !== 0) eta += (x[j] as number) * (beta[j] as number);
  return { eta, mu: familyOf(coding.family).linkinv(clampEta(eta, coding.eta)) };
}

/** η on the original scale, from the table's estimates and the record's values, coded by hand. */
function originalEta(fit: GlmFit, rec: DataRecord, offset: number): number {
  let eta = offset;
  for (const t of fit.table.terms) {
    const x =
      t.term === '(Intercept)'
        ? 1
        : t.term === 'age' || t.term === 'income'
          ? Number(rec[t.term])
          : ['district', 'sex'].some((c) => `${c}${String(rec[c])}` === t.term)
            ? 1
            : 0;
    eta += t.estimate * x;
  }
  return eta;
}

function relativeError(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
}

let dir: string;
const FEDERATION_ID = 'c3'.repeat(32);
const ROWS = rowsOf(400, 11);
const BINOMIAL = fitOf('insured ~ age + sex + district + income', 'binomial', ROWS);
const POISSON = fitOf('visits ~ age + sex + district + offset(log(months))', 'poisson', ROWS);
const SPEC = { kind: 'mlp', hidden: [5, 3], activation: 'relu' } as const;
const NETWORK = trainNetwork(WORKERS, 'insured ~ age + sex + district + income', 'binomial', SPEC, ROWS, FEDERATION_ID);
const REGRESSION = trainNetwork(WORKERS, 'visits ~ age + sex + district', 'gaussian', SPEC, ROWS, FEDERATION_ID);

function writeModel(name: string, m: { fit: GlmFit; coding: ModelCoding }, federation = FEDERATION_ID): string {
  const file = join(dir, name);
  const doc = modelDocument(m.fit, {
    coding: m.coding,
    federation,
    schema: WORKERS,
    createdAt: new Date('2026-03-04T05:06:07.089Z'),
  });
  writeFileSync(file, modelText(doc));
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-predict-cli-'));
  writeFileSync(join(dir, 'workers.csv'), csvOf(ROWS));
  writeModel('binomial.json', BINOMIAL);
  writeModel('poisson.json', POISSON);
  writeFileSync(join(dir, 'network.json'), JSON.stringify(NETWORK.doc, null, 2));
  writeFileSync(join(dir, 'regression.json'), JSON.stringify(REGRESSION.doc, null, 2));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('fedstat predict', () => {
  it('writes every row with eta and fitted equal to the fit computed in plaintext', async () => {
    const out = join(dir, 'binomial-scores.csv');
    const r = await runCli([
      'predict',
      '--model',
      join(dir, 'binomial.json'),
      '--dataset',
      `workers=${join(dir, 'workers.csv')}`,
      '--out',
      out,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('scored');
    expect(r.out).toContain('400 rows');
    const [header, ...rows] = parseCsv(readFileSync(out, 'utf8'));
    expect(header).toEqual([...HEADER, 'eta', 'fitted']);
    expect(rows).toHaveLength(ROWS.length);
    rows.forEach((cells, i) => {
      const rec = ROWS[i] as DataRecord;
      expect(cells.slice(0, HEADER.length)).toEqual(HEADER.map((h) => String(rec[h])));
      const eta = Number(cells[HEADER.length]);
      const fitted = Number(cells[HEADER.length + 1]);
      // Bit for bit the fit's own η and μ for this row…
      const own = internalScore(BINOMIAL.coding, BINOMIAL.fit.state.beta, rec);
      expect(eta).toBe(own.eta);
      expect(fitted).toBe(own.mu);
      // …and, to 1e-12, the plaintext computation from the table's coefficients on the original scale.
      const plain = 1 / (1 + Math.exp(-originalEta(BINOMIAL.fit, rec, 0)));
      expect(relativeError(fitted, plain)).toBeLessThan(1e-12);
    });
  });

  it('scores poisson with its offset, to standard output, from a file without the response', async () => {
    const header = HEADER.filter((h) => h !== 'visits' && h !== 'insured');
    writeFileSync(join(dir, 'unlabelled.csv'), csvOf(ROWS, header));
    const r = await runCli([
      'predict',
      '--model',
      join(dir, 'poisson.json'),
      '--dataset',
      `workers=${join(dir, 'unlabelled.csv')}`,
    ]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const [head, ...rows] = parseCsv(r.out);
    expect(head).toEqual([...header, 'eta', 'fitted']);
    rows.forEach((cells, i) => {
      const rec = ROWS[i] as DataRecord;
      const fitted = Number(cells.at(-1));
      expect(fitted).toBe(internalScore(POISSON.coding, POISSON.fit.state.beta, rec).mu);
      const plain = Math.exp(originalEta(POISSON.fit, rec, Math.log(Number(rec['months']))));
      expect(relativeError(fitted, plain)).toBeLessThan(1e-12);
    });
  });

  it('prints the --json summary', async () => {
    const out = join(dir, 'json-scores.csv');
    const r = await runCli([
      'predict',
      '--model',
      join(dir, 'binomial.json'),
      '--dataset',
      `workers=${join(dir, 'workers.csv')}`,
      '--out',
      out,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['model', 'rows', 'out', 'clamped', 'fitted']);
    expect(doc['rows']).toBe(400);
    expect(doc['out']).toBe(out);
    expect(doc['clamped']).toBe(0);
    expect(doc['model']).toEqual({
      file: join(dir, 'binomial.json'),
      federation: FEDERATION_ID,
      dataset: 'workers',
      family: 'binomial',
      link: 'logit',
      formula: BINOMIAL.coding.formula,
      coefficients: BINOMIAL.coding.coefficients,
      n: 400,
      converged: true,
      privacy: null,
      createdAt: '2026-03-04T05:06:07.089Z',
    });
    const f = doc['fitted'] as { mean: number; min: number; max: number };
    expect(f.min).toBeGreaterThan(0);
    expect(f.max).toBeLessThan(1);
  });

  it('refuses an invalid row, naming its line and column', async () => {
    const lines = csvOf(ROWS.slice(0, 20)).split('\n');
    lines[7] = (lines[7] as string).replace(/,(男|女),/, ',其他,');
    writeFileSync(join(dir, 'bad.csv'), lines.join('\n'));
    const out = join(dir, 'bad-scores.csv');
    const r = await runCli([
      'predict',
      '--model',
      join(dir, 'binomial.json'),
      '--dataset',
      `workers=${join(dir, 'bad.csv')}`,
      '--out',
      out,
    ]);
    expect(r.code).toBe(5);
    expect(r.err).toContain(`bad.csv:8: column sex:`);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(() => readFileSync(out)).toThrow();
  });

  it('refuses a file without a column the model reads', async () => {
    writeFileSync(join(dir, 'no-age.csv'), csvOf(ROWS.slice(0, 5), ['district', 'sex', 'income']));
    const r = await runCli([
      'predict',
      '--model',
      join(dir, 'binomial.json'),
      '--dataset',
      `workers=${join(dir, 'no-age.csv')}`,
    ]);
    expect(r.code).toBe(5);
    expect(r.err).toContain('missing column age');
  });

  it('refuses an unknown dataset with the fix', async () => {
    const r = await runCli([
      'predict',
      '--model',
      join(dir, 'binomial.json'),
      '--dataset',
      `people=${join(dir, 'workers.csv')}`,
    ]);
    expect(r.code).toBe(4);
    expect(r.err).toContain('unknown dataset "people"');
    expect(r.err).toContain('pass --dataset workers=FILE.csv');
  });

  it('refuses a missing or edited model file', async () => {
    const missing = await runCli(['predict', '--model', join(dir, 'nope.json'), '--dataset', 'workers=x.csv']);
    expect(missing.code).toBe(8);
    expect(missing.err).toContain('cannot read model file');
    const text = readFileSync(join(dir, 'binomial.json'), 'utf8').replace('"converged": true', '"converged": "yes"');
    writeFileSync(join(dir, 'edited.json'), text);
    const edited = await runCli(['predict', '--model', join(dir, 'edited.json'), '--dataset', 'workers=x.csv']);
    expect(edited.code).toBe(3);
    expect(edited.err).toContain('edited.json: converged: must be true or false');
  });

  it('--json needs --out; --out may not be the input', async () => {
    const base = ['predict', '--model', join(dir, 'binomial.json'), '--dataset', `workers=${join(dir, 'workers.csv')}`];
    expect((await runCli([...base, '--json'])).code).toBe(3);
    const same = await runCli([...base, '--out', join(dir, 'workers.csv')]);
    expect(same.code).toBe(3);
    expect(same.err).toContain('is the input file');
  });

  describe('a network model', () => {
    it("writes every row with fitted equal to the trainer's evaluate, bit for bit", async () => {
      const out = join(dir, 'network-scores.csv');
      const model = join(dir, 'network.json');
      const r = await runCli([
        'predict',
        '--model',
        model,
        '--dataset',
        `workers=${join(dir, 'workers.csv')}`,
        '--out',
        out,
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`${model} (network, hidden 5,3 (relu), binomial)`);
      const [header, ...rows] = parseCsv(readFileSync(out, 'utf8'));
      expect(header).toEqual([...HEADER, 'eta', 'fitted']);
      expect(rows).toHaveLength(ROWS.length);
      const predictions = NETWORK.trainer.evaluate(NETWORK.params, NETWORK.batch).predictions;
      const distinct = new Set<number>();
      rows.forEach((cells, i) => {
        const fitted = Number(cells[HEADER.length + 1]);
        expect(fitted).toBe(predictions[i]);
        expect(1 / (1 + Math.exp(-Number(cells[HEADER.length])))).toBe(fitted);
        distinct.add(fitted);
      });
      expect(distinct.size).toBeGreaterThan(ROWS.length / 2);
    });

    it('scores a regression on the response scale from a file without the response, with --json', async () => {
      const header = HEADER.filter((h) => h !== 'visits');
      writeFileSync(join(dir, 'no-visits.csv'), csvOf(ROWS, header));
      const out = join(dir, 'regression-scores.csv');
      const model = join(dir, 'regression.json');
      const csv = `workers=${join(dir, 'no-visits.csv')}`;
      const r = await runCli(['predict', '--model', model, '--dataset', csv, '--out', out, '--json']);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.out) as { model: Record<string, unknown>; rows: number };
      expect(summary.rows).toBe(ROWS.length);
      expect(summary.model).toEqual({
        file: model,
        kind: 'network',
        federation: FEDERATION_ID,
        dataset: 'workers',
        family: 'gaussian',
        formula: REGRESSION.coding.formula,
        network: SPEC,
        strategy: 'fedavg',
        rounds: 1,
        privacy: null,
        createdAt: '2026-03-04T05:06:07.089Z',
      });
      const predictions = REGRESSION.trainer.evaluate(REGRESSION.params, REGRESSION.batch).predictions;
      const [, ...rows] = parseCsv(readFileSync(out, 'utf8'));
      expect(rows).toHaveLength(ROWS.length);
      rows.forEach((cells, i) => expect(Number(cells.at(-1))).toBe((predictions[i] as number) * 60));
    });
  });

  describe('with --federation', () => {
    let fed: string;
    beforeAll(async () => {
      writeFileSync(join(dir, 'schema.json'), JSON.stringify(SCHEMA_JSON));
      const ports = await freePorts(2);
      const init = await runCli([
        'init',
        '--out',
        join(dir, 'fed'),
        '--schema',
        join(dir, 'schema.json'),
        ...['a', 'b'].flatMap((id, i) => ['--agency', `${id}=127.0.0.1:${ports[i]}`]),
      ]);
      expect(init.code).toBe(0);
      fed = join(dir, 'fed', 'federation.json');
      writeModel('in-federation.json', BINOMIAL, loadFederation(fed).id);
    });

    it('scores with a model of this federation', async () => {
      const r = await runCli([
        'predict',
        '--model',
        join(dir, 'in-federation.json'),
        '--federation',
        fed,
        '--dataset',
        `workers=${join(dir, 'workers.csv')}`,
      ]);
      expect(r.code).toBe(0);
      expect(parseCsv(r.out)).toHaveLength(ROWS.length + 1);
    });

    it('refuses a model of another federation, with the fix', async () => {
      const r = await runCli([
        'predict',
        '--model',
        join(dir, 'binomial.json'),
        '--federation',
        fed,
        '--dataset',
        `workers=${join(dir, 'workers.csv')}`,
      ]);
      expect(r.code).toBe(3);
      expect(r.err).toContain('the model was trained in federation c3c3c3c3c3c3…');
      expect(r.err).toContain('pass the federation file the model was trained in');
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    });
  });
});
