/**
 * The flags of `fedstat train --model logistic|mlp` (federated averaging), checked before anyone is
 * contacted: each error names the flag and what to write instead. Flags that belong to the GLM
 * fit (--ridge, --tolerance, --max-rounds, --dp-rounds) are refused here, and these flags are
 * refused for a GLM (train-flags.ts).
 */
import type { NetworkSpec, NetworkTrainOptions, StrategyName } from '../../coordinator/fl-train-types.js';
import { FedstatError } from '../../errors.js';
import { parseQueryRho } from '../../protocol/privacy-terms.js';
import { closest } from '../../util/closest-name.js';

/** The models `--model` names: `glm` is the exact Newton fit, the others are trained by averaging. */
export const MODELS = ['glm', 'logistic', 'mlp'] as const;
export type ModelName = (typeof MODELS)[number];
const STRATEGIES: readonly StrategyName[] = ['fedavg', 'fedprox', 'fedadam'];

/** The averaging flags commander parses (beside train-flags.ts' common ones). */
export interface NetworkCliOptions {
  model?: string;
  hidden?: string;
  activation?: string;
  strategy?: string;
  mu?: string;
  serverLr?: string;
  rounds?: number;
  localEpochs?: number;
  batch?: number;
  lr?: string;
  clip?: string;
  validation?: string;
  agenciesPerRound?: number;
  seed?: number;
  plot?: string;
}

/** The flags only averaging takes, by option key → flag. */
export const NETWORK_FLAGS: Readonly<Record<keyof NetworkCliOptions, string>> = {
  model: '--model',
  hidden: '--hidden',
  activation: '--activation',
  strategy: '--strategy',
  mu: '--mu',
  serverLr: '--server-lr',
  rounds: '--rounds',
  localEpochs: '--local-epochs',
  batch: '--batch',
  lr: '--lr',
  clip: '--clip',
  validation: '--validation',
  agenciesPerRound: '--agencies-per-round',
  seed: '--seed',
  plot: '--plot',
};

function flagError(message: string): FedstatError {
  return new FedstatError('CONFIG_INVALID', message);
}

/** `--model`, with did-you-mean. */
export function parseModel(text: string | undefined): ModelName {
  if (text === undefined) return 'glm';
  const name = text.trim().toLowerCase();
  const known = MODELS.find((m) => m === name);
  if (known !== undefined) return known;
  const [near] = closest(name, MODELS);
  throw flagError(
    `--model ${JSON.stringify(text)} is not a model fedstat trains; ${near === undefined ? `use one of ${MODELS.join(', ')}` : `did you mean --model ${near}?`}`,
  );
}

/** A decimal flag: above 0 (`positive`) or at least 0, and at most `max`. */
function decimal(name: string, text: string | undefined, positive: boolean, max = Infinity): number | undefined {
  if (text === undefined) return undefined;
  const x = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(x) || (positive ? x <= 0 : x < 0) || x > max)
    throw flagError(
      `${name} must be a decimal number ${positive ? 'above 0' : 'at least 0'}${max === Infinity ? '' : ` and at most ${max}`}; got ${JSON.stringify(text)}`,
    );
  return x;
}

/** `--hidden 32,16` → [32, 16]; `--model logistic` has none. */
function parseHidden(model: ModelName, text: string | undefined): number[] {
  if (model === 'logistic') {
    if (text !== undefined)
      throw flagError('--hidden does not apply to --model logistic (it has no hidden layer); use --model mlp');
    return [];
  }
  if (text === undefined) return [32, 16];
  const parts = text.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^\d+$/.test(p) && Number(p) >= 1 && Number(p) <= 1024) || parts.length > 4)
    throw flagError(
      `--hidden takes up to 4 comma-separated widths from 1 to 1024, e.g. --hidden 32,16; got ${JSON.stringify(text)}`,
    );
  return parts.map(Number);
}

