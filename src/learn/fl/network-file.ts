/**
 * The MODEL.json of a federated neural model (issue 14): what `fedstat train --model mlp|logistic`
 * writes and `fedstat predict` scores. Like a GLM's (model-file.ts) it holds everything scoring
 * needs without the agencies: the coding (design.ts), the network's shape and its parameters
 * (float64 little-endian, base64, as a round plan carries them, with their SHA-256), the response
 * scale regression trained on, and the dataset's schema with its SHA-256. It also records how the
 * run went: strategy, hyper-parameters, validation split, learning curve, privacy, and each
 * round's transparency-log entries. `kind: "network"` tells it from a GLM's, which has no `kind`.
 *
 * `parseNetworkDocument` reads it as strictly as model-file.ts reads a GLM's, with its readers: an
 * unknown or missing key, a number that is not finite, a coding its formula and schema do not
 * give, parameters that are not the network's count of finite values or not those of the digest
 * are refused with the file and the JSON path. No I/O here.
 */
import type { DatasetSchema, JsonLocation, Schema } from '../../federation/schema.js';
import { configError } from '../../federation/schema.js';
import { FedstatError } from '../../errors.js';
import { isRecord } from '../../util/is-record.js';
import type { ModelCoding } from '../design.js';
import {
  array,
  checkFormat,
  child,
  finite,
  integer,
  nonNegative,
  object,
  PRIVACY_KEYS,
  privacyFields,
  readCoding,
  readHeader,
  readRounds,
  RETRAIN,
  same,
  schemaSha256,
  text,
  type ModelExpectations,
  type ModelPrivacy,
  type ModelRound,
} from '../model-file.js';
import { flOutput, flTrainer, responseScale } from './fl-model.js';
import { checkNetworkModelSpec, type NetworkModelSpec } from './trainer-registry.js';
import type { CurvePoint } from './learning-curve.js';
import type { LocalHyper } from './local-round.js';
import { decodeParameters, parametersDigest } from './parameters.js';

/** The differential privacy of a run's rounds: a GLM's `ModelPrivacy` without its intervals. */
export type NetworkPrivacy = Omit<ModelPrivacy, 'intervals'>;

/** A federated neural model's MODEL.json (see the file comment). */
export interface NetworkDocument {
  /** The layout version: 1. */
  readonly format: 1;
  /** Tells a network's MODEL.json from a GLM's (which has no kind). */
  readonly kind: 'network';
  /** The federation id (64 hex digits). */
  readonly federation: string;
  /** The dataset the model was trained on. */
  readonly dataset: string;
  /** When the run ended, ISO 8601 UTC. */
  readonly createdAt: string;
  /** `coding.formula`. */
  readonly formula: string;
  /** binomial: a binary classifier; gaussian: a regression. */
  readonly family: 'binomial' | 'gaussian';
  /** How records are coded into the network's inputs (design.ts). */
  readonly coding: ModelCoding;
  /** The network's shape. */
  readonly model: NetworkModelSpec;
  /** Regression trained on y / responseScale (fl-model.ts); 1 for binary. */
  readonly responseScale: number;
  /** The parameters, float64 little-endian, base64 (fl-round.ts `encodeParameters`). */
  readonly parameters: string;
  /** fl-round.ts `parametersDigest` of the parameters. */
  readonly parametersSha256: string;
  /** The server strategy and its rates. */
  readonly strategy: {
    readonly name: 'fedavg' | 'fedprox' | 'fedadam';
    readonly serverLr: number;
    readonly mu: number;
  };
  /** The round plans' hyper-parameters (protocol/fl-round.ts `FlHyper`). */
  readonly hyper: LocalHyper;
  /** Fraction of each agency's records held out for validation. */
  readonly validation: number;
  /** The learning curve, one point per round. */
  readonly curve: readonly CurvePoint[];
  /** null when the rounds released exact sums. */
  readonly privacy: NetworkPrivacy | null;
  /** Each round's query and transparency-log entries. */
  readonly rounds: readonly ModelRound[];
  /** A fedstat schema holding the one dataset. */
  readonly schema: Schema;
  /** hex SHA-256 of the dataset schema's canonical JSON. */
  readonly schemaSha256: string;
}

/** What the writer gives: the document less what is derived from it. */
export type NetworkFields = Omit<
  NetworkDocument,
  'format' | 'kind' | 'parametersSha256' | 'schema' | 'schemaSha256' | 'responseScale'
> & { readonly schemaOfDataset: DatasetSchema };

