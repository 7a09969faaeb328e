/**
 * MODEL.json: a fit's document survives its text bit for bit and scores as the fit computes; every
 * malformed, truncated, unknown-key, tampered or foreign document is refused naming the file and
 * the JSON path.
 */
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema, Schema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import { designVector, offsetOf } from '../../src/learn/design-row.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import type { FamilyName } from '../../src/learn/family.js';
import { clampEta, familyOf } from '../../src/learn/family.js';
import { formatSummary } from '../../src/learn/format-summary.js';
import { parseFormula } from '../../src/learn/formula.js';
import { modelDocument, modelText, parseModelDocument, schemaSha256 } from '../../src/learn/model-file.js';
import type { ModelDocument } from '../../src/learn/model-file.js';
import { fitPooled } from '../../src/learn/pooled-fit.js';
import type { GlmFit } from '../../src/learn/pooled-fit.js';
import { scoreRecord } from '../../src/learn/score.js';
import { WORKERS_DATASET_JSON, workerRows } from './workers.js';

const FILE = 'MODEL.json';
const FEDERATION = 'a1'.repeat(32);
const OTHER = 'b2'.repeat(32);

const SCHEMA: Schema = parseSchema(
  {
    datasets: {
      workers: WORKERS_DATASET_JSON,
    },
  },
  'schema.json',
);
const WORKERS = SCHEMA.datasets['workers'] as DatasetSchema;

function rowsOf(n: number, seed: number): DataRecord[] {
  return workerRows(n, seed);
}

function fitOf(formula: string, family: FamilyName, rows: readonly DataRecord[]): { fit: GlmFit; coding: ModelCoding } {
  const coding = codeModel(parseFormula(formula, WORKERS, 'workers'), WORKERS, family, 'workers');
  return { fit: fitPooled(rows, coding), coding };
}

const ROWS = rowsOf(600, 7);
const BINOMIAL = fitOf('insured ~ age + sex + district + income', 'binomial', ROWS);
const DOC = modelDocument(BINOMIAL.fit, {
  coding: BINOMIAL.coding,
  federation: FEDERATION,
  schema: WORKERS,
  createdAt: new Date('2026-01-02T03:04:05.678Z'),
  rounds: [
    { round: 1, queryId: 'a1'.repeat(16), agencies: ['agency-1', 'agency-2'], logIndexes: [10, 11, 12] },
    { round: 2, queryId: 'b2'.repeat(16), agencies: ['agency-1'], logIndexes: [20] },
  ],
});
const TEXT = modelText(DOC);

/** The error `fn` throws, which must be a FedstatError. */
function refusal(fn: () => unknown): FedstatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FedstatError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

/** The document's JSON, edited by `edit`, parsed again: the refusal's code, path and message. */
function refusedEdit(edit: (doc: Record<string, unknown>) => void): FedstatError {
  const doc = JSON.parse(TEXT) as Record<string, unknown>;
  edit(doc);
  return refusal(() => parseModelDocument(JSON.stringify(doc), FILE));
}

function expectPath(e: FedstatError, path: string): void {
  expect(e.code).toBe('CONFIG_INVALID');
  expect(e.details['path']).toBe(path);
  expect(e.details['file']).toBe(FILE);
  expect(e.message).toContain(path === '' ? `${FILE}: ` : `${FILE}: ${path}: `);
  expect(e.message.split('\n')).toHaveLength(1);
}

