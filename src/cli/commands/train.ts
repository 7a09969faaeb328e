/**
 * `fedstat train`: fits a generalized linear model of one dataset across the agencies serving it
 * (`Coordinator.train`), prints the table R's `summary(glm())` prints and the rounds, and writes
 * MODEL.json for `fedstat predict`. Flags are checked before anyone is contacted, so a typo costs
 * no round and no budget. A fit that stops after its checkpoint was saved says how to resume it.
 */
import { existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { connectCoordinator } from '../../coordinator/connect.js';
import type { QueryProgress } from '../../coordinator/query-context.js';
import type { TrainResult, TrainRound } from '../../coordinator/train-types.js';
import { describeError, FedstatError } from '../../errors.js';
import type { ErrorCode } from '../../errors.js';
import { modelText } from '../../learn/model-file.js';
import { JsonlAuditSink } from '../../transparency/events.js';
import { syncDir } from '../../util/durable-file.js';
import { armExitGuard } from '../exit-guard.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { action, parseIntOption } from '../run.js';
import { DEFAULT_DP_ROUNDS } from '../../coordinator/train.js';
import { trainRequest } from './train-flags.js';
import type { TrainCliOptions, TrainRequest } from './train-flags.js';
import { renderTrain, roundLine, trainJson } from './train-output.js';

/** Longest wait for a Describe answer (it does no work: a peer that takes longer is hung). */
const DESCRIBE_DEADLINE_MS = 5_000;
/** Failures after which the same fit can go on once the cause is fixed (a peer, the network, a file). */
const RESUMABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'UNAVAILABLE',
  'POLICY_REFUSED',
  'BAD_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'REPLAY',
  'STALE_HEAD',
  'IO',
]);

// ── resuming ────────────────────────────────────────────────────────────────────────────────────

/** A word as a POSIX shell reads it back: quoted unless it is plainly safe. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command that resumes this fit: the flags given on the command line, then `--checkpoint FILE --resume`. */
export function resumeCommand(cmd: Command, checkpoint: string): string {
  const words = ['fedstat', 'train'];
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (o.long === undefined || o.long === '--checkpoint' || o.long === '--resume') continue;
    if (cmd.getOptionValueSource(key) !== 'cli') continue;
    const value: unknown = cmd.getOptionValue(key);
    if (value === true) words.push(o.long);
    else if (typeof value === 'string' || typeof value === 'number') words.push(o.long, String(value));
  }
  words.push('--checkpoint', checkpoint, '--resume');
  return words.map(shellWord).join(' ');
}

/**
 * The error, with the command that resumes the fit when its checkpoint is on disk (this run wrote
 * it: an existing one is refused without --resume) and the cause can go away (a peer, the network,
 * a file); unchanged when the message already gives the command.
 */
export function withResumeHint(e: unknown, checkpoint: string | undefined, cmd: Command): unknown {
  if (!(e instanceof FedstatError) || checkpoint === undefined) return e;
  if (!RESUMABLE.has(e.code) || !existsSync(checkpoint) || e.message.includes('resume with:')) return e;
  return new FedstatError(e.code, `${e.message}; resume with: ${resumeCommand(cmd, checkpoint)}`, {
    cause: e,
    details: e.details,
  });
}

// ── running ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Writes `text` to `file` atomically (temporary file, fsync, rename): never a half-written model.
 * `saved` is the checkpoint the fit can be taken up from if the write fails.
 */
export async function writeModelFile(file: string, text: string, saved?: string): Promise<void> {
  const partial = `${file}.partial-${process.pid}`;
  try {
    const h = await open(partial, 'wx', 0o644);
    try {
      await h.writeFile(text);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(partial, file);
    await syncDir(file);
  } catch (e) {
    await rm(partial, { force: true }).catch(() => undefined);
    const again = saved === undefined ? '' : ` (the fit is saved in ${saved}: run the command again with --resume)`;
    throw new FedstatError(
      'IO',
      `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? describeError(e)}; check the folder and its permissions${again}`,
      { cause: e, details: { file } },
    );
  }
}

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
  await using coordinator = await connectCoordinator({
    federation: opts.federation,
    ...(opts.key === undefined ? {} : { keyFile: opts.key }),
    ...(opts.keyAuthorityKey === undefined ? {} : { keyAuthorityKeyFile: opts.keyAuthorityKey }),
    ...(opts.auditLog === undefined ? {} : { audit: new JsonlAuditSink(opts.auditLog) }),
    ...(opts.transparencyLog === undefined ? {} : { transparencyLog: opts.transparencyLog }),
    insecure: opts.insecure === true,
    describeDeadlineMs: Math.min(opts.deadline, DESCRIBE_DEADLINE_MS),
    keyAuthorityDeadlineMs: opts.deadline,
  });
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
  program
    .command('train')
    .description(
      "fit a generalized linear model across the agencies serving a dataset, equal to the pooled-data fit; only each round's total is ever decrypted",
    )
    .requiredOption('--federation <file>', 'federation.json')
    .requiredOption('--dataset <name>', 'the dataset to fit (every agency serving it takes part)')
    .requiredOption('--family <family>', 'binomial (logit link), gaussian (identity) or poisson (log)')
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
    .option('--json', 'print the result as JSON')
    .action(
      action(async (opts: TrainCliOptions, cmd: Command) => {
        // Checked before the exit guard is armed: nothing is open yet.
        const request = trainRequest(opts);
        try {
          await runTrain(request, opts, cmd);
        } finally {
          armExitGuard({ verbose: cmd.optsWithGlobals<{ verbose?: boolean }>().verbose === true });
        }
      }),
    );
}
