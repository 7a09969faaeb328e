/**
 * A trained model as `fedstat predict` takes it: a GLM's MODEL.json (model-file.ts) or a federated
 * neural model's (fl/network-file.ts). The two are told apart by `kind`, which only a network's
 * document has; each is read and scored by its own module.
 */
import { parseConfigJson } from '../federation/schema.js';
import { isRecord } from '../util/is-record.js';
import type { DataRecord } from './design-row.js';
import { parseNetworkDocument, type NetworkDocument } from './fl/network-file.js';
import { scoreNetworkRecord } from './fl/network-score.js';
import { readModelValue, type ModelDocument, type ModelExpectations } from './model-file.js';
import { scoreRecord, type Score } from './score.js';

/** Either kind of MODEL.json. */
export type TrainedModel = ModelDocument | NetworkDocument;

/** Whether `model` is a network's document. */
export function isNetworkDocument(model: TrainedModel): model is NetworkDocument {
  return (model as { kind?: unknown }).kind === 'network';
}

/**
 * Reads MODEL.json's text strictly, as the parser of its kind does (a `kind` key: a network's,
 * none: a GLM's). CONFIG_INVALID names `file`, the JSON path and the fix.
 */
export function parseTrainedModel(text: string, file: string, expect: ModelExpectations = {}): TrainedModel {
  const raw = parseConfigJson(text, file);
  if (isRecord(raw) && Object.hasOwn(raw, 'kind')) return parseNetworkDocument(raw, file, expect);
  return readModelValue(raw, file, expect);
}

/** The score of `record` with either kind of model (score.ts' `Score`). */
export function scoreTrained(model: TrainedModel, record: DataRecord): Score {
  return isNetworkDocument(model) ? scoreNetworkRecord(model, record) : scoreRecord(model, record);
}
