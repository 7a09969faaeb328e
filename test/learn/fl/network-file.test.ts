/**
 * A network's MODEL.json: a document survives its text and the union reader, scores as `evaluate`
 * predicts bit for bit, and every edited, truncated, foreign or inconsistent document is refused
 * naming the file and the JSON path.
 */
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../../src/errors.js';
import { parseSchema, type DatasetSchema, type Schema } from '../../../src/federation/schema.js';
import { networkDocument, parseNetworkDocument } from '../../../src/learn/fl/network-file.js';
import { scoreNetworkRecord } from '../../../src/learn/fl/network-score.js';
import { modelDocument, type ModelExpectations } from '../../../src/learn/model-file.js';
import { codeModel } from '../../../src/learn/design.js';
import { parseFormula } from '../../../src/learn/formula.js';
import { fitPooled } from '../../../src/learn/pooled-fit.js';
import { isNetworkDocument, parseTrainedModel } from '../../../src/learn/trained-model.js';
import { encodeParameters } from '../../../src/learn/fl/parameters.js';
import { WORKERS_DATASET_JSON, workerRows } from '../workers.js';
import { trainNetwork } from './network-fixture.js';

const FILE = 'MODEL.json';
const FEDERATION = 'a1'.repeat(32);
const SCHEMA: Schema = parseSchema({ datasets: { workers: WORKERS_DATASET_JSON } }, 'schema.json');
const WORKERS = SCHEMA.datasets['workers'] as DatasetSchema;
const ROWS = workerRows(300, 5);
const SPEC = { kind: 'mlp', hidden: [4], activation: 'tanh' } as const;
const BINARY = trainNetwork(WORKERS, 'insured ~ age + sex + district + income', 'binomial', SPEC, ROWS, FEDERATION);
const TEXT = `${JSON.stringify(BINARY.doc, null, 2)}\n`;

/** The document's JSON with `edit` applied to a fresh copy. */
function edited(edit: (o: Record<string, unknown>) => void): string {
  const o = JSON.parse(TEXT) as Record<string, unknown>;
  edit(o);
  return JSON.stringify(o);
}

/** The CONFIG_INVALID message of reading `text`. */
function refusal(text: string, expectations: ModelExpectations = {}): string {
  try {
    parseTrainedModel(text, FILE, expectations);
  } catch (e) {
    expect(e).toBeInstanceOf(FedstatError);
    expect((e as FedstatError).code).toBe('CONFIG_INVALID');
    return (e as FedstatError).message;
  }
  throw new Error('the document was accepted');
}

