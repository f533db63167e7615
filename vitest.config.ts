import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is one worker less than the cores: a single file at a time on a 2-core machine.
    // Most of this suite waits (a unit's restart, a stability window, a health probe) rather than
    // computes, so two files at a time there; the whole suite passed so at a load average of 10.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
