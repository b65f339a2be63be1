import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'protocol/**/*.test.ts', 'mouth/**/*.test.ts', 'tree-supervisor/**/*.test.ts', 'plugins/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Test files wait on servers and processes far more than they compute: two at a time even on
    // two cores (vitest's default is one fewer than the cores, so 1 there, and the suite took 10 min).
    maxWorkers: 2,
  },
});