describe('a network document', () => {
  it('survives its text through the union reader', () => {
    const back = parseTrainedModel(TEXT, FILE);
    expect(isNetworkDocument(back)).toBe(true);
    expect(back).toEqual(BINARY.doc);
    expect(`${JSON.stringify(back, null, 2)}\n`).toBe(TEXT);
    expect(BINARY.doc.responseScale).toBe(1);
    expect(BINARY.doc.parametersSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads a GLM document as a GLM', () => {
    const coding = codeModel(parseFormula('insured ~ age + sex', WORKERS, 'workers'), WORKERS, 'binomial', 'workers');
    const glm = modelDocument(
      { ...fitPooled(ROWS, coding) },
      { coding, federation: FEDERATION, schema: WORKERS, createdAt: new Date('2026-01-02T03:04:05.678Z') },
    );
    const back = parseTrainedModel(JSON.stringify(glm), FILE);
    expect(isNetworkDocument(back)).toBe(false);
    expect(back).toEqual(glm);
  });

  it('scores every record as evaluate predicts, bit for bit (binary and regression)', () => {
    const binary = BINARY.trainer.evaluate(BINARY.params, BINARY.batch).predictions;
    ROWS.forEach((r, i) => {
      const s = scoreNetworkRecord(BINARY.doc, r);
      expect(s.fitted).toBe(binary[i]);
      expect(1 / (1 + Math.exp(-s.eta))).toBe(binary[i]);
      expect(s.clamped).toBe(false);
    });
    const reg = trainNetwork(WORKERS, 'income ~ age + sex + district', 'gaussian', SPEC, ROWS, FEDERATION);
    expect(reg.doc.responseScale).toBe(50000);
    const predictions = reg.trainer.evaluate(reg.params, reg.batch).predictions;
    ROWS.forEach((r, i) => {
      const { income: _, ...unlabelled } = r;
      const s = scoreNetworkRecord(reg.doc, unlabelled);
      expect(s.fitted).toBe((predictions[i] as number) * 50000);
      expect(s.eta).toBe(s.fitted);
    });
  });

  it('refuses unknown, missing and mistyped keys, naming the path', () => {
    expect(refusal(edited((o) => (o['curv'] = [])))).toContain(
      'MODEL.json: curv: unknown key "curv"; did you mean curve?',
    );
    expect(refusal(edited((o) => delete o['hyper']))).toContain('MODEL.json: hyper: missing key "hyper"');
    expect(refusal(edited((o) => ((o['hyper'] as Record<string, unknown>)['lr'] = null)))).toContain(
      'MODEL.json: hyper.lr: must be a finite number',
    );
    expect(refusal(TEXT.replace('"serverLr": 1', '"serverLr": 1e400'))).toContain(
      'MODEL.json: strategy.serverLr: must be a finite number',
    );
    expect(refusal(edited((o) => (o['kind'] = 'tree')))).toContain('MODEL.json: kind: unknown model kind "tree"');
    expect(refusal(edited((o) => (o['format'] = 2)))).toContain('MODEL.json: format: unknown model format 2');
    const curve = edited((o) => ((o['curve'] as Record<string, unknown>[])[0]!['metricName'] = 'rmse'));
    expect(refusal(curve)).toContain('MODEL.json: curve[0].metricName: must be "auc"');
    expect(refusal(TEXT.slice(0, 200))).toContain('MODEL.json: not valid JSON');
  });

  it('refuses a coding, formula or model spec the file does not hold together', () => {
    const coding = edited((o) => ((o['coding'] as Record<string, unknown>)['formula'] = 'insured ~ age'));
    expect(refusal(coding)).toMatch(/^MODEL\.json: coding(\.\w+)?: is refused/);
    expect(refusal(edited((o) => (o['formula'] = 'insured ~ age')))).toContain(
      `MODEL.json: formula: does not match the coding's "formula"`,
    );
    expect(refusal(edited((o) => (o['model'] = { ...SPEC, hidden: [0] })))).toContain(
      'MODEL.json: model: is refused: hidden layers',
    );
    expect(refusal(edited((o) => (o['responseScale'] = 2)))).toContain(
      'MODEL.json: responseScale: does not match the schema of the response',
    );
  });

  it('refuses a family federated averaging does not train', () => {
    const poisson = codeModel(parseFormula('visits ~ age', WORKERS, 'workers'), WORKERS, 'poisson', 'workers');
    const text = edited((o) => {
      o['coding'] = poisson;
      o['formula'] = poisson.formula;
      o['family'] = 'poisson';
    });
    expect(refusal(text)).toContain('MODEL.json: coding: is refused: federated averaging trains binary classifiers');
  });

  it('refuses parameters of the wrong count or that are not the digest', () => {
    const size = BINARY.trainer.size;
    const short = edited((o) => (o['parameters'] = encodeParameters(new Float64Array(size - 1))));
    expect(refusal(short)).toContain(
      `MODEL.json: parameters: is refused: the parameters must be ${size} float64 values`,
    );
    const other = BINARY.params.slice();
    other[0] = (other[0] as number) + 1e-9;
    const tampered = edited((o) => (o['parameters'] = encodeParameters(other)));
    expect(refusal(tampered)).toContain('MODEL.json: parametersSha256: does not match the parameters');
    const nan = new Float64Array(size);
    nan[3] = Number.NaN;
    expect(refusal(edited((o) => (o['parameters'] = encodeParameters(nan))))).toContain(
      'MODEL.json: parameters: is refused: the parameters must be finite',
    );
  });

  it('refuses a document of another federation or an edited schema', () => {
    const foreign = refusal(TEXT, { federation: { id: 'b2'.repeat(32), schema: SCHEMA } });
    expect(foreign).toContain('MODEL.json: federation: the model was trained in federation a1a1a1a1a1a1…');
    const schema = edited((o) => {
      const ds = (o['schema'] as { datasets: Record<string, { maxRows: number }> }).datasets['workers']!;
      ds.maxRows += 1;
    });
    expect(refusal(schema)).toContain('MODEL.json: schemaSha256: does not match the schema in the file');
    expect(() =>
      parseNetworkDocument(JSON.parse(TEXT), FILE, { federation: { id: FEDERATION, schema: SCHEMA } }),
    ).not.toThrow();
  });

  it('the writer refuses what the reader would', () => {
    const { doc } = BINARY;
    const fields = { ...doc, schemaOfDataset: WORKERS };
    expect(() => networkDocument({ ...fields, hyper: { ...doc.hyper, epochs: 0 } })).toThrow(
      /\(new model\): hyper\.epochs: must be an integer ≥ 1/,
    );
    expect(() => networkDocument({ ...fields, curve: [...doc.curve, ...doc.curve] })).toThrow(
      /\(new model\): curve\[1\]\.round: must be above 1/,
    );
  });
});
