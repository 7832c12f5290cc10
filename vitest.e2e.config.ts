import { defineConfig } from 'vitest/config';

// Browser end-to-end tests (test/e2e): real Chromium with the built extension, one file at a
// time (each drives its own browsers; two cores cannot run more).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
  },
});
