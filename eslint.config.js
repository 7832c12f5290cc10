// Lint: typescript-eslint (type-aware), plus the layer rule of ARCHITECTURE.md:
// imports point downwards only, and another layer is reached only through its index.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

import path from 'node:path';

/** Layers from the bottom up; each may import only the ones before it (ARCHITECTURE.md). */
const LAYERS = ['crypto', 'store', 'grants', 'records', 'sync', 'node', 'api', 'ui'];
const SRC = path.join(import.meta.dirname, 'src');

/** The layer folder a path lies in, or undefined outside src/. */
function layerOf(file) {
  const rel = path.relative(SRC, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep)[0];
}

/**
 * The layer rule, resolved on real paths (not name patterns): an import that lands in another
 * layer must point downwards and must name that layer's index (CONVENTIONS.md §1). Files outside
 * src/ (entrypoints, bin) may use any layer, through its index only. Tests and benchmarks may
 * reach a layer's test kit or internals directly (still never upwards from inside src/).
 */
const layerBoundaries = {
  meta: { type: 'problem', schema: [], messages: {
    upwards: 'src/{{from}} may not import src/{{to}}: imports point downwards only (ARCHITECTURE.md).',
    deep: 'Import src/{{to}} only through its index.ts (CONVENTIONS.md §1), not {{spec}}.',
  } },
  create(context) {
    const file = context.filename;
    const from = layerOf(file);
    const rel = path.relative(import.meta.dirname, file);
    const isTest = /\.test\.tsx?$/.test(file) || rel.startsWith(`test${path.sep}`) || rel.startsWith(`bench${path.sep}`);
    function check(node) {
      const spec = node.source && node.source.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = path.resolve(path.dirname(file), spec);
      const to = layerOf(target);
      if (to === undefined || to === from) return;
      if (from !== undefined && LAYERS.indexOf(to) > LAYERS.indexOf(from)) {
        context.report({ node: node.source, messageId: 'upwards', data: { from, to } });
        return;
      }
      if (!isTest && target !== path.join(SRC, to, 'index.js')) {
        context.report({ node: node.source, messageId: 'deep', data: { to, spec } });
      }
    }
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/', '.output/', '.wxt/', 'dist/', 'coverage/', 'test/fixtures/generated/', 'tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js', '.ci/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'error',
    },
  },
  {
    files: ['src/**/*.{ts,tsx}', 'entrypoints/**/*.{ts,tsx}', 'bin/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    plugins: { pvault: { rules: { 'layer-boundaries': layerBoundaries } } },
    rules: { 'pvault/layer-boundaries': 'error' },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    files: ['*.js', 'bin/*.js', '.ci/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
