/**
 * @internal Starts the HE worker thread from whatever this module was loaded as.
 *
 * - From `dist/` (every normal use): the compiled sibling `he-worker.js`.
 * - From TypeScript source (vitest): the worker runs `he-worker.ts` itself through Node's
 *   built-in type stripping (on by default since Node 22.18). Stripping alone cannot follow the
 *   project's `./x.js` import specifiers to `./x.ts` files, so a tiny bootstrap registers a
 *   synchronous resolve hook (`module.registerHooks`, Node ≥ 22.15) that retries a failed
 *   relative `.js` import from a `.ts` file as `.ts`. Tests then exercise the source they test,
 *   never a stale build. Without stripping, the built `dist/` worker is used if present.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { FedstatError } from '../../errors.js';
import { packageRoot } from '../../util/package-root.js';
import type { WorkerInit } from './protocol.js';

/**
 * Runs in the worker before the TypeScript entry is imported (source mode only). Valid as a
 * script and as a module: a worker inherits the parent's `--input-type`.
 */
function bootstrap(entry: string): string {
  return `
const { registerHooks } = process.getBuiltinModule('node:module');
registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (e) {
      const parent = context.parentURL;
      if (specifier.startsWith('.') && specifier.endsWith('.js') && typeof parent === 'string' && parent.endsWith('.ts')) {
        return nextResolve(specifier.slice(0, -3) + '.ts', context);
      }
      throw e;
    }
  },
});
import(${JSON.stringify(entry)}); // a failure is an unhandled rejection: the worker's 'error' event
`;
}

function missing(path: string): FedstatError {
  return new FedstatError(
    'INTERNAL',
    `the isolated HE worker script ${path} is missing; run \`npm run build\` (or reinstall fedstat)`,
  );
}

/** Where the worker runs from: a compiled file, or TypeScript source behind the bootstrap. */
function workerSource(moduleUrl: string = import.meta.url): { readonly file: URL } | { readonly typescript: string } {
  if (!moduleUrl.endsWith('.ts')) {
    const file = new URL('./he-worker.js', moduleUrl);
    if (!existsSync(fileURLToPath(file))) throw missing(fileURLToPath(file));
    return { file };
  }
  const stripping = Boolean((process.features as { typescript?: unknown }).typescript);
  if (stripping) return { typescript: new URL('./he-worker.ts', moduleUrl).href };
  const built = join(packageRoot(), 'dist', 'src', 'he', 'isolated', 'he-worker.js');
  if (!existsSync(built)) throw missing(built);
  return { file: pathToFileURL(built) };
}

/**
 * Starts one HE worker. `transferList` moves the buffers of `init` (the secret key copy) instead
 * of cloning them. The worker starts referenced; its owner unrefs it when idle.
 */
export function startHeWorker(init: WorkerInit, resourceLimits: ResourceLimits, transferList: ArrayBuffer[]): Worker {
  const source = workerSource();
  const options = { workerData: init, resourceLimits, transferList };
  return 'file' in source
    ? new Worker(source.file, options)
    : new Worker(bootstrap(source.typescript), { ...options, eval: true });
}
