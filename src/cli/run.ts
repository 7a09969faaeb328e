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

export function reportError(e: unknown, flags: GlobalFlags): number {
  const err = e instanceof FedstatError ? e : null;
  const code = err?.code ?? 'INTERNAL';
  const message = err?.message ?? `unexpected error: ${describeError(e)} (please report this; rerun with --verbose for details)`;
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
      throw new FedstatError('CONFIG_INVALID', `${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
