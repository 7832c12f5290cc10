// Lint: typescript-eslint (type-aware), plus the layer rule of ARCHITECTURE.md:
// imports point downwards only, and another layer is reached only through its index.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Layers from the bottom up; each may import only the ones before it. */
const LAYERS = ['crypto', 'store', 'grants', 'records', 'sync', 'node', 'api', 'ui'];

function layerRules(layer) {
  const above = LAYERS.slice(LAYERS.indexOf(layer) + 1);
  return {
    files: [`src/${layer}/**/*.{ts,tsx}`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...above.map((upper) => ({
              group: [`**/${upper}`, `**/${upper}/**`],
              message: `src/${layer} may not import src/${upper}: imports point downwards only (ARCHITECTURE.md).`,
            })),
            {
              group: ['../*/*', '!../*/index.js', '../../src/*/*', '!../../src/*/index.js'],
              message: 'Import another layer only through its index.ts (CONVENTIONS.md §1).',
            },
          ],
        },
      ],
    },
  };
}

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
  ...LAYERS.map(layerRules),
  {
    // entrypoints are thin: they may reach src/ only through a layer's index.ts.
    files: ['entrypoints/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../src/*/*', '!../src/*/index.js', '../../src/*/*', '!../../src/*/index.js'], message: 'Entry points import src/ through index.ts only.' }] }],
    },
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
