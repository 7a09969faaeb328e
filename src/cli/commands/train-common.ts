/**
 * What both kinds of `fedstat train` share: the coordinator from the common flags, the command
 * that resumes a stopped run, and writing an output file atomically.
 */
import { existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { connectCoordinator } from '../../coordinator/connect.js';
import { describeError, FedstatError } from '../../errors.js';
import type { ErrorCode } from '../../errors.js';
import { JsonlAuditSink } from '../../transparency/events.js';
import { syncDir } from '../../util/durable-file.js';
import type { TrainCliOptions } from './train-flags.js';

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

/** The coordinator of a training run, from the common flags. */
export function connectForTraining(opts: TrainCliOptions): Promise<Coordinator> {
  return connectCoordinator({
    federation: opts.federation,
    ...(opts.key === undefined ? {} : { keyFile: opts.key }),
    ...(opts.keyAuthorityKey === undefined ? {} : { keyAuthorityKeyFile: opts.keyAuthorityKey }),
    ...(opts.auditLog === undefined ? {} : { audit: new JsonlAuditSink(opts.auditLog) }),
    ...(opts.transparencyLog === undefined ? {} : { transparencyLog: opts.transparencyLog }),
    insecure: opts.insecure === true,
    describeDeadlineMs: Math.min(opts.deadline, DESCRIBE_DEADLINE_MS),
    keyAuthorityDeadlineMs: opts.deadline,
  });
}
