// Benchmarks that need the test harness (a seeded Verdaccio, a private systemd --user) and so run under vitest.
// Kept apart from `npm test`: the main vitest.config.ts includes only test/**/*.test.ts, this one only
// bench/**/*.bench.test.ts. One file at a time (2 cores: a neighbour would skew every timing).
//
//   npx vitest run --config bench/vitest.config.ts                                   (both)
//   npx vitest run --config bench/vitest.config.ts bench/supervisor/rollback.bench.test.ts
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
// Evaluated in the main process before any worker is forked: every benchmark's `init` as root adds its temporary
// root to a list of the run's own, not the host's /var/lib/release-switcher/roots.json.
import './lib/host-roots.mjs';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['bench/**/*.bench.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
    // The figures are the output: print each console.log as it happens, not only on failure.
    silent: false,
  },
});
