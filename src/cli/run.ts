/**
 * Runs a command action with the CLI's error contract: one clear line on stderr (a JSON object on
 * stdout with --json), the exit code of the error's class, a stack trace only with --verbose.
 */
import { FedstatError, describeError } from '../errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { toJson } from './json.js';

export interface GlobalFlags {
  readonly json?: boolean;
  readonly verbose?: boolean;
}

/**
 * A file-system error that escaped a command unwrapped (it carries the path it failed on): a
 * local IO failure the user can act on, reported as IO rather than as a bug. Every path a command
 * knows it touches wraps its own errors with a better message; this is the backstop.
 */
function fileSystemError(e: unknown): FedstatError | null {
  if (!(e instanceof Error)) return null;
  const { code, syscall, path } = e as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof syscall !== 'string' || typeof path !== 'string') return null;
  return new FedstatError('IO', `cannot ${syscall} ${path}: ${code}; check the path and its permissions`, { cause: e });
}

export function reportError(e: unknown, flags: GlobalFlags): number {
  const err = e instanceof FedstatError ? e : fileSystemError(e);
  const code = err?.code ?? 'INTERNAL';
  const message =
    err?.message ?? `unexpected error: ${describeError(e)} (please report this; rerun with --verbose for details)`;
  if (flags.json === true) {
    process.stdout.write(`${toJson({ error: { code, message, details: err?.details ?? {} } })}\n`);
  }
  process.stderr.write(`fedstat: ${message}\n`);
  if (flags.verbose === true && e instanceof Error && e.stack !== undefined) process.stderr.write(`${e.stack}\n`);
  return err === null ? EXIT.INTERNAL : exitCodeFor(err.code);
}

/** Wraps an async action so any failure sets the exit code instead of crashing. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      const cmd = args[args.length - 1] as { optsWithGlobals?: () => GlobalFlags } | undefined;
      process.exitCode = reportError(e, cmd?.optsWithGlobals?.() ?? {});
    }
  };
}

export function parseIntOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`,
      );
    }
    return n;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
