#!/usr/bin/env node
// Issue 36's benchmark cases, every peer in the same run, one table at the end. Each invocation of
// bench/stage-vs-npm.mjs is its own process, one after the other, each with npm's anchor (npm install -g in
// place), ours by case, `bun add -g` and `pnpm add -g` interleaved in every run (see that script's header):
//
//   express 4.21.1 -> 4.21.2 from the registry, cases fresh, store, pruned    goal: fresh <= 0.5x npm -g
//   express 4.21.1 -> 4.21.2 from local tarballs (--tarball), the same cases  goal: fresh <= 0.5x npm -g
//       (a tarball goes through the store as a registry version does: the other cases are for tracking)
//   openclaw 2026.9.5 -> 2026.9.6, cases fresh, store, pruned (--openclaw only)
//       fresh  (9.6's new packages only in npm's cache)     <= 0.2x npm -g in place
//       store  (9.6's packages in the root's store)         <= 1.5 s and <= 3x pnpm
//       pruned (9.6 installed, pruned, installed again)      <= 1 s
//       and in each: the disk added by 9.6 <= 0.6x a full copy
//
//   node bench/store-cases.mjs [--openclaw] [--only express,express-tarball,openclaw] [--runs N] [--peers LIST]
//                              [--cache DIR]
//
// --runs N: runs per invocation (default 3: medians of 3, with their spread); --peers and --cache as
// stage-vs-npm.mjs (default bun,pnpm and .bench-cache/npm-cache: the warm-up fills what it lacks). Time here (2 cores, warm caches, 3 runs): the express pair ~5 min; openclaw ~15-20 min
// (per run: npm -g twice; eight installs of ours, each case's root installing 9.5 first, and a prune; bun and
// pnpm twice each; a tree comparison with npm's per case).
// Each invocation's figures are saved by it under .bench-cache/results (stage-vs-npm-<pkg>[-tarball]-*.json);
// the table's rows of all of them go to store-cases-*.json there too.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { formatTable } from './lib/bench-table.mjs';
import { saveResult } from './lib/measure.mjs';
import { CACHE_DIR, PROJECT_DIR } from './lib/node24.mjs';

const { values: opts } = parseArgs({
  options: {
    openclaw: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string', default: '3' },
    peers: { type: 'string', default: 'bun,pnpm' },
    cache: { type: 'string' },
  },
});

const EXPRESS = ['--package', 'express', '--from', '4.21.1', '--to', '4.21.2'];
const INVOCATIONS = [
  { name: 'express', args: [...EXPRESS, '--cases', 'fresh,store,pruned'] },
  { name: 'express-tarball', args: [...EXPRESS, '--tarball', '--cases', 'fresh,store,pruned'] },
  {
    name: 'openclaw',
    args: ['--package', 'openclaw', '--from', '2026.9.5', '--to', '2026.9.6', '--cases', 'fresh,store,pruned'],
  },
];
const unknown = (opts.only?.split(',') ?? []).filter((name) => !INVOCATIONS.some((inv) => inv.name === name));
if (unknown.length > 0) {
  console.error(`--only: unknown ${unknown.join(', ')} (${INVOCATIONS.map((inv) => inv.name).join(', ')})`);
  process.exit(2);
}
const wanted = opts.only
  ? INVOCATIONS.filter((inv) => opts.only.split(',').includes(inv.name))
  : INVOCATIONS.filter((inv) => inv.name !== 'openclaw' || opts.openclaw);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-store-cases-'));
const rows = [];
const failures = [];
try {
  for (const inv of wanted) {
    const resultFile = path.join(dir, `${inv.name}.json`);
    console.log(`\n--- ${inv.name}`);
    const run = await execa(
      process.execPath,
      [
        path.join(PROJECT_DIR, 'bench', 'stage-vs-npm.mjs'),
        ...inv.args,
        '--runs',
        opts.runs,
        '--peers',
        opts.peers,
        '--result-file',
        resultFile,
        ...(opts.cache ? ['--cache', opts.cache] : []),
      ],
      { stdio: 'inherit', reject: false, timeout: 3 * 60 * 60_000 },
    );
    if (run.exitCode !== 0 || !fs.existsSync(resultFile)) {
      failures.push(`${inv.name} (exit ${run.exitCode ?? run.signal})`);
      continue;
    }
    const figures = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
    for (const row of figures.table) rows.push({ ...row, prefix: inv.name });
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

console.log(`\nissue 36 cases (${opts.runs} run(s) each; medians, spread min-max, load average around the timed runs)`);
console.log(formatTable(rows));
const saved = saveResult(CACHE_DIR, 'store-cases', { runs: Number(opts.runs), rows, failures });
console.log(`rows saved to ${saved}`);
if (failures.length > 0) {
  console.log(`failed: ${failures.join('; ')}`);
  process.exit(1);
}
