#!/usr/bin/env node
// Runs every benchmark that is cheap enough for a routine run: staging against npm on the generated
// fixture (served by a local Verdaccio), the same on the fixture with real registry dependencies
// (--real-deps: a local Verdaccio proxying the real npm registry; a few minutes, needs the network the
// first time; --no-network leaves it out), issue 36's cases on express 4.21.1 -> 4.21.2 from the registry and
// from a local tarball (bench/store-cases.mjs: npm, ours, bun and pnpm in the same runs, one table; ~5 min;
// --no-network leaves them out), the symlink flip, and CLI start-up. The real openclaw benches
// download ~300 MB and take minutes per install, so they run only with --openclaw: issue 36's cases on
// openclaw 9.5 -> 9.6 (staging against npm -g, bun and pnpm, with 9.6 in npm's cache, in the root's store,
// and pruned; ~15-20 min), then the outage of updating and rolling back a real gateway against a bare restart and OpenClaw's own
// updater (bench/supervisor/openclaw-outage.bench.test.ts: root, a private systemd --user, ~20 min a
// repetition; BENCH_RUNS and BENCH_PLUGIN=0 pass through).
//
//   npm run bench                       (builds first)
//   node bench/run-all.mjs [--openclaw] [--no-network]
//
// Each bench is its own process, one after the other (never in parallel: on 2 cores a neighbour
// would skew every timing). A failing bench is reported and the rest still run; exit 1 if any failed.

import { parseArgs } from 'node:util';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_DIR } from './lib/node24.mjs';
import { startRegistryProcess } from './lib/registry-process.mjs';

const { values: opts } = parseArgs({
  options: { openclaw: { type: 'boolean', default: false }, 'no-network': { type: 'boolean', default: false } },
});
const bench = (name) => path.join(PROJECT_DIR, 'bench', name);
const failures = [];

async function runBench(label, args) {
  console.log(`\n=== ${label}`);
  const result = await execa(process.execPath, args, { stdio: 'inherit', reject: false, timeout: 3 * 60 * 60_000 });
  if (result.exitCode !== 0) failures.push(`${label} (exit ${result.exitCode ?? result.signal})`);
}

let registry;
try {
  registry = await startRegistryProcess(bench('lib/fixture-registry.mjs'));
  await runBench(`(a)(b)(e) stage vs npm, fixture, registry ${registry.url}`, [
    bench('stage-vs-npm.mjs'),
    '--fixture',
    '--registry',
    registry.url,
  ]);
} catch (error) {
  failures.push(`fixture registry: ${error.message}`);
} finally {
  registry?.stop();
}
if (!opts['no-network']) {
  // It starts (and stops) its own Verdaccio, with the real registry as the uplink.
  await runBench('(a)(b)(e) stage vs npm, fixture with real registry dependencies', [
    bench('stage-vs-npm.mjs'),
    '--real-deps',
  ]);
}
// Issue 36's cases, every peer in the same runs, one table: express from the registry and from a tarball (the
// registry is needed), and with --openclaw staging openclaw 9.5 -> 9.6 with 9.6 only in npm's cache (what this ran
// before as stage vs npm, openclaw), in the root's store, and pruned then installed again.
const storeCases = [
  ...(opts['no-network'] ? [] : ['express', 'express-tarball']),
  ...(opts.openclaw ? ['openclaw'] : []),
];
if (storeCases.length > 0)
  await runBench(`(a)(b)(e) issue 36 cases: ${storeCases.join(', ')}`, [
    bench('store-cases.mjs'),
    '--only',
    storeCases.join(','),
  ]);
await runBench('(c) flip', [bench('flip.mjs')]);
await runBench('(d) startup', [bench('startup.mjs')]);
if (opts.openclaw) {
  // Under vitest with the supervisor benches' config: it needs the test harness (Verdaccio, systemd --user).
  await runBench("(issue 31) update and rollback outage of a real openclaw vs a bare restart and OpenClaw's own", [
    path.join(PROJECT_DIR, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--config',
    bench('vitest.config.ts'),
    bench('supervisor/openclaw-outage.bench.test.ts'),
  ]);
}

if (failures.length > 0) {
  console.log(`\nfailed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('\nall benches ran');
