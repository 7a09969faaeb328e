/**
 * A small trained network on the `workers` records for the network-file and predict tests: the
 * MLP of fl-model.ts trained by a few local epochs in this process (no federation), written as a
 * NetworkDocument, with the batch it was trained on so a test can compare with `evaluate`.
 */
import type { DatasetSchema } from '../../../src/federation/schema.js';
import { codeModel, type ModelCoding } from '../../../src/learn/design.js';
import { designVector, responseOf, type DataRecord } from '../../../src/learn/design-row.js';
import { flTrainer, responseScale, type FlModelSpec } from '../../../src/learn/fl/fl-model.js';
import { networkDocument, type NetworkDocument } from '../../../src/learn/fl/network-file.js';
import type { Batch, Trainer } from '../../../src/learn/fl/trainer.js';
import { parseFormula } from '../../../src/learn/formula.js';
import { encodeParameters } from '../../../src/learn/fl/parameters.js';

/** A trained network and what it was trained on. */
export interface NetworkFixture {
  readonly doc: NetworkDocument;
  readonly coding: ModelCoding;
  readonly trainer: Trainer;
  readonly params: Float64Array;
  /** The records' design rows, y on the training scale. */
  readonly batch: Batch;
}

/** The dense design rows of `rows`, y divided by `scale`, as an agency codes them. */
export function batchOf(coding: ModelCoding, rows: readonly DataRecord[], scale: number): Batch {
  const d = coding.columns.length;
  const x = new Float64Array(rows.length * d);
  const y = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    x.set(designVector(coding, r), i * d);
    y[i] = responseOf(coding, r) / scale;
  });
  return { x, y, rows: rows.length };
}

/** Trains `spec` on `rows` for a few epochs and writes its document. */
export function trainNetwork(
  schema: DatasetSchema,
  formula: string,
  family: 'binomial' | 'gaussian',
  spec: FlModelSpec,
  rows: readonly DataRecord[],
  federation: string,
): NetworkFixture {
  const coding = codeModel(parseFormula(formula, schema, 'workers'), schema, family, 'workers');
  const trainer = flTrainer(spec, coding);
  const batch = batchOf(coding, rows, responseScale(coding, schema));
  const hyper = { lr: 0.05, clip: 5, epochs: 3, batch: 50, mu: 0 };
  const { params } = trainer.localUpdate(trainer.initialParameters(7), [batch], hyper);
  const doc = networkDocument({
    federation,
    dataset: 'workers',
    createdAt: '2026-03-04T05:06:07.089Z',
    formula: coding.formula,
    family,
    coding,
    model: spec,
    parameters: encodeParameters(params),
    strategy: { name: 'fedavg', serverLr: 1, mu: 0 },
    hyper,
    validation: 0.1,
    curve: [
      {
        round: 1,
        step: 1,
        trainLoss: 0.7,
        validationLoss: 0.69,
        metric: family === 'binomial' ? 0.6 : 0.2,
        metricName: family === 'binomial' ? 'auc' : 'rmse',
        epsilon: null,
        agencies: ['agency-1', 'agency-2'],
      },
    ],
    privacy: null,
    rounds: [{ round: 1, queryId: 'c4'.repeat(16), agencies: ['agency-1', 'agency-2'], logIndexes: [3, 4] }],
    schemaOfDataset: schema,
  });
  return { doc, coding, trainer, params, batch };
}