function parseStrategy(text: string | undefined): StrategyName {
  if (text === undefined) return 'fedavg';
  const name = text.trim().toLowerCase();
  const known = STRATEGIES.find((s) => s === name);
  if (known !== undefined) return known;
  const [near] = closest(name, STRATEGIES);
  throw flagError(
    `--strategy ${JSON.stringify(text)} is not a strategy; ${near === undefined ? `use one of ${STRATEGIES.join(', ')}` : `did you mean --strategy ${near}?`}`,
  );
}

/** The common flags the averaging request reads. */
export interface CommonTrainFlags {
  dataset: string;
  family?: string;
  formula: string;
  where?: string;
  rho?: string;
  checkpoint?: string;
  resume?: boolean;
  retries?: number;
  threshold?: number;
  deadline: number;
}

/** What `Coordinator.trainNetwork` takes, from the flags. */
export interface NetworkRequest {
  readonly spec: NetworkSpec;
  readonly options: Omit<NetworkTrainOptions, 'onRound' | 'onProgress'>;
}

/** Checks the averaging flags and turns them into a request. */
export function networkRequest(model: ModelName, opts: NetworkCliOptions & CommonTrainFlags): NetworkRequest {
  const family = opts.family?.trim().toLowerCase();
  if (family !== undefined && family !== 'binomial' && family !== 'gaussian')
    throw flagError(
      `--family ${JSON.stringify(opts.family)}: averaging trains binomial (binary) or gaussian (regression) models; use one, or --model glm`,
    );
  if (opts.activation !== undefined && opts.activation !== 'tanh' && opts.activation !== 'relu')
    throw flagError(`--activation must be tanh or relu; got ${JSON.stringify(opts.activation)}`);
  const strategy = parseStrategy(opts.strategy);
  const mu = decimal('--mu', opts.mu, false);
  if (mu !== undefined && strategy !== 'fedprox')
    throw flagError('--mu is the proximal weight of --strategy fedprox; add it, or leave out --mu');
  if (opts.rho !== undefined && opts.localEpochs !== undefined && opts.localEpochs !== 1)
    throw flagError(
      "with --rho every round is one DP-SGD step over each agency's records; leave out --local-epochs (docs/learning.md says why)",
    );
  const lr = decimal('--lr', opts.lr, true);
  const clip = decimal('--clip', opts.clip, true);
  const serverLr = decimal('--server-lr', opts.serverLr, true);
  const validation = decimal('--validation', opts.validation, false, 0.5);
  const spec: NetworkSpec = {
    dataset: opts.dataset,
    formula: opts.formula,
    hidden: parseHidden(model, opts.hidden),
    strategy,
    ...(family === undefined ? {} : { family: family }),
    ...(opts.where === undefined ? {} : { where: opts.where }),
    ...(opts.activation === undefined ? {} : { activation: opts.activation }),
    ...(mu === undefined ? {} : { mu }),
    ...(serverLr === undefined ? {} : { serverLr }),
    ...(opts.rounds === undefined ? {} : { rounds: opts.rounds }),
    ...(opts.localEpochs === undefined ? {} : { localEpochs: opts.localEpochs }),
    ...(opts.batch === undefined ? {} : { batch: opts.batch }),
    ...(lr === undefined ? {} : { lr }),
    ...(clip === undefined ? {} : { clip }),
    ...(validation === undefined ? {} : { validation }),
    ...(opts.agenciesPerRound === undefined ? {} : { agenciesPerRound: opts.agenciesPerRound }),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
  };
  if (opts.plot !== undefined && !/\.(svg|html?)$/i.test(opts.plot))
    throw flagError(`--plot ${opts.plot}: write the learning curve to a .svg or .html file`);
  const rho =
    opts.rho === undefined ? undefined : parseQueryRho(opts.rho, { name: '--rho', spell: (v) => `--rho ${v}` });
  const options: NetworkRequest['options'] = {
    ...(rho === undefined ? {} : { privacy: { rho } }),
    ...(opts.checkpoint === undefined ? {} : { checkpoint: opts.checkpoint }),
    resume: opts.resume === true,
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
    deadlineMs: opts.deadline,
  };
  return { spec, options };
}
