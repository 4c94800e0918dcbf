import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Socket and browser tests compete for 2 cores; keep parallelism modest.
    maxWorkers: 2,
  },
});