/** The document of a finished run. Throws as `parseNetworkDocument` would. */
export function networkDocument(fields: NetworkFields): NetworkDocument {
  const { schemaOfDataset, ...rest } = fields;
  const params = decodeParameters(fields.parameters, parameterCount(fields.model, fields.coding, fields.parameters));
  const doc = {
    format: 1,
    kind: 'network',
    ...rest,
    responseScale: responseScale(fields.coding, schemaOfDataset),
    parametersSha256: parametersDigest(params),
    schema: { datasets: { [fields.dataset]: schemaOfDataset } },
    schemaSha256: schemaSha256(schemaOfDataset),
  };
  // Through JSON and the reader: what train writes is exactly what predict accepts.
  return parseNetworkDocument(JSON.parse(JSON.stringify(doc)) as unknown, '(new model)', {});
}

const KEYS = [
  'format',
  'kind',
  'federation',
  'dataset',
  'createdAt',
  'formula',
  'family',
  'coding',
  'model',
  'responseScale',
  'parameters',
  'parametersSha256',
  'strategy',
  'hyper',
  'validation',
  'curve',
  'privacy',
  'rounds',
  'schema',
  'schemaSha256',
] as const;

const EDITED = 'the file was edited; ' + RETRAIN;

/**
 * Reads a network's MODEL.json, already JSON-parsed (see the file comment). CONFIG_INVALID names
 * `file`, the JSON path and the fix; `expect.federation` is checked as for a GLM's.
 */
export function parseNetworkDocument(value: unknown, file: string, expect: ModelExpectations): NetworkDocument {
  const root: JsonLocation = { file, path: '' };
  checkFormat(value, root);
  if (isRecord(value) && value['kind'] !== 'network' && Object.hasOwn(value, 'kind'))
    throw configError(child(root, 'kind'), `unknown model kind ${JSON.stringify(value['kind'])}`, RETRAIN);
  const o = object(value, root, KEYS);
  const { federation, dataset, createdAt, schemaOf } = readHeader(o, root, expect);
  const coding = readFlCoding(o['coding'], child(root, 'coding'), schemaOf, dataset);
  same(o['formula'], coding.formula, child(root, 'formula'), `the coding's "formula"`);
  same(o['family'], coding.family, child(root, 'family'), `the coding's "family"`);
  const model = readSpec(o['model'], child(root, 'model'));
  const scale = finite(o['responseScale'], child(root, 'responseScale'));
  if (scale !== responseScale(coding, schemaOf))
    throw configError(child(root, 'responseScale'), 'does not match the schema of the response', EDITED);
  const parameters = readParameters(o, root, parameterCount(model, coding, o['parameters']));
  const dp = o['privacy'] !== null;
  return Object.freeze({
    format: 1,
    kind: 'network',
    federation,
    dataset,
    createdAt,
    formula: coding.formula,
    family: coding.family as 'binomial' | 'gaussian',
    coding,
    model,
    responseScale: scale,
    ...parameters,
    strategy: readStrategy(o['strategy'], child(root, 'strategy')),
    hyper: readHyper(o['hyper'], child(root, 'hyper'), schemaOf.maxRows, dp),
    validation: readValidation(o['validation'], child(root, 'validation')),
    curve: readCurve(o['curve'], child(root, 'curve'), flOutput(coding) === 'binary' ? 'auc' : 'rmse'),
    privacy: readNetworkPrivacy(o['privacy'], child(root, 'privacy')),
    rounds: readRounds(o['rounds'], child(root, 'rounds'), Number.MAX_SAFE_INTEGER),
    schema: { datasets: { [dataset]: schemaOf } },
    schemaSha256: schemaSha256(schemaOf),
  });
}

/** The coding, as for a GLM, and one federated averaging trains (binomial/logit or gaussian/identity). */
function readFlCoding(raw: unknown, at: JsonLocation, ds: DatasetSchema, dataset: string): ModelCoding {
  const coding = readCoding(raw, at, ds, dataset);
  try {
    flOutput(coding);
  } catch (e) {
    if (!(e instanceof FedstatError)) throw e;
    throw configError(at, `is refused: ${e.message}`, EDITED);
  }
  return coding;
}

/** The MLP's parameter count; a custom model's is what its parameters hold (its trainer is not here). */
function parameterCount(model: NetworkModelSpec, coding: ModelCoding, parameters: unknown): number {
  if (model.kind === 'mlp') return flTrainer(model, coding).size;
  return typeof parameters === 'string' ? Math.max(1, Math.floor((parameters.length * 3) / 4 / 8)) : 1;
}

function readSpec(raw: unknown, at: JsonLocation): NetworkModelSpec {
  try {
    return checkNetworkModelSpec(raw);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw configError(at, `is refused: ${e.message}`, EDITED);
  }
}

