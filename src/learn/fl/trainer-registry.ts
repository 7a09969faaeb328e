/**
 * Models of a developer's own in federated averaging: a round plan may name a trainer registered
 * under a name (`{kind: 'custom', name, config}`) instead of the built-in MLP. The coordinator and
 * every agency register a `TrainerFactory` under that name (their `trainers` option); the factory
 * builds a `Trainer` (trainer.ts) from the plan's JSON config and the design's width and output. The
 * parameters travel, are masked, encrypted and averaged as for the MLP; record-level DP clips and
 * rounds each record's gradient in the agency's own code (local-round.ts), so a custom trainer
 * cannot weaken it. `fedstat predict` scores built-in models only: a custom model is scored by the
 * application that defines it.
 */
import { FedstatError } from '../../errors.js';
import { canonicalJson } from '../../util/canonical-json.js';
import type { ModelCoding } from '../design.js';
import { checkFlModelSpec, flOutput, flTrainer, type FlModelSpec } from './fl-model.js';
import type { Trainer } from './trainer.js';

/** A model a registered trainer builds. */
export interface CustomModelSpec {
  /** A registered trainer's model. */
  readonly kind: 'custom';
  /** The name the trainer is registered under (a letter, then up to 63 letters, digits, `_`, `.`, `-`). */
  readonly name: string;
  /** The trainer's own configuration, plain JSON (at most 16 KiB). */
  readonly config: unknown;
}

/** The model a round plan names: the built-in MLP or a registered trainer's. */
export type NetworkModelSpec = FlModelSpec | CustomModelSpec;

/** What a factory learns of the run: the design's width (inputs) and the output the family fixes. */
export interface TrainerShape {
  /** Design columns (the intercept's among them). */
  readonly inputs: number;
  /** binary (binomial response) or regression (gaussian). */
  readonly output: 'binary' | 'regression';
}

/** Builds a trainer from a plan's config; throws (RangeError) on a config it does not take. */
export type TrainerFactory = (config: unknown, shape: TrainerShape) => Trainer;

/** Factories by name. */
export type TrainerRegistry = Readonly<Record<string, TrainerFactory>>;

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MAX_CONFIG_BYTES = 16 * 1024;

/** Checks an untrusted model spec; RangeError naming what is wrong. */
export function checkNetworkModelSpec(raw: unknown): NetworkModelSpec {
  const o = raw as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o['kind'] !== 'custom') return checkFlModelSpec(raw);
  if (Object.keys(o).length !== 3 || !Object.hasOwn(o, 'name') || !Object.hasOwn(o, 'config'))
    throw new RangeError('a custom model must be {"kind": "custom", "name": ..., "config": ...}');
  const { name, config } = o;
  if (typeof name !== 'string' || !NAME.test(name))
    throw new RangeError('a custom model name is a letter, then up to 63 letters, digits, _, . or -');
  let text: string;
  try {
    text = canonicalJson(config);
  } catch {
    throw new RangeError('a custom model config must be plain JSON');
  }
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new RangeError('a custom model config holds at most 16 KiB');
  return Object.freeze({ kind: 'custom', name, config: JSON.parse(text) as unknown });
}

/**
 * The trainer of `spec` over `coding`'s design columns. POLICY_REFUSED when no trainer is
 * registered under a custom model's name; QUERY_INVALID when its factory refuses the config.
 */
export function networkTrainer(spec: NetworkModelSpec, coding: ModelCoding, trainers: TrainerRegistry = {}): Trainer {
  if (spec.kind === 'mlp') return flTrainer(spec, coding);
  const factory = Object.hasOwn(trainers, spec.name) ? trainers[spec.name] : undefined;
  if (factory === undefined)
    throw new FedstatError(
      'POLICY_REFUSED',
      `no trainer is registered here under the name ${JSON.stringify(spec.name)}; register it (the trainers option) at the coordinator and every agency`,
    );
  let trainer: Trainer;
  try {
    trainer = factory(spec.config, { inputs: coding.columns.length, output: flOutput(coding) });
  } catch (e) {
    if (e instanceof FedstatError) throw e;
    throw new FedstatError('QUERY_INVALID', `trainer ${spec.name} refuses its config: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!Number.isSafeInteger(trainer.size) || trainer.size < 1)
    throw new FedstatError('QUERY_INVALID', `trainer ${spec.name} reports a size that is not a whole number ≥ 1`);
  return trainer;
}

/** The model in words: "no hidden layer", "hidden 32,16 (tanh)", or "trainer NAME". */
export function describeModel(spec: NetworkModelSpec): string {
  if (spec.kind === 'custom') return `trainer ${spec.name}`;
  return spec.hidden.length === 0 ? 'no hidden layer' : `hidden ${spec.hidden.join(',')} (${spec.activation})`;
}
