import { defineProject } from 'vitest/config';

// Browser end-to-end tests (test/e2e): real Chromium with the built extension. They run after
// the unit tests (groupOrder 1) and one file at a time: each drives its own browsers, and two
// cores cannot run more. `npm run test:e2e` runs only these.
export default defineProject({
  test: {
    name: 'e2e',
    include: ['test/e2e/**/*.e2e.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
    sequence: { groupOrder: 1 },
  },
});
