/**
 * `fedstat train`: fits a generalized linear model of one dataset across the agencies serving it
 * (`Coordinator.train`; `--model logistic|mlp` trains by federated averaging instead, in
 * train-network.ts), prints the table R's `summary(glm())` prints and the rounds, and writes
 * MODEL.json for `fedstat predict`. Flags are checked before anyone is contacted, so a typo costs
 * no round and no budget. A fit that stops after its checkpoint was saved says how to resume it.
 */
import type { Command } from 'commander';
import type { QueryProgress } from '../../coordinator/query-context.js';
import type { TrainResult, TrainRound } from '../../coordinator/train-types.js';
import { modelText } from '../../learn/model-file.js';
import { armExitGuard } from '../exit-guard.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { action, parseIntOption } from '../run.js';
import { DEFAULT_DP_ROUNDS } from '../../coordinator/train.js';
import { trainRequest } from './train-flags.js';
import type { TrainCliOptions, TrainRequest } from './train-flags.js';
import { renderTrain, roundLine, trainJson } from './train-output.js';
import { addNetworkOptions, refuseOtherModelFlags, runTrainNetwork } from './train-network.js';
import { networkRequest, parseModel, type NetworkCliOptions } from './train-network-flags.js';
import { connectForTraining, withResumeHint, writeModelFile } from './train-common.js';

/** A progress bar per round, and a line per finished round, on a terminal's stderr. */
function roundProgress(json: boolean) {
  let bar = progressBar('training', { json });
  return {
    onProgress: (e: QueryProgress): void => {
      if (e.phase === 'asked') bar.update(0, e.agencies.length, 'asking');
      if (e.phase === 'answered' || e.phase === 'failed') bar.update(e.done, e.total, e.agency);
      if (e.phase === 'unmasking' || e.phase === 'decrypting') bar.update(1, 1, e.phase);
    },
    onRound: (r: TrainRound): void => {
      bar.done(roundLine(r));
      bar = progressBar(`round ${r.round + 1}`, { json });
    },
    done: (): void => bar.done(),
  };
}

async function runTrain(request: TrainRequest, opts: TrainCliOptions, cmd: Command): Promise<void> {
  const json = opts.json === true;
  await using coordinator = await connectForTraining(opts);
  const progress = roundProgress(json);
  let result: TrainResult;
  try {
    result = await coordinator.train(request.spec, {
      ...request.options,
      onProgress: progress.onProgress,
      onRound: progress.onRound,
    });
  } catch (e) {
    throw withResumeHint(e, opts.checkpoint, cmd);
  } finally {
    progress.done();
  }
  if (opts.out !== undefined) await writeModelFile(opts.out, modelText(result.model), opts.checkpoint);
  process.stdout.write(json ? `${toJson(trainJson(result))}\n` : `${renderTrain(result)}\n`);
}

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description(
      "train a model across the agencies serving a dataset: a generalized linear model equal to the pooled-data fit (--model glm), or a logistic model or neural network by federated averaging (--model logistic|mlp); only each round's total is ever decrypted",
    )
    .requiredOption('--federation <file>', 'federation.json')
    .requiredOption('--dataset <name>', 'the dataset to fit (every agency serving it takes part)')
    .option(
      '--family <family>',
      'binomial (logit link), gaussian (identity) or poisson (log); required for --model glm, inferred from the response otherwise',
    )
    .requiredOption(
      '--formula <text>',
      'R\'s formula, e.g. "insured ~ age + sex + sector:district"; -1 drops the intercept',
    )
    .option('--where <condition>', 'fit only the rows this SQL condition holds for (what follows WHERE)')
    .option('--ridge <lambda>', 'ridge penalty λ ≥ 0 on the scaled coefficients, not on the intercept (default 0)')
    .option(
      '--rho <rho>',
      'differential privacy: the zCDP budget (e.g. 0.5 or 1/2) the whole fit spends at every agency',
    )
    .option(
      '--dp-rounds <n>',
      `rounds of a --rho fit, fixed in advance (default ${DEFAULT_DP_ROUNDS})`,
      parseIntOption('--dp-rounds', 1, 100),
    )
    .option(
      '--max-rounds <n>',
      'most Newton rounds of an exact fit (default 30)',
      parseIntOption('--max-rounds', 1, 1000),
    )
    .option('--tolerance <t>', 'an exact fit converges when the relative deviance change is below T (default 1e-8)')
    .option('--checkpoint <file>', 'save the fit before and after every round (0600), to resume it with --resume')
    .option('--resume', 'continue the fit saved in --checkpoint')
    .option(
      '--allow-dropouts',
      'go on with the agencies that answer when one stays away (the model names who each round covers)',
    )
    .option(
      '--retries <n>',
      'times a round is asked again when an agency fails it (default 2)',
      parseIntOption('--retries', 0, 100),
    )
    .option('--out <file>', 'write MODEL.json (for fedstat predict) to this file, atomically')
    .option('--key <file>', 'coordinator key file (default: keys/coordinator.key beside the federation file)')
    .option(
      '--key-authority-key <file>',
      'key authority key file for the in-process key authority (default: keys/key-authority.key)',
    )
    .option(
      '--deadline <ms>',
      "time allowed for each remote step: every agency's answer in each round and the key authority's decryption",
      parseIntOption('--deadline', 1),
      30_000,
    )
    .option(
      '--threshold <n>',
      'secure-aggregation threshold of every round: survivors needed to unmask (default ⌈2n/3⌉, at least a majority)',
      parseIntOption('--threshold', 1),
    )
    .option('--insecure', 'plain TCP instead of mTLS; only to agencies on loopback addresses')
    .option('--audit-log <file>', "append every round's query, decryption and release to this JSON-lines file")
    .option(
      '--transparency-log <file>',
      'operate this transparency log (default when the federation requires one: transparency.log beside the federation file); every round is logged like a query',
    )
    .option('--json', 'print the result as JSON');
  addNetworkOptions(command);
  command.action(
    action(async (opts: TrainCliOptions & NetworkCliOptions, cmd: Command) => {
      // Checked before the exit guard is armed: nothing is open yet.
      const model = parseModel(opts.model);
      refuseOtherModelFlags(model, cmd);
      let run: () => Promise<void>;
      if (model === 'glm') {
        const request = trainRequest(opts);
        run = () => runTrain(request, opts, cmd);
      } else {
        const request = networkRequest(model, opts);
        run = () => runTrainNetwork(request, opts, cmd);
      }
      try {
        await run();
      } finally {
        armExitGuard({ verbose: cmd.optsWithGlobals<{ verbose?: boolean }>().verbose === true });
      }
    }),
  );
}
