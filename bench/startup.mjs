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
//   node bench/startup.mjs [--runs 20] [--root DIR] [--baseline DIST]
// Also times `boot-check` (the unit's ExecStartPre=) on the same root, current verified: a no-op.
// Goal: ours/anchor median <= 2.5.

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { PROJECT_DIR, CACHE_DIR } from './lib/node24.mjs';
import { median, makeTempDir, removeTree, fmt, goalMark, saveResult } from './lib/measure.mjs';

const GOAL = 2.5;
const CLI = path.join(PROJECT_DIR, 'dist', 'cli', 'main.js');
const { values: opts } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, root: { type: 'string' }, baseline: { type: 'string' } },
});
// --baseline DIST: also time the CLI of another build (a dist/ inside the project, e.g. the commit
// before a change), interleaved with ours and the anchor.
const BASELINE = opts.baseline ? path.resolve(opts.baseline, 'cli', 'main.js') : undefined;
if (BASELINE && !fs.existsSync(BASELINE)) {
  console.error(`startup: --baseline ${opts.baseline} has no cli/main.js`);
  process.exit(1);
}
const runs = Number(opts.runs);
if (!fs.existsSync(CLI)) {
  console.error(`startup: ${CLI} does not exist (run \`npm run build\` in ${PROJECT_DIR})`);
  process.exit(1);
}
const cli = (args, options = {}) => execa(process.execPath, [CLI, ...args], { timeout: 120_000, ...options });

// Two versions of a dependency-free package, packed to tarballs, installed by spec path.
async function buildRootWithTwoReleases(root, scratch) {
  const name = 'rs-bench-startup-app';
  await cli(['--root', root, 'init', '--package', name, '--node', process.execPath]);
  for (const version of ['1.0.0', '1.1.0']) {
    const dir = path.join(scratch, version);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name, version, main: 'server.js', license: 'MIT' }),
    );
    fs.writeFileSync(path.join(dir, 'server.js'), `console.log(${JSON.stringify(version)});\n`);
    const { stdout } = await execa('npm', ['pack', '--json', '--pack-destination', scratch], {
      cwd: dir,
      timeout: 60_000,
    });
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
      // The boot-check's common start: current names a verified release. With no supervisor here
      // (switch leaves it pending), the journal's mark is set as a verify would set it.
      await cli(['--root', root, 'switch', '1.0.0']);
      const stateFile = path.join(root, 'state.json');
      const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
      state.releases['1.0.0'].state = 'good';
      fs.writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
      rootKind = 'root with 2 installed releases, current verified';
    } catch (error) {
      console.error(
        `startup: could not install two releases (${error.shortMessage ?? error.message}); using an empty initialized root`,
      );
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
    await execa(file, args, { timeout: 60_000 });
    return performance.now() - t0;
  };
  const ours = [];
  const anchor = [];
  // boot-check (ExecStartPre= before every start): with current verified it counts nothing and flips nothing.
  // Only on the root built here: on a given root a boot-check would count starts of a pending release.
  const timeBootCheck = !opts.root;
  const series = {
    ...(timeBootCheck ? { 'boot-check': [] } : {}),
    ...(BASELINE ? { 'baseline list': [], ...(timeBootCheck ? { 'baseline boot-check': [] } : {}) } : {}),
  };
  const bootCheck = (cli) => time(process.execPath, [cli, '--root', root, 'boot-check', '--json']);
  for (let i = 0; i < 3 + runs; i++) {
    // The first 3 of each warm the page cache; they are not counted.
    const o = await time(process.execPath, [CLI, '--root', root, 'list', '--json']);
    const a = await time(process.execPath, ['-e', '0']);
    const extra = {
      ...(timeBootCheck ? { 'boot-check': await bootCheck(CLI) } : {}),
      ...(BASELINE
        ? { 'baseline list': await time(process.execPath, [BASELINE, '--root', root, 'list', '--json']) }
        : {}),
      ...(BASELINE && timeBootCheck ? { 'baseline boot-check': await bootCheck(BASELINE) } : {}),
    };
    if (i >= 3) {
      ours.push(o);
      anchor.push(a);
      for (const [label, ms] of Object.entries(extra)) series[label].push(ms);
    }
  }
  if (timeBootCheck) {
    const noop = JSON.parse((await cli(['--root', root, 'boot-check', '--json'])).stdout);
    if (noop.result?.action !== 'none') throw new Error(`boot-check was not a no-op: ${JSON.stringify(noop)}`);
  }
  const ratio = median(ours) / median(anchor);
  console.log(`startup: ${runs} runs each, node ${process.version}, ${rootKind} (${releaseCount} releases)`);
  console.log(
    `  ours   release-switcher list --json  median ${fmt.ms(median(ours))}  (min ${fmt.ms(Math.min(...ours))})`,
  );
  console.log(
    `  anchor node -e 0                     median ${fmt.ms(median(anchor))}  (min ${fmt.ms(Math.min(...anchor))})`,
  );
  console.log(`  ratio ours/anchor: ${fmt.ratio(ratio)} ${goalMark(ratio, GOAL)}`);
  const spread = (xs) => `${fmt.ms(Math.min(...xs))}..${fmt.ms(Math.max(...xs))}`;
  console.log(`  anchor spread ${spread(anchor)}; list spread ${spread(ours)}`);
  for (const [label, xs] of Object.entries(series)) {
    console.log(
      `  ${label.padEnd(20)} median ${fmt.ms(median(xs))}  spread ${spread(xs)}  ratio to node -e 0: ${fmt.ratio(median(xs) / median(anchor))}`,
    );
  }
  saveResult(CACHE_DIR, 'startup', { runs, rootKind, releaseCount, ours, anchor, ratio, ...series });
} finally {
  removeTree(scratch);
}
