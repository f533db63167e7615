#!/usr/bin/env node
// Benchmark (d): start-up cost of the CLI. `release-switcher --root R list --json` does almost no
// work, so its wall time is the CLI's start-up (module loading, config/state reading) on top of
// Node's own. Anchor in the same run: `node -e 0` with the same Node, spawned the same way, so the
// spawn overhead cancels out of the ratio. Runs are interleaved (ours, anchor, ours, ...).
//
// The root holds two installed releases, built from two local tarballs of a tiny generated package
// (no registry needed); if installing them fails, the bench says so and uses the empty initialized
// root instead. `--root DIR` benches an existing root as is.
//
//   node bench/startup.mjs [--runs 20] [--root DIR]
// Goal: ours/anchor median <= 2.5.

import fs from 'node:fs';
import path from 'node:path';
import {parseArgs} from 'node:util';
import {performance} from 'node:perf_hooks';
import {execa} from 'execa';
import {PROJECT_DIR, CACHE_DIR} from './lib/node24.mjs';
import {median, makeTempDir, removeTree, fmt, goalMark, saveResult} from './lib/measure.mjs';

const GOAL = 2.5;
const CLI = path.join(PROJECT_DIR, 'dist', 'cli', 'main.js');
const {values: opts} = parseArgs({options: {runs: {type: 'string', default: '20'}, root: {type: 'string'}}});
const runs = Number(opts.runs);
if (!fs.existsSync(CLI)) {
  console.error(`startup: ${CLI} does not exist (run \`npm run build\` in ${PROJECT_DIR})`);
  process.exit(1);
}
const cli = (args, options = {}) => execa(process.execPath, [CLI, ...args], {timeout: 120_000, ...options});

// Two versions of a dependency-free package, packed to tarballs, installed by spec path.
async function buildRootWithTwoReleases(root, scratch) {
  const name = 'rs-bench-startup-app';
  await cli(['--root', root, 'init', '--package', name, '--node', process.execPath]);
  for (const version of ['1.0.0', '1.1.0']) {
    const dir = path.join(scratch, version);
    fs.mkdirSync(dir, {recursive: true});
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({name, version, main: 'server.js', license: 'MIT'}));
    fs.writeFileSync(path.join(dir, 'server.js'), `console.log(${JSON.stringify(version)});\n`);
    const {stdout} = await execa('npm', ['pack', '--json', '--pack-destination', scratch], {cwd: dir, timeout: 60_000});
    await cli(['--root', root, 'install', path.join(scratch, JSON.parse(stdout)[0].filename)]);
  }
}

const scratch = makeTempDir('startup');
let root = opts.root;
let rootKind = 'given root';
try {
  if (!root) {
    root = path.join(scratch, 'root');
    try {
      await buildRootWithTwoReleases(root, path.join(scratch, 'pkgs'));
      rootKind = 'root with 2 installed releases';
    } catch (error) {
      console.error(`startup: could not install two releases (${error.shortMessage ?? error.message}); using an empty initialized root`);
      removeTree(root);
      await cli(['--root', root, 'init', '--package', 'rs-bench-startup-app']);
      rootKind = 'empty initialized root';
    }
  }
  const listed = JSON.parse((await cli(['--root', root, 'list', '--json'])).stdout);
  if (!listed.ok) throw new Error(`list failed: ${JSON.stringify(listed)}`);
  const releaseCount = listed.result.releases.length;

  const time = async (file, args) => {
    const t0 = performance.now();
    await execa(file, args, {timeout: 60_000});
    return performance.now() - t0;
  };
  const ours = [];
  const anchor = [];
  for (let i = 0; i < 3 + runs; i++) {
    // The first 3 of each warm the page cache; they are not counted.
    const o = await time(process.execPath, [CLI, '--root', root, 'list', '--json']);
    const a = await time(process.execPath, ['-e', '0']);
    if (i >= 3) {
      ours.push(o);
      anchor.push(a);
    }
  }
  const ratio = median(ours) / median(anchor);
  console.log(`startup: ${runs} runs each, node ${process.version}, ${rootKind} (${releaseCount} releases)`);
  console.log(`  ours   release-switcher list --json  median ${fmt.ms(median(ours))}  (min ${fmt.ms(Math.min(...ours))})`);
  console.log(`  anchor node -e 0                     median ${fmt.ms(median(anchor))}  (min ${fmt.ms(Math.min(...anchor))})`);
  console.log(`  ratio ours/anchor: ${fmt.ratio(ratio)} ${goalMark(ratio, GOAL)}`);
  saveResult(CACHE_DIR, 'startup', {runs, rootKind, releaseCount, ours, anchor, ratio});
} finally {
  removeTree(scratch);
}
