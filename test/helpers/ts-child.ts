/**
 * A child process running a TypeScript test fixture under Node 22's type stripping, with the
 * `.js` → `.ts` resolve hook that src/he/isolated/worker-entry.ts uses for its worker (sources
 * import each other as `.js`). Crash tests SIGKILL such children at random moments.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

function bootstrap(childUrl: string): string {
  return `
const { registerHooks } = process.getBuiltinModule('node:module');
registerHooks({
  resolve(specifier, context, nextResolve) {
    try { return nextResolve(specifier, context); } catch (e) {
      const parent = context.parentURL;
      if (specifier.startsWith('.') && specifier.endsWith('.js') && typeof parent === 'string' && parent.endsWith('.ts')) {
        return nextResolve(specifier.slice(0, -3) + '.ts', context);
      }
      throw e;
    }
  },
});
import(${JSON.stringify(childUrl)}).catch((e) => { console.error(e); process.exit(3); });
`;
}

/** Starts the fixture at `childUrl` (a file: URL of a .ts module) with extra environment variables. */
export function spawnTsChild(
  childUrl: string,
  env: Readonly<Record<string, string>>,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ['--input-type=module', '-e', bootstrap(childUrl)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
