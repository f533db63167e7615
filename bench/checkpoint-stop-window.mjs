#!/usr/bin/env node
// Benchmark: the time a state checkpoint adds to the stop window (old process stopped, new one not started), on a
// generated state dir of 1 GB in 20,000 files.
//
// Ours: the bulk copy staged while the old release still serves (stageCheckpoint, timed too but outside the window),
// then, in the window, takeSnapshot reconciling what changed since (here 20 files rewritten, 5 added, 5 removed, a
// live lock written: what a gateway does in the seconds between the bulk copy and its stop). Anchors in the same run,
// on the same tree, in the same window:
//   - full: takeSnapshot with nothing staged (what the boot-check did before: every file copied and fsynced);
//   - cp -a: a plain full copy (ocm's approach on Linux: a full copy with the gateway stopped), no fsync.
// Rounds are interleaved (ours, full, cp) so disk noise lands on all alike. Disk: the checkpoints' bytes with
// hard-linked files counted once, against their apparent size (sharing between checkpoints).
//
//   node bench/checkpoint-stop-window.mjs [--rounds 3] [--files 20000] [--mb 1024]
// Goal: ours median <= 1 s.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CACHE_DIR, PROJECT_DIR } from './lib/node24.mjs';
import { duBytes, fmt, goalMark, makeTempDir, median, removeTree, saveResult } from './lib/measure.mjs';

const GOAL_S = 1;
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    files: { type: 'string', default: '20000' },
    mb: { type: 'string', default: '1024' },
  },
});
const rounds = Number(opts.rounds);
const fileCount = Number(opts.files);
const totalBytes = Number(opts.mb) * 1024 * 1024;

const { stageCheckpoint, takeSnapshot } = await import(path.join(PROJECT_DIR, 'dist', 'snapshot', 'snapshot.js'));

const work = makeTempDir('checkpoint');
const state = path.join(work, '.openclaw');
const perDir = 100;
/** 20,000 files of random content in folders of 100, summing to totalBytes (sizes vary around the mean). */
function generate() {
  const mean = Math.floor(totalBytes / fileCount);
  const pool = randomBytes(mean * 2 + 1);
  for (let i = 0; i < fileCount; i += 1) {
    const dir = path.join(state, 'agents', `a${Math.floor(i / perDir)}`);
    if (i % perDir === 0) fs.mkdirSync(dir, { recursive: true });
    const size = Math.floor(mean / 2 + ((i * 7919) % mean));
    const offset = (i * 104729) % (pool.length - size);
    fs.writeFileSync(path.join(dir, `f${i}.json`), pool.subarray(offset, offset + size));
  }
}

/** What a gateway writes between the bulk copy and its stop. */
function churn(round) {
  const dirs = Math.ceil(fileCount / perDir);
  for (let i = 0; i < 20; i += 1) {
    const d = (i * 7) % dirs;
    const file = path.join(state, 'agents', `a${d}`, `f${d * perDir + i}.json`);
    const content = fs.readFileSync(file);
    content[0] = (content[0] + round + 1) % 256;
    fs.writeFileSync(file, content);
  }
  for (let i = 0; i < 5; i += 1) fs.writeFileSync(path.join(state, `new-${round}-${i}.json`), randomBytes(4096));
  const gone = (150 + round) % dirs;
  for (let i = 0; i < 5; i += 1) fs.rmSync(path.join(state, 'agents', `a${gone}`, `f${gone * perDir + 50 + i}.json`));
  fs.mkdirSync(path.join(state, 'tmp', 'openclaw-0'), { recursive: true });
  fs.writeFileSync(path.join(state, 'tmp', 'openclaw-0', 'gateway.state.lock'), JSON.stringify({ pid: process.pid }));
}

const time = async (fn) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};

console.log(`generating ${fileCount} files, ${fmt.mib(totalBytes)} in ${state}`);
generate();
// Written before any copy begins, as a real state dir is: wait for the kernel's coarse ctime clock to tick past it.
const probe = path.join(work, 'tick');
do fs.writeFileSync(probe, '');
while (fs.statSync(probe).ctimeMs <= fs.statSync(path.join(state, 'agents', 'a0', 'f0.json')).ctimeMs);

const root = path.join(work, 'root');
const fullRoot = path.join(work, 'full-root');
fs.mkdirSync(root);
fs.mkdirSync(fullRoot);
const base = { statePaths: [state], residue: ['/tmp/', '*.lock'], fromVersion: '1.0.0', toVersion: '2.0.0' };
const results = { staged: [], window: [], full: [], cp: [] };
for (let r = 0; r < rounds; r += 1) {
  const load = os.loadavg()[0];
  results.staged.push(await time(() => stageCheckpoint({ ...base, root, id: `tx${r}` })));
  churn(r);
  results.window.push(await time(() => takeSnapshot({ ...base, root, id: `tx${r}` })));
  results.full.push(await time(() => takeSnapshot({ ...base, root: fullRoot, id: `full${r}` })));
  const cpTo = path.join(work, `cp-${r}`);
  results.cp.push(await time(() => execFileSync('cp', ['-a', state, cpTo])));
  removeTree(cpTo);
  removeTree(path.join(fullRoot, 'snapshots', `full${r}`)); // the anchor never shares with an earlier one
  console.log(
    `round ${r + 1}: staged ${fmt.s(results.staged[r])} (outside the window), window ${fmt.s(results.window[r])}, full ${fmt.s(results.full[r])}, cp -a ${fmt.s(results.cp[r])} (load ${load.toFixed(2)})`,
  );
}
const spread = (xs) => `${fmt.s(Math.min(...xs))}–${fmt.s(Math.max(...xs))}`;
const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
const snapshots = path.join(root, 'snapshots');
const disk = {
  shared: await duBytes(snapshots),
  apparent: await duBytes(snapshots, { apparent: true, countLinks: true }),
};
console.log(
  `\nstop window added by the checkpoint (median of ${rounds}): ${fmt.s(m.window)} [${spread(results.window)}] ${goalMark(m.window, GOAL_S)}`,
);
console.log(
  `  anchors: full copy in the window ${fmt.s(m.full)} [${spread(results.full)}], cp -a ${fmt.s(m.cp)} [${spread(results.cp)}]`,
);
console.log(`  ratio window/full ${fmt.ratio(m.window / m.full)}, window/cp -a ${fmt.ratio(m.window / m.cp)}`);
console.log(`  bulk copy before the stop (outside the window): ${fmt.s(m.staged)} [${spread(results.staged)}]`);
console.log(
  `  disk of ${rounds} checkpoints: ${fmt.mib(disk.shared)} (${fmt.mib(disk.apparent)} if nothing were shared)`,
);
console.log(
  `  load average now ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
saveResult(CACHE_DIR, 'checkpoint-stop-window', { fileCount, totalBytes, rounds, results, medians: m, disk });
removeTree(work);
