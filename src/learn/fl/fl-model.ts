/**
 * The model a federated-averaging run trains, as the round plan names it: an MLP over the design
 * columns of the run's formula (`hidden: []` is logistic or linear regression), its output fixed by
 * the formula's family, and the response scale regression trains on.
 */
import { FedstatError } from '../../errors.js';
import type { DatasetSchema } from '../../federation/schema.js';
import type { ModelCoding } from '../design.js';
import { mlpTrainer, type MlpShape } from './mlp.js';
import type { Trainer } from './trainer.js';

/** The most hidden layers, and the widest one. */
const MAX_HIDDEN_LAYERS = 4;
const MAX_HIDDEN_WIDTH = 1024;

/** The network a run trains. */
export interface FlModelSpec {
  /** The built-in MLP. */
  readonly kind: 'mlp';
  /** Hidden layer widths; [] for a GLM-shaped model. */
  readonly hidden: readonly number[];
  /** The hidden activation. */
  readonly activation: 'tanh' | 'relu';
}

/** binary for binomial, regression for gaussian; QUERY_INVALID for a family averaging does not train. */
export function flOutput(coding: ModelCoding): 'binary' | 'regression' {
  if (coding.offset !== null)
    throw new FedstatError(
      'QUERY_INVALID',
      'federated averaging does not take an offset; drop offset(...) from the formula',
    );
  if (coding.family === 'binomial' && coding.link === 'logit') return 'binary';
  if (coding.family === 'gaussian' && coding.link === 'identity') return 'regression';
  throw new FedstatError(
    'QUERY_INVALID',
    `federated averaging trains binary classifiers (binomial, logit) and regressions (gaussian, identity), not ${coding.family} with ${coding.link}; fit it as a GLM (--model glm)`,
  );
}

/** The trainer of `spec` over `coding`'s design columns. */
export function flTrainer(spec: FlModelSpec, coding: ModelCoding): Trainer & { readonly shape: MlpShape } {
  return mlpTrainer({
    inputs: coding.columns.length,
    hidden: spec.hidden,
    activation: spec.activation,
    output: flOutput(coding),
  });
}

/** The dataset columns a record must hold for `coding`: every term's variables and the response. */
export function modelColumns(coding: ModelCoding): string[] {
  const names = new Set<string>([coding.response.column]);
  for (const t of coding.terms) for (const f of t.factors) names.add(f.column);
  return [...names].sort();
}

/** Regression trains on y / scale (the response's largest magnitude in the schema), binary on y. */
export function responseScale(coding: ModelCoding, schema: DatasetSchema): number {
  if (flOutput(coding) === 'binary') return 1;
  const column = schema.columns[coding.response.column];
  if (column?.type !== 'integer') return 1;
  return Math.max(1, Math.abs(column.min), Math.abs(column.max));
}

/** Checks an untrusted model spec; RangeError naming what is wrong. */
export function checkFlModelSpec(raw: unknown): FlModelSpec {
  const o = raw as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || Object.keys(o).length !== 3 || o['kind'] !== 'mlp')
    throw new RangeError('the model must be {"kind": "mlp", "hidden": [...], "activation": ...}');
  const { hidden, activation } = o;
  if (
    !Array.isArray(hidden) ||
    hidden.length > MAX_HIDDEN_LAYERS ||
    !hidden.every((w) => Number.isSafeInteger(w) && (w as number) >= 1 && (w as number) <= MAX_HIDDEN_WIDTH)
  )
    throw new RangeError(`hidden layers: at most ${MAX_HIDDEN_LAYERS}, each 1 to ${MAX_HIDDEN_WIDTH} units wide`);
  if (activation !== 'tanh' && activation !== 'relu') throw new RangeError("the activation must be 'tanh' or 'relu'");
  return Object.freeze({ kind: 'mlp', hidden: Object.freeze([...(hidden as number[])]), activation });
}
