#!/usr/bin/env node
// Benchmark: activating a 40k-file release (switch, then rollback; supervisor none) against
// `sha256sum` of the same tree (find + xargs sha256sum), measured in the same run.
//
// Two activation figures:
//   - as-built: the CLI as it is (verify-release checks stat fingerprints, re-hashing only what moved,
//     and proves the way back the same way).
//   - full: the same CLI from a copy of dist/ patched back to what activation did before: a full
//     re-hash of the target (verifyRelease) and no proof of the way back. Only those lines differ.
// Iterations are interleaved (sha256sum, as-built, fast, ...) so machine noise lands on all alike.
// The fixture: two versions of a package with --files files (4 KiB average, deterministic content);
// the second differs in 1% of files, so it dedupes against the first like a real update.
//
//   node bench/activate-vs-sha256.mjs [--files 40000] [--runs 5] [--dir DIR] [--baseline DIST] [--fixture DIR]
// --fixture DIR: build the fixture root there once and keep it (later runs reuse it; its install takes minutes).
// --baseline DIST: also time the CLI of another build (a dist/ inside the project, e.g. the commit
// before a change), interleaved with the others on the same fixture.
// Goal: activation (fast) / sha256sum <= 0.3.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { PROJECT_DIR, CACHE_DIR } from './lib/node24.mjs';
import { median, fmt, goalMark, makeTempDir, removeTree, saveResult } from './lib/measure.mjs';

const GOAL = 0.3;
const { values: opts } = parseArgs({
  options: {
    files: { type: 'string', default: '40000' },
    runs: { type: 'string', default: '5' },
    dir: { type: 'string' },
    baseline: { type: 'string' },
    fixture: { type: 'string' },
  },
});
const FILES = Number(opts.files);
const RUNS = Math.max(3, Number(opts.runs));
const CLI = path.join(PROJECT_DIR, 'dist', 'cli', 'main.js');
if (!fs.existsSync(CLI)) {
  console.error(`activate-vs-sha256: ${CLI} does not exist (run \`npm run build\`)`);
  process.exit(1);
}
// --baseline DIR: a dist/ of another build (e.g. the commit before a change), inside the project so
// that node_modules resolve; measured interleaved with as-built in the same run, on the same fixture.
const BASELINE = opts.baseline ? path.resolve(opts.baseline, 'cli', 'main.js') : undefined;
if (BASELINE && !fs.existsSync(BASELINE)) {
  console.error(`activate-vs-sha256: --baseline ${opts.baseline} has no cli/main.js`);
  process.exit(1);
}

const base = opts.fixture
  ? path.resolve(opts.fixture)
  : opts.dir
    ? fs.mkdtempSync(path.join(opts.dir, 'rs-bench-activate-'))
    : makeTempDir('activate');
const reuse = Boolean(opts.fixture) && fs.existsSync(path.join(base, 'ready'));
const patched = path.join(PROJECT_DIR, `.bench-dist-fast-${process.pid}`); // inside the project: node_modules and "type" resolve

/** A package tree of FILES files in nested dirs (node_modules-like fan-out), content seeded by (i, variant). */
function writePackage(dir, version, changed) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'rs-bench-big', version, main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), `console.log(${JSON.stringify(version)});\n`);
  for (let i = 0; i < FILES - 2; i++) {
    const sub = path.join(dir, 'node_modules', `pkg-${i % 400}`, `d${(i >> 3) % 12}`);
    if (i < 400 * 12 || !fs.existsSync(sub)) fs.mkdirSync(sub, { recursive: true });
    const size = 256 + ((i * 2654435761) % 7936); // 256 B .. 8 KiB, about 4 KiB on average
    const variant = changed(i) ? version : 'same';
    const line = `${`// file ${i} ${variant} `.padEnd(64, '.')}\n`;
    fs.writeFileSync(path.join(sub, `f${i}.js`), line.repeat(Math.ceil(size / 64)).slice(0, size));
  }
}

