/** Locates fedstat's own package directory (for `proto/` and `seeds/`) from source or `dist/`. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name;
      if (name === 'fedstat') return (cached = dir);
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('fedstat package root not found (is package.json present?)');
    dir = up;
  }
}
