/**
 * `fedstat train --model logistic|mlp`: federated averaging (`Coordinator.trainNetwork`), a line
 * per round as it goes, the learning curve at the end (a table, `--json`, and `--plot FILE.svg` or
 * `.html`), MODEL.json for `fedstat predict`. A run that stops after its checkpoint was saved says
 * how to resume it, like a GLM fit.
 */
import { describeModel } from '../../learn/fl/trainer-registry.js';
import type { Command } from 'commander';
import type { NetworkTrainResult } from '../../coordinator/fl-train-types.js';
import { FedstatError } from '../../errors.js';
import type { CurvePoint } from '../../learn/fl/learning-curve.js';
import { learningCurveHtml, learningCurveSvg } from '../learning-curve-plot.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { parseIntOption } from '../run.js';
import { connectForTraining, withResumeHint, writeModelFile } from './train-common.js';
import type { TrainCliOptions } from './train-flags.js';
import { NETWORK_FLAGS, type ModelName, type NetworkCliOptions, type NetworkRequest } from './train-network-flags.js';
import { networkJson, networkRoundLine, renderNetwork } from './train-network-output.js';

/** Flags of the GLM fit, refused with averaging. */
const GLM_FLAGS: Readonly<Record<string, string>> = {
  ridge: '--ridge',
  tolerance: '--tolerance',
  maxRounds: '--max-rounds',
  dpRounds: '--dp-rounds',
  allowDropouts: '--allow-dropouts',
};

/** The averaging flags, on the train command. */
export function addNetworkOptions(cmd: Command): void {
  cmd
    .option('--model <model>', 'glm (default: the exact Newton fit), logistic or mlp (trained by federated averaging)')
    .option('--hidden <widths>', 'hidden layer widths of --model mlp, e.g. 32,16 (default 32,16)')
    .option('--activation <name>', 'hidden activation: tanh (default) or relu')
    .option('--strategy <name>', 'server strategy: fedavg (default), fedprox or fedadam')
    .option('--mu <mu>', 'proximal weight of --strategy fedprox (default 0.01)')
    .option('--server-lr <lr>', 'server learning rate (default 1; 0.01 for fedadam)')
    .option('--rounds <n>', 'training rounds (default 20)', parseIntOption('--rounds', 1, 9999))
    .option(
      '--local-epochs <n>',
      'local epochs per round (default 1; with --rho one DP-SGD step)',
      parseIntOption('--local-epochs', 1, 100),
    )
    .option('--batch <n>', 'local batch size (default 32)', parseIntOption('--batch', 1))
    .option('--lr <lr>', 'local learning rate (default 0.1; 1 with --rho)')
    .option(
      '--clip <c>',
      "bound on each record's gradient norm: a record's influence on a round (default 1 with --rho, else 100)",
    )
    .option(
      '--validation <fraction>',
      "fraction of each agency's records held out for the learning curve (default 0.2; 0 for none)",
    )
    .option(
      '--agencies-per-round <k>',
      'ask k agencies per round, sampled per step (default all)',
      parseIntOption('--agencies-per-round', 1),
    )
    .option('--seed <n>', 'seed of the initial parameters (default 1)', parseIntOption('--seed', 0))
    .option('--plot <file>', 'draw the learning curve to FILE.svg or FILE.html');
}

/** Refuses, before anything runs, the flags of the other kind of model. */
export function refuseOtherModelFlags(model: ModelName, cmd: Command): void {
  const given = (key: string): boolean => cmd.getOptionValueSource(key) === 'cli';
  const other =
    model === 'glm' ? Object.entries(NETWORK_FLAGS).filter(([k]) => k !== 'model') : Object.entries(GLM_FLAGS);
  const wrong = other.find(([k]) => given(k));
  if (wrong !== undefined)
    throw new FedstatError(
      'CONFIG_INVALID',
      model === 'glm'
        ? `${wrong[1]} applies to models trained by averaging; add --model mlp (or logistic), or leave out ${wrong[1]}`
        : `${wrong[1]} applies to --model glm; leave it out for --model ${model}`,
    );
}

function plotText(file: string, curve: readonly CurvePoint[], r: NetworkTrainResult): string {
  const title = `${r.model.formula} — ${describeModel(r.model.model)}, by ${r.model.strategy.name}`;
  const options = { title, delta: r.privacy?.delta };
  return /\.svg$/i.test(file) ? learningCurveSvg(curve, options) : learningCurveHtml(curve, options);
}

/** Runs the averaging request and prints what it made. */
export async function runTrainNetwork(
  request: NetworkRequest,
  opts: TrainCliOptions & NetworkCliOptions,
  cmd: Command,
): Promise<void> {
  const json = opts.json === true;
  await using coordinator = await connectForTraining(opts);
  let bar = progressBar('round 1', { json });
  let result: NetworkTrainResult;
  try {
    result = await coordinator.trainNetwork(request.spec, {
      ...request.options,
      onProgress: (e) => {
        if (e.phase === 'asked') bar.update(0, e.agencies.length, 'asking');
        if (e.phase === 'answered' || e.phase === 'failed') bar.update(e.done, e.total, e.agency);
        if (e.phase === 'unmasking' || e.phase === 'decrypting') bar.update(1, 1, e.phase);
      },
      onRound: (point, ms) => {
        bar.done(networkRoundLine(point, ms));
        bar = progressBar(`round ${point.round + 1}`, { json });
      },
    });
  } catch (e) {
    throw withResumeHint(e, opts.checkpoint, cmd);
  } finally {
    bar.done();
  }
  if (opts.out !== undefined)
    await writeModelFile(opts.out, `${JSON.stringify(result.model, null, 2)}\n`, opts.checkpoint);
  if (opts.plot !== undefined) await writeModelFile(opts.plot, plotText(opts.plot, result.curve, result));
  process.stdout.write(json ? `${toJson(networkJson(result))}\n` : `${renderNetwork(result)}\n`);
}
