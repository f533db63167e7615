#!/usr/bin/env node
// Benchmark (c): how long one atomic flip of `current` takes.
//
// Ours: the library's `flipSymlink(linkPath, target)` (temp symlink + rename(2) + fsync of the
// directory, so the flip survives a power cut). Anchors, in the same run, each on its own link:
//   - rename-nofsync: fs.symlinkSync + fs.renameSync, the same atomic flip minus the durability;
//     ours/this ratio is the price of the fsync (plus the library's bookkeeping).
//   - ln -sfn via execa: what shell-script deployers do (not atomic: unlink + symlink), including
//     the process spawn that such a script pays.
// Iterations are interleaved round-robin (ours, rename, ln, ours, ...) so disk/journal noise lands
// on all three alike. Each flips between two release dirs, alternating.
//
//   node bench/flip.mjs [--iterations 1000] [--dir DIR (a directory on the filesystem to test)]
// Goal: ours p50 <= 1 ms.

import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { PROJECT_DIR, CACHE_DIR } from './lib/node24.mjs';
import { percentile, fmt, goalMark, saveResult } from './lib/measure.mjs';

const GOAL_P50_MS = 1;
const { values: opts } = parseArgs({
  options: { iterations: { type: 'string', default: '1000' }, dir: { type: 'string' } },
});
const iterations = Number(opts.iterations);

const lib = path.join(PROJECT_DIR, 'dist', 'internals.js');
if (!fs.existsSync(lib)) {
  console.error(`flip: ${lib} does not exist (run \`npm run build\` in ${PROJECT_DIR})`);
  process.exit(1);
}
const { flipSymlink } = await import(lib);
if (typeof flipSymlink !== 'function') {
  console.error('flip: dist/internals.js does not export flipSymlink');
  process.exit(1);
}

// A root per method with releases/a and releases/b and a `current` link, like a real root.
const base = fs.mkdtempSync(path.join(opts.dir ?? os.tmpdir(), 'rs-bench-flip-'));
function makeRoot(name) {
  const root = path.join(base, name);
  for (const v of ['a', 'b']) fs.mkdirSync(path.join(root, 'releases', v), { recursive: true });
  const link = path.join(root, 'current');
  fs.symlinkSync('releases/a', link);
  return link;
}

const methods = {
  ours: { link: makeRoot('ours'), flip: (link, target) => flipSymlink(link, target) },
  'rename-nofsync': {
    link: makeRoot('rename'),
    flip: (link, target) => {
      const tmp = `${link}.tmp-${process.pid}`;
      fs.symlinkSync(target, tmp);
      fs.renameSync(tmp, link);
    },
  },
  'ln -sfn': { link: makeRoot('ln'), flip: (link, target) => execa('ln', ['-sfn', target, link], { timeout: 10_000 }) },
};

const samples = Object.fromEntries(Object.keys(methods).map((k) => [k, []]));
const warmup = 20; // first calls pay module loading / JIT; not what we measure
try {
  for (let i = 0; i < warmup + iterations; i++) {
    const target = i % 2 === 0 ? 'releases/b' : 'releases/a';
    for (const [name, { link, flip }] of Object.entries(methods)) {
      const t0 = performance.now();
      await flip(link, target); // `await` also covers an async flipSymlink; harmless for sync ones
      const ms = performance.now() - t0;
      // Checked outside the timed region: a flip that did not land would make the figure meaningless.
      if (fs.readlinkSync(link) !== target)
        throw new Error(`${name}: current -> ${fs.readlinkSync(link)}, expected ${target}`);
      if (i >= warmup) samples[name].push(ms);
    }
  }
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}

const stats = Object.fromEntries(
  Object.entries(samples).map(([k, v]) => [k, { p50: percentile(v, 50), p99: percentile(v, 99) }]),
);
const ours = stats.ours;
console.log(`flip: ${iterations} flips each, alternating two targets, on ${opts.dir ?? os.tmpdir()}`);
for (const [name, s] of Object.entries(stats)) {
  console.log(`  ${name.padEnd(15)} p50 ${fmt.ms(s.p50)}   p99 ${fmt.ms(s.p99)}`);
}
for (const name of ['rename-nofsync', 'ln -sfn']) {
  const s = stats[name];
  console.log(`  ratio ours/${name}: p50 ${fmt.ratio(ours.p50 / s.p50)}   p99 ${fmt.ratio(ours.p99 / s.p99)}`);
}
console.log(`  ours p50 ${fmt.ms(ours.p50)}: ${goalMark(ours.p50, GOAL_P50_MS)} ms`);
saveResult(CACHE_DIR, 'flip', { iterations, stats });