describe('MODEL.json round trip', () => {
  it('keeps every field, and the table prints as the fit does', () => {
    const back = parseModelDocument(TEXT, FILE);
    expect(back).toEqual(DOC);
    expect(modelText(back)).toBe(TEXT);
    expect(back.coefficients).toEqual(BINOMIAL.fit.state.beta);
    expect(back.terms).toEqual(BINOMIAL.fit.table.terms);
    expect(formatSummary(back)).toBe(formatSummary(BINOMIAL.fit.table));
    expect(back.schemaSha256).toBe(schemaSha256(WORKERS));
    expect(back.privacy).toBeNull();
    expect(back.rounds).toEqual([
      { round: 1, queryId: 'a1'.repeat(16), agencies: ['agency-1', 'agency-2'], logIndexes: [10, 11, 12] },
      { round: 2, queryId: 'b2'.repeat(16), agencies: ['agency-1'], logIndexes: [20] },
    ]);
  });

  it('accepts the federation it was trained in', () => {
    expect(parseModelDocument(TEXT, FILE, { federation: { id: FEDERATION, schema: SCHEMA } })).toEqual(DOC);
  });

  it('keeps a privacy section', () => {
    const privacy = {
      rho: '1/2',
      rhoPerRound: '1/20',
      rounds: 10,
      epsilon: 4.5,
      delta: 1e-9,
      threshold: 2,
      intervals: 'parametric bootstrap',
    };
    const doc = modelDocument(BINOMIAL.fit, { ...contextOf(BINOMIAL.coding), privacy });
    expect(parseModelDocument(modelText(doc), FILE).privacy).toEqual(privacy);
  });

  it('scores each row as the fit computes it, bit for bit, before and after the file', () => {
    const back = parseModelDocument(TEXT, FILE);
    const beta = BINOMIAL.fit.state.beta;
    for (const rec of ROWS) {
      const x = designVector(BINOMIAL.coding, rec);
      let eta = offsetOf(BINOMIAL.coding, rec);
      for (let j = 0; j < x.length; j++) if (x[j] !== 0) eta += (x[j] as number) * (beta[j] as number);
      const mu = familyOf('binomial').linkinv(clampEta(eta, BINOMIAL.coding.eta));
      expect(scoreRecord(back, rec)).toEqual({ eta, fitted: mu, clamped: false });
      expect(scoreRecord(DOC, rec)).toEqual({ eta, fitted: mu, clamped: false });
    }
  });

  it('scores poisson with its offset, and a record without its response', () => {
    const { fit, coding } = fitOf('visits ~ age + district + offset(log(months))', 'poisson', ROWS);
    const doc = parseModelDocument(modelText(modelDocument(fit, contextOf(coding))), FILE);
    for (const rec of ROWS.slice(0, 50)) {
      const s = scoreRecord(doc, rec);
      const { visits: _, ...unlabelled } = rec;
      expect(scoreRecord(doc, unlabelled)).toEqual(s);
      expect(s.fitted).toBe(Math.exp(s.eta));
    }
  });

  it('refuses a record outside the schema, naming the column', () => {
    const e = refusal(() => scoreRecord(DOC, { ...ROWS[0], district: '武侯区' }));
    expect(e.code).toBe('DATA_INVALID');
    expect(e.details['columnName']).toBe('district');
  });
});

function contextOf(coding: ModelCoding) {
  return { coding, federation: FEDERATION, schema: WORKERS, createdAt: new Date('2026-01-02T03:04:05Z') };
}

