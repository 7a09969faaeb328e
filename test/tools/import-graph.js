// The import graph between the parts of src/, layer by layer, as docs/architecture.md shows it.
//
//   node test/tools/import-graph.js            one line per folder: what it imports ((t): types only)
//   node test/tools/import-graph.js --files    and under each edge, the files that make it
//   node test/tools/import-graph.js --json     { "from": { "to": { "files": [...], "typeOnly": bool } } }
//
// The parts and layers are those of LAYERS in eslint.config.js: a folder, or a file that LAYERS
// names on its own (errors.ts, the nodes' files). Only relative imports are read: inside src/
// every import of our own code is relative (eslint.config.js checks that too).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { argv, stdout } from 'node:process';
import { LAYERS } from '../../eslint.config.js';

const root = resolve(import.meta.dirname, '..', '..', 'src');
const IMPORT = /(?:^|[\n;])\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]*)['"]/g;
const namedFiles = new Set(LAYERS.flatMap((l) => l.files ?? []));

/** @param {string} dir @returns {string[]} */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? sources(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The part of src/ a path belongs to: a file LAYERS names, a top-level file, or a folder. */
function partOf(/** @type {string} */ path) {
  const rel = relative(root, path).split(sep).join('/');
  if (namedFiles.has(rel) || !rel.includes('/')) return rel;
  return `${rel.split('/')[0]}/`;
}

/** @param {string} part */
function layerOf(part) {
  const i = LAYERS.findIndex((l) => (l.files ?? []).includes(part) || (l.folders ?? []).some((f) => `${f}/` === part));
  return i < 0 ? LAYERS.length : i;
}

/** @type {Map<string, Map<string, { files: Set<string>, typeOnly: boolean }>>} */
const graph = new Map();
for (const file of sources(root).sort()) {
  const from = partOf(file);
  const edges = graph.get(from) ?? new Map();
  graph.set(from, edges);
  for (const [, type, specifier] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    if (specifier === undefined) continue;
    const to = partOf(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
    if (from === to) continue;
    const edge = edges.get(to) ?? { files: new Set(), typeOnly: true };
    edges.set(to, edge);
    edge.files.add(relative(root, file).split(sep).join('/'));
    if (type === undefined) edge.typeOnly = false;
  }
}

/** @param {string} a @param {string} b */
const byLayer = (a, b) => layerOf(a) - layerOf(b) || a.localeCompare(b);
const parts = [...graph.keys()].sort(byLayer);
const lines = [];
if (argv.includes('--json')) {
  const out = Object.fromEntries(
    parts.map((from) => [
      from,
      Object.fromEntries(
        [...(graph.get(from) ?? [])]
          .sort(([a], [b]) => byLayer(a, b))
          .map(([to, e]) => [to, { files: [...e.files], typeOnly: e.typeOnly }]),
      ),
    ]),
  );
  lines.push(JSON.stringify(out, null, 2));
} else {
  const width = Math.max(...parts.map((p) => p.length));
  let layer = -1;
  for (const from of parts) {
    if (layerOf(from) !== layer) {
      layer = layerOf(from);
      lines.push(`${LAYERS[layer]?.name ?? 'in no layer'}:`);
    }
    const edges = [...(graph.get(from) ?? [])].sort(([a], [b]) => byLayer(a, b));
    const targets = edges.map(([to, e]) => (e.typeOnly ? `${to}(t)` : to)).join(' ');
    lines.push(`  ${from.padEnd(width)} → ${targets || '—'}`);
    if (argv.includes('--files')) {
      for (const [to, e] of edges) lines.push(`  ${''.padEnd(width)}     ${to}: ${[...e.files].join(' ')}`);
    }
  }
}
stdout.write(`${lines.join('\n')}\n`);
