/**
 * Scoring a record with a federated neural model: the record coded into its dense design row as an
 * agency codes it for training (local-round.ts), then the network's forward pass (mlp.ts
 * `predictOne`), so a score equals `evaluate`'s prediction for the same row bit for bit.
 *
 * The `Score` is score.ts': for a binary model `eta` is the output's logit and `fitted` the
 * probability; for a regression both are the prediction on the response's own scale (the network
 * predicts y / responseScale). A network has no η range, so `clamped` is always false.
 */
import type { ModelCoding } from '../design.js';
import { encodeRecord, newEncodedRow } from '../design-row.js';
import type { DataRecord } from '../design-row.js';
import { withResponse, type Score } from '../score.js';
import { FedstatError } from '../../errors.js';
import { flTrainer } from './fl-model.js';
import type { NetworkModelSpec } from './trainer-registry.js';
import { predictOne, type MlpShape } from './mlp.js';
import type { NetworkDocument } from './network-file.js';
import { decodeParameters } from './parameters.js';

/** What scoring needs of a network, its parameters decoded. */
export interface NetworkScoringModel {
  readonly coding: ModelCoding;
  readonly model: NetworkModelSpec;
  readonly parameters: Float64Array;
  readonly responseScale: number;
}

/** A model made ready once: its shape, its decoded parameters, its row buffers. */
interface Prepared {
  readonly coding: ModelCoding;
  readonly shape: MlpShape;
  readonly params: Float64Array;
  readonly scale: number;
  readonly x: Float64Array;
  readonly row: ReturnType<typeof newEncodedRow>;
}

const prepared = new WeakMap<NetworkDocument | NetworkScoringModel, Prepared>();

function prepare(model: NetworkDocument | NetworkScoringModel): Prepared {
  let p = prepared.get(model);
  if (p !== undefined) return p;
  if (model.model.kind === 'custom')
    throw new FedstatError(
      'CONFIG_INVALID',
      `the model was trained with trainer ${JSON.stringify(model.model.name)} of its application; score it there (fedstat predict scores built-in models)`,
    );
  const { shape } = flTrainer(model.model, model.coding);
  const params =
    typeof model.parameters === 'string' ? decodeParameters(model.parameters, shape.size) : model.parameters;
  if (params.length !== shape.size) throw new RangeError('scoreNetworkRecord: the parameters do not match the model');
  p = {
    coding: model.coding,
    shape,
    params,
    scale: model.responseScale,
    x: new Float64Array(model.coding.columns.length),
    row: newEncodedRow(model.coding),
  };
  prepared.set(model, p);
  return p;
}

/**
 * The score of `record` (column → value, as a CSV reader or the store gives it); the response
 * column may be absent. Throws DATA_INVALID naming the column when a value the model reads is
 * missing or outside its schema domain.
 */
export function scoreNetworkRecord(model: NetworkDocument | NetworkScoringModel, record: DataRecord): Score {
  const p = prepare(model);
  encodeRecord(p.coding, withResponse(p.coding, record), p.row);
  p.x.fill(0);
  for (let k = 0; k < p.row.nnz; k++) p.x[p.row.index[k] as number] = p.row.value[k] as number;
  const { z, prediction } = predictOne(p.shape, p.params, p.x);
  if (p.shape.output === 'binary') return { eta: z, fitted: prediction, clamped: false };
  const fitted = prediction * p.scale;
  return { eta: fitted, fitted, clamped: false };
}
