// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The layering rule (docs/architecture.md, "Imports flow one way"), checked by `npm run lint`.
 *
 * LAYERS lists src/ from the bottom up. A file may import its own layer and the layers listed
 * before it, never a layer listed after it. Each folder belongs to one layer; a file named in
 * `files` belongs to its layer even inside another layer's folder (the wiring that still lives
 * in the parties' folders). `typesOnlyFrom` names folders this layer may import for types only
 * (`import type`). `packages` are npm packages that only this layer and later ones may import.
 * When folders move, edit this table and the import section of docs/architecture.md; the rules
 * below are generated from it.
 */
export const LAYERS = [
  { name: 'foundation', folders: ['util'], files: ['errors.ts'] },
  {
    name: 'primitives',
    folders: [
      'crypto',
      'psi',
      'tls',
      'federation',
      'query',
      'store',
      'he',
      'secagg',
      'dp',
      'disclosure',
      'learn',
      'merkle',
      'transparency',
    ],
  },
  { name: 'protocol', folders: ['protocol'] },
  // The coordinator holds the key authority by its `KeyAuthority` interface: parties share types, no code.
  {
    name: 'parties',
    folders: ['agency', 'coordinator', 'key-authority', 'auditor'],
    typesOnlyFrom: ['agency', 'coordinator', 'key-authority'],
  },
  // Transport serves and calls the parties through their interfaces: it never builds one.
  {
    name: 'transport',
    folders: ['transport'],
    typesOnlyFrom: ['agency', 'coordinator', 'key-authority'],
    packages: ['@grpc/grpc-js', 'protobufjs'],
  },
  // Wiring that reads files and opens sockets, and the package's entry points.
  {
    name: 'nodes',
    files: [
      'index.ts',
      'primitives.ts',
      'agency/node.ts',
      'agency/serve.ts',
      'coordinator/index.ts',
      'coordinator/connect.ts',
      'key-authority/index.ts',
      'key-authority/node.ts',
      'auditor/index.ts',
    ],
  },
  { name: 'demo and seed', folders: ['demo', 'seed'] },
  { name: 'CLI', folders: ['cli'], packages: ['commander'] },
];
const layered = LAYERS.flatMap((l) => [...(l.folders ?? []), ...(l.files ?? [])]);
if (new Set(layered).size !== layered.length) throw new Error('eslint.config.js: a folder or file in two layers');
const MAX_DEPTH = 3; // src/<folder>/<sub>/<sub>/file.ts at most; deeper files fail lint (below)

/** @param {string} s */
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** The relative specifier prefix from a file `depth` folders below src/ back to src/. */
const up = (/** @type {number} */ depth) => (depth === 0 ? './' : '../'.repeat(depth));
/** @param {string} file */
const depthOf = (file) => file.split('/').length - 1;
/** @param {string} file  a path under src/, `.ts` */
const specifierOf = (file) => file.replace(/\.ts$/, '.js');

/**
 * Regexes (over import specifiers) that reach `layer` from a file `depth` folders below src/ in
 * one of `fromFolders`.
 * @param {typeof LAYERS[number]} layer @param {number} depth @param {string[]} fromFolders
 */
function reaching(layer, depth, fromFolders) {
  const out = [];
  if (layer.folders) out.push(`^${escape(up(depth))}(?:${layer.folders.map(escape).join('|')})/`);
  for (const file of layer.files ?? []) {
    out.push(`^${escape(up(depth) + specifierOf(file))}$`);
    // The same file seen from its own folder, by a file of this earlier layer living there (checked
    // in all of this layer's folders: such a name, e.g. node.ts, is reserved for wiring in each).
    const [folder, ...rest] = file.split('/');
    if (rest.length > 0 && folder !== undefined && fromFolders.includes(folder) && depth > 0) {
      out.push(`^${escape(up(depth - 1) + specifierOf(rest.join('/')))}$`);
    }
  }
  return out;
}

/**
 * One config per depth below src/ for the files of one layer.
 * @param {number} index  the layer's place in LAYERS
 * @returns {import('eslint').Linter.Config[]}
 */
function layerRules(index) {
  const layer = LAYERS[index];
  if (layer === undefined) throw new Error('no layer');
  const claimed = LAYERS.flatMap((l, i) => (i === index ? [] : (l.files ?? []).map((f) => `src/${f}`)));
  const later = LAYERS.slice(index + 1);
  const laterPackages = later.flatMap((l) => l.packages ?? []);
  /** @type {import('eslint').Linter.Config[]} */
  const configs = [];
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    const files = [
      ...(depth === 0 ? [] : (layer.folders ?? []).map((f) => `src/${f}/${'*/'.repeat(depth - 1)}*.ts`)),
      ...(layer.files ?? []).filter((f) => depthOf(f) === depth).map((f) => `src/${f}`),
    ];
    if (files.length === 0) continue;
    const fromFolders = layer.folders ?? [];
    const patterns = [
      { regex: '^fedstat(?:/|$)', message: 'Inside src/, import by relative path, so the layering rule sees it.' },
      ...later.map((l) => ({
        regex: [...new Set(reaching(l, depth, fromFolders))].join('|'),
        message: `Layering (eslint.config.js, docs/architecture.md): ${layer.name} may not import ${l.name}.`,
      })),
      ...(layer.typesOnlyFrom
        ? [
            {
              regex: `^${escape(up(depth))}(?:${layer.typesOnlyFrom.map(escape).join('|')})/`,
              allowTypeImports: true,
              message: `Layering (eslint.config.js, docs/architecture.md): ${layer.name} may import ${layer.typesOnlyFrom.join(', ')} for types only.`,
            },
          ]
        : []),
      ...(laterPackages.length > 0
        ? [
            {
              regex: `^(?:${laterPackages.map(escape).join('|')})(?:/|$)`,
              message: `Layering (eslint.config.js, docs/architecture.md): ${layer.name} may not use the packages of a later layer.`,
            },
          ]
        : []),
    ].map((p) => ({ ...p, caseSensitive: true }));
    configs.push({ files, ignores: claimed, rules: { 'no-restricted-imports': ['error', { patterns }] } });
  }
  return configs;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Use node:crypto randomness.' },
      ],
      eqeqeq: ['error', 'always'],
    },
  },
  ...LAYERS.flatMap((_, i) => layerRules(i)),
  {
    files: ['src/**/*.ts'],
    ignores: LAYERS.flatMap((l) => [
      ...(l.folders ?? []).map((f) => `src/${f}/**`),
      ...(l.files ?? []).map((f) => `src/${f}`),
    ]),
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'Program', message: 'In no layer: add its folder to LAYERS in eslint.config.js.' },
      ],
    },
  },
  {
    files: [`src/*/${'*/'.repeat(MAX_DEPTH)}**/*.ts`],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'Program', message: 'Too deep for the layering rule: raise MAX_DEPTH in eslint.config.js.' },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-properties': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