describe('MODEL.json refusals', () => {
  it('refuses text that is not JSON, or is truncated', () => {
    expectPath(
      refusal(() => parseModelDocument('{"format": 1,', FILE)),
      '',
    );
    for (const cut of [1, 100, Math.floor(TEXT.length / 2), TEXT.length - 3]) {
      expect(refusal(() => parseModelDocument(TEXT.slice(0, cut), FILE)).code).toBe('CONFIG_INVALID');
    }
  });

  it('refuses a key defined twice', () => {
    const twice = TEXT.replace('"dataset": "workers",', '"dataset": "workers",\n  "dataset": "workers",');
    expectPath(
      refusal(() => parseModelDocument(twice, FILE)),
      'dataset',
    );
  });

  it('refuses an unknown key with did-you-mean, at every level', () => {
    const top = refusedEdit((d) => (d['createdAT'] = 'x'));
    expectPath(top, 'createdAT');
    expect(top.message).toContain('did you mean createdAt?');
    expectPath(
      refusedEdit((d) => ((d['terms'] as Record<string, unknown>[])[1]!['se'] = 1)),
      'terms[1].se',
    );
    expectPath(
      refusedEdit((d) => ((d['rounds'] as Record<string, unknown>[])[0]!['log'] = [])),
      'rounds[0].log',
    );
    expectPath(
      refusedEdit(
        (d) => ((d['schema'] as { datasets: { workers: Record<string, unknown> } }).datasets.workers['rows'] = 1),
      ),
      'schema.datasets.workers.rows',
    );
  });

  it('refuses every missing key, naming it', () => {
    for (const key of Object.keys(JSON.parse(TEXT) as object)) {
      if (key === 'format') continue;
      expectPath(
        refusedEdit((d) => delete d[key]),
        key,
      );
    }
    expectPath(
      refusedEdit((d) => delete (d['terms'] as Record<string, unknown>[])[2]!['ci95']),
      'terms[2].ci95',
    );
  });

  it('refuses another format', () => {
    const e = refusedEdit((d) => (d['format'] = 2));
    expectPath(e, 'format');
    expect(e.message).toContain('format 1');
  });

  it('refuses numbers that are not finite, and wrong types', () => {
    const huge = TEXT.replace(/"aic": [^,]+,/, '"aic": 1e999,');
    expectPath(
      refusal(() => parseModelDocument(huge, FILE)),
      'aic',
    );
    expectPath(
      refusedEdit((d) => ((d['coefficients'] as unknown[])[3] = '0.5')),
      'coefficients[3]',
    );
    expectPath(
      refusedEdit((d) => ((d['coefficients'] as unknown[]).length = 2)),
      'coefficients',
    );
    expectPath(
      refusedEdit((d) => (d['n'] = 1.5)),
      'n',
    );
    expectPath(
      refusedEdit((d) => (d['converged'] = 'yes')),
      'converged',
    );
    expectPath(
      refusedEdit((d) => (d['createdAt'] = '2026-02-30T00:00:00.000Z')),
      'createdAt',
    );
    expectPath(
      refusedEdit((d) => (d['federation'] = 'abc')),
      'federation',
    );
  });

  it('refuses a tampered coding, naming its field', () => {
    const coding = (edit: (c: Record<string, unknown>) => void) =>
      refusedEdit((d) => edit(d['coding'] as Record<string, unknown>));
    expectPath(
      coding((c) => (c['intercept'] = false)),
      'coding.intercept',
    );
    expectPath(
      coding((c) => (c['coefficients'] as string[]).reverse()),
      'coding.coefficients',
    );
    expectPath(
      coding((c) => ((c['terms'] as { factors: { center?: number }[] }[])[0]!.factors[0]!.center = 41)),
      'coding.terms',
    );
    expectPath(
      coding((c) => (c['formula'] = 'insured ~ age + nosuch')),
      'coding',
    );
    expectPath(
      coding((c) => (c['extra'] = 1)),
      'coding.extra',
    );
  });

  it('refuses copies that disagree with the coding, and a table its coefficients do not give', () => {
    expectPath(
      refusedEdit((d) => (d['formula'] = 'insured ~ age')),
      'formula',
    );
    expectPath(
      refusedEdit((d) => (d['family'] = 'poisson')),
      'family',
    );
    expectPath(
      // age is centred, so the intercept's estimate moves with age's coefficient and is checked first.
      refusedEdit((d) => ((d['coefficients'] as number[])[1]! *= 1.01)),
      'terms[0].estimate',
    );
    expectPath(
      refusedEdit((d) => ((d['terms'] as { estimate: number }[])[2]!.estimate += 0.5)),
      'terms[2].estimate',
    );
    expectPath(
      refusedEdit((d) => ((d['terms'] as { stderr: number }[])[0]!.stderr *= 2)),
      'terms[0].stderr',
    );
    expectPath(
      refusedEdit((d) => ((d['terms'] as { term: string }[])[1]!.term = 'AGE')),
      'terms[1].term',
    );
    expectPath(
      refusedEdit((d) => ((d['terms'] as { p: number }[])[1]!.p = 0.5)),
      'terms[1].p',
    );
    expectPath(
      refusedEdit((d) => (d['dfResidual'] = 1)),
      'dfResidual',
    );
  });

  it('refuses an edited embedded schema', () => {
    const e = refusedEdit((d) => {
      const ws = (d['schema'] as { datasets: { workers: { columns: { age: { max: number } } } } }).datasets.workers;
      ws.columns.age.max = 99;
    });
    expectPath(e, 'schemaSha256');
    expectPath(
      refusedEdit((d) => {
        const s = d['schema'] as { datasets: Record<string, unknown> };
        s.datasets['other'] = s.datasets['workers'];
      }),
      'schema.datasets',
    );
  });

  it('refuses rounds out of order and a bad privacy section', () => {
    expectPath(
      refusedEdit(
        (d) =>
          (d['rounds'] = [
            { round: 2, queryId: 'a1'.repeat(16), agencies: [], logIndexes: [] },
            { round: 1, queryId: 'b2'.repeat(16), agencies: [], logIndexes: [] },
          ]),
      ),
      'rounds[1].round',
    );
    expectPath(
      refusedEdit((d) => (d['rounds'] = [{ round: 1, queryId: 'a1'.repeat(16), agencies: [], logIndexes: [3, 3] }])),
      'rounds[0].logIndexes[1]',
    );
    expectPath(
      refusedEdit((d) => (d['rounds'] = [{ round: 1, queryId: 'not hex', agencies: [], logIndexes: [] }])),
      'rounds[0].queryId',
    );
    expectPath(
      refusedEdit(
        (d) =>
          (d['privacy'] = {
            rho: '0.5',
            rhoPerRound: '1/20',
            rounds: 10,
            epsilon: 1,
            delta: 1e-9,
            threshold: 2,
            intervals: 'x',
          }),
      ),
      'privacy.rho',
    );
  });

  it('refuses a model of another federation, with the fix', () => {
    const e = refusal(() => parseModelDocument(TEXT, FILE, { federation: { id: OTHER, schema: SCHEMA } }));
    expectPath(e, 'federation');
    expect(e.message).toContain('pass the federation file the model was trained in');
  });

  it("refuses a federation whose schema of the dataset differs from the model's", () => {
    const changed = parseSchema(
      { datasets: { workers: { columns: { ...WORKERS.columns, age: { type: 'integer', min: 16, max: 90 } } } } },
      'schema.json',
    );
    expectPath(
      refusal(() => parseModelDocument(TEXT, FILE, { federation: { id: FEDERATION, schema: changed } })),
      'schema',
    );
  });

  it('modelDocument refuses a schema that does not give the coding', () => {
    const narrower = parseSchema(
      { datasets: { workers: { columns: { ...WORKERS.columns, age: { type: 'integer', min: 18, max: 80 } } } } },
      'schema.json',
    ).datasets['workers'] as DatasetSchema;
    const doc: () => ModelDocument = () =>
      modelDocument(BINOMIAL.fit, { ...contextOf(BINOMIAL.coding), schema: narrower });
    expect(refusal(doc).code).toBe('CONFIG_INVALID');
  });
});