async function cli(args) {
  const started = performance.now();
  const r = await execa(process.execPath, [args.cli ?? CLI, '--root', root, '--json', ...args.argv], {
    reject: false,
    timeout: 10 * 60_000,
    env: { ...process.env, npm_config_cache: path.join(base, 'npm-cache') },
  });
  const seconds = (performance.now() - started) / 1000;
  const json = JSON.parse(r.stdout || 'null');
  if (r.exitCode !== 0) throw new Error(`${args.argv.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
  return { seconds, result: json?.result };
}

const root = path.join(base, 'root');
try {
  console.log(`fixture: 2 versions × ${FILES} files in ${base}${reuse ? ' (reused)' : ''}`);
  if (!reuse) {
    fs.mkdirSync(base, { recursive: true });
    for (const [version, changed] of [
      ['1.0.0', () => false],
      ['1.0.1', (i) => i % 100 === 0],
    ]) {
      const dir = path.join(base, `src-${version}`, 'package');
      writePackage(dir, version, changed);
      await execa('tar', ['-czf', path.join(base, `${version}.tgz`), '-C', path.dirname(dir), 'package']);
      removeTree(path.dirname(dir));
    }
    await cli({ argv: ['init', '--package', 'rs-bench-big', '--supervisor', 'none'] });
    for (const version of ['1.0.0', '1.0.1']) {
      const t = await cli({ argv: ['install', path.join(base, `${version}.tgz`)] });
      console.log(`install ${version}: ${fmt.s(t.seconds)}`);
    }
    if (opts.fixture) fs.writeFileSync(path.join(base, 'ready'), '');
  }
  const start = await cli({ argv: ['switch', '1.0.0'] }); // up to date when reused
  if (!['verified', 'switched', 'up_to_date'].includes(start.result?.status))
    throw new Error(`switch 1.0.0: ${JSON.stringify(start.result)}`);
  fs.cpSync(path.join(PROJECT_DIR, 'dist'), patched, { recursive: true });
  {
    // The verify-release step (transaction/steps.js) as it was before fingerprints: a full re-hash
    // of the target, no proof of the way back. Refuses to run when the step no longer has that shape,
    // rather than measure the as-built code twice under two names.
    const p = path.join(patched, 'transaction/steps.js');
    const text = fs.readFileSync(p, 'utf8');
    const next = text
      .replace(
        /import \{ (ProvenInodes, )?checkReleaseFast, proveWayBack \} from '..\/store\/release.js';/,
        "import { $1verifyRelease } from '../store/release.js';",
      )
      .replace(
        /const checked = await checkReleaseFast\(layout, target, proven\);/,
        'const checked = { entries: (await verifyRelease(layout, target)).files.length };',
      )
      .replace(/const back = await proveWayBack\(layout, run\.tx\.from, proven\);/, 'const back = null;');
    if (next.includes('checkReleaseFast') || next.includes('proveWayBack('))
      throw new Error('cannot patch transaction/steps.js: its verify-release step changed');
    fs.writeFileSync(p, next);
  }
  const tree = path.join(root, 'releases', '1.0.1');
  const loadAtStart = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const samples = {
    sha256sum: [],
    'as-built': [],
    full: [],
    'verify (fast)': [],
    'verify (full)': [],
    ...(BASELINE ? { baseline: [], 'verify (baseline)': [] } : {}),
  };
  const modes = [
    ['as-built', CLI, 'verify (fast)'],
    ['full', path.join(patched, 'cli', 'main.js'), 'verify (full)'],
    ...(BASELINE ? [['baseline', BASELINE, 'verify (baseline)']] : []),
  ];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    await execa('sh', ['-c', 'find "$1" -type f -print0 | xargs -0 sha256sum > /dev/null', 'sh', tree]);
    samples.sha256sum.push((performance.now() - started) / 1000);
    for (const [label, cliPath, verifyLabel] of modes) {
      const sw = await cli({ cli: cliPath, argv: ['switch', '1.0.1'] });
      const rb = await cli({ cli: cliPath, argv: ['rollback'] });
      samples[label].push((sw.seconds + rb.seconds) / 2);
      const step = (tx) => tx.steps.find((s) => s.name === 'verify-release')?.ms ?? NaN;
      samples[verifyLabel].push((step(sw.result) + step(rb.result)) / 2 / 1000);
    }
  }
  const anchor = median(samples.sha256sum);
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const row = (label) => {
    const xs = samples[label];
    return `${label.padEnd(14)} median ${fmt.s(median(xs))}  spread ${fmt.s(Math.min(...xs))}..${fmt.s(Math.max(...xs))}  ratio to sha256sum ${fmt.ratio(median(xs) / anchor)}`;
  };
  console.log(
    `\n${RUNS} runs, one activation = mean of a switch and a rollback (whole CLI process); load average at the start ${loadAtStart}, at the end ${load} (${os.cpus().length} CPUs)`,
  );
  for (const label of Object.keys(samples)) console.log(row(label));
  console.log(
    `activation (as built) / sha256sum = ${fmt.ratio(median(samples['as-built']) / anchor)} (${goalMark(median(samples['as-built']) / anchor, GOAL)}); before (full re-hash): ${fmt.ratio(median(samples.full) / anchor)}`,
  );
  if (BASELINE)
    console.log(
      `baseline (${opts.baseline}) / sha256sum = ${fmt.ratio(median(samples.baseline) / anchor)}; as built / baseline = ${fmt.ratio(median(samples['as-built']) / median(samples.baseline))}`,
    );
  const saved = saveResult(CACHE_DIR, 'activate-vs-sha256', { files: FILES, runs: RUNS, samples });
  console.log(`saved ${saved}`);
} finally {
  if (!opts.fixture) removeTree(base);
  fs.rmSync(patched, { recursive: true, force: true });
}