/** The parameters, `size` finite float64 values whose digest is `parametersSha256`. */
function readParameters(
  o: Record<string, unknown>,
  root: JsonLocation,
  size: number,
): { parameters: string; parametersSha256: string } {
  const at = child(root, 'parameters');
  const parameters = text(o['parameters'], at, undefined, 'base64 text');
  let values: Float64Array;
  try {
    values = decodeParameters(parameters, size);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw configError(at, `is refused: ${e.message} (the network has ${size})`, EDITED);
  }
  const sha = text(o['parametersSha256'], child(root, 'parametersSha256'), /^[0-9a-f]{64}$/, '64 hex digits');
  if (sha !== parametersDigest(values))
    throw configError(child(root, 'parametersSha256'), 'does not match the parameters', EDITED);
  return { parameters, parametersSha256: sha };
}

function positive(raw: unknown, at: JsonLocation): number {
  const v = finite(raw, at);
  if (!(v > 0)) throw configError(at, 'must be positive', RETRAIN);
  return v;
}

function readStrategy(raw: unknown, at: JsonLocation): NetworkDocument['strategy'] {
  const o = object(raw, at, ['name', 'serverLr', 'mu']);
  const name = o['name'];
  if (name !== 'fedavg' && name !== 'fedprox' && name !== 'fedadam')
    throw configError(child(at, 'name'), 'must be "fedavg", "fedprox" or "fedadam"', RETRAIN);
  return Object.freeze({
    name,
    serverLr: positive(o['serverLr'], child(at, 'serverLr')),
    mu: nonNegative(o['mu'], child(at, 'mu')),
  });
}

/** As a round plan's (protocol/fl-round.ts, whose limits train enforced): a DP run takes one local step a round. */
function readHyper(raw: unknown, at: JsonLocation, maxRows: number, dp: boolean): LocalHyper {
  const o = object(raw, at, ['lr', 'clip', 'epochs', 'batch', 'mu']);
  const epochs = integer(o['epochs'], child(at, 'epochs'), 1);
  if (dp && epochs !== 1) throw configError(child(at, 'epochs'), 'must be 1 in a DP run', RETRAIN);
  const batch = integer(o['batch'], child(at, 'batch'), 1);
  if (batch > maxRows)
    throw configError(child(at, 'batch'), `must be at most the schema's maxRows ${maxRows}`, RETRAIN);
  return Object.freeze({
    lr: positive(o['lr'], child(at, 'lr')),
    clip: positive(o['clip'], child(at, 'clip')),
    epochs,
    batch,
    mu: nonNegative(o['mu'], child(at, 'mu')),
  });
}

function readValidation(raw: unknown, at: JsonLocation): number {
  const v = nonNegative(raw, at);
  if (!(v < 1)) throw configError(at, 'must be a fraction below 1', RETRAIN);
  return v;
}

function finiteOrNull(raw: unknown, at: JsonLocation): number | null {
  return raw === null ? null : finite(raw, at);
}

const CURVE_KEYS = ['round', 'step', 'trainLoss', 'validationLoss', 'metric', 'metricName', 'epsilon', 'agencies'];

/** The learning curve: round numbers ascending, the metric the output has (AUC or RMSE). */
function readCurve(raw: unknown, at: JsonLocation, metricName: 'auc' | 'rmse'): readonly CurvePoint[] {
  let last = 0;
  return Object.freeze(
    array(raw, at).map((r, i): CurvePoint => {
      const here = child(at, i);
      const o = object(r, here, CURVE_KEYS);
      const round = integer(o['round'], child(here, 'round'), 1);
      if (round <= last) throw configError(child(here, 'round'), `must be above ${last}`, RETRAIN);
      last = round;
      if (o['metricName'] !== metricName)
        throw configError(child(here, 'metricName'), `must be "${metricName}" for this model`, RETRAIN);
      const agencies = array(o['agencies'], child(here, 'agencies')).map((v, k) =>
        text(v, child(child(here, 'agencies'), k)),
      );
      return Object.freeze({
        round,
        step: integer(o['step'], child(here, 'step'), 0),
        trainLoss: finiteOrNull(o['trainLoss'], child(here, 'trainLoss')),
        validationLoss: finiteOrNull(o['validationLoss'], child(here, 'validationLoss')),
        metric: finiteOrNull(o['metric'], child(here, 'metric')),
        metricName,
        epsilon: finiteOrNull(o['epsilon'], child(here, 'epsilon')),
        agencies: Object.freeze(agencies),
      });
    }),
  );
}

function readNetworkPrivacy(raw: unknown, at: JsonLocation): NetworkPrivacy | null {
  if (raw === null) return null;
  return Object.freeze(privacyFields(object(raw, at, PRIVACY_KEYS), at));
}
