import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bin/**/*.test.ts'],
          exclude: ['test/e2e/**', 'node_modules/**'],
          setupFiles: ['test/setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          pool: 'forks',
        },
      },
      // Browser end-to-end (test/e2e/*.e2e.test.ts, real Chromium): after the unit tests, one file at a time.
      './vitest.e2e.config.ts',
    ],
  },
});
