#!/usr/bin/env node
// Benchmark: the one-pass unpacker (gunzip → strict tar reader → check → write → sha256) against
// GNU `tar -xzf` and node-tar's extract, on the openclaw 2026.9.5 tarball (72.5 MB, 11,428 files).
// Rounds are interleaved (tar, node-tar, ours, tar, …) so disk and CPU noise from other processes
// land on all three alike; each extracts into a fresh folder, removed before the next round.
//
//   node bench/unpack-vs-tar.mjs [--rounds 3] [--tarball FILE]
// Without --tarball, `npm pack openclaw@2026.9.5` into .bench-cache/ (its own npm cache).
// Goal (issue 9): ours 2.8–3.6 s here, i.e. at most ~1.4× GNU tar and well under node-tar.

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import * as tar from 'tar';
import { PROJECT_DIR, CACHE_DIR } from './lib/node24.mjs';
import { median, makeTempDir, removeTree } from './lib/measure.mjs';

const SPEC = 'openclaw@2026.9.5';
const { values: opts } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, tarball: { type: 'string' } },
});
const rounds = Number(opts.rounds);

const lib = path.join(PROJECT_DIR, 'dist', 'stage', 'unpack', 'unpack.js');
if (!fs.existsSync(lib)) {
  console.error(`unpack-vs-tar: ${lib} does not exist (run \`npm run build\`)`);
  process.exit(1);
}
const { unpackTarball } = await import(lib);

async function getTarball() {
  if (opts.tarball) return path.resolve(opts.tarball);
  const dir = path.join(CACHE_DIR, 'unpack');
  const file = path.join(dir, 'openclaw-2026.9.5.tgz');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  const env = {
    ...process.env,
    npm_config_cache: path.join(dir, 'npm-cache'),
    npm_config_logs_dir: path.join(dir, 'npm-logs'),
  };
  await execa('npm', ['pack', SPEC, '--pack-destination', dir], { env, timeout: 600_000 });
  return file;
}

const tarball = await getTarball();
const work = makeTempDir('unpack');
const methods = {
  'tar -xzf': (dest) =>
    execa('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1', '--no-same-owner'], { timeout: 600_000 }),
  'node-tar': (dest) => tar.x({ file: tarball, cwd: dest, strip: 1, preserveOwner: false }),
  ours: (dest) => unpackTarball({ source: tarball, dest, strip: 1 }),
};
const times = Object.fromEntries(Object.keys(methods).map((name) => [name, []]));
try {
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(methods)) {
      const dest = path.join(work, `${name.replace(/\W/g, '')}-${round}`);
      fs.mkdirSync(dest);
      const start = performance.now();
      await run(dest);
      times[name].push(performance.now() - start);
      removeTree(dest);
    }
  }
} finally {
  removeTree(work);
}

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(
  `${path.basename(tarball)} (${(fs.statSync(tarball).size / 1e6).toFixed(1)} MB), ${rounds} interleaved rounds`,
);
for (const [name, list] of Object.entries(times)) {
  console.log(
    `  ${name.padEnd(9)} median ${s(median(list))}  spread ${s(Math.min(...list))}–${s(Math.max(...list))}  [${list.map(s).join(', ')}]`,
  );
}
const ours = median(times.ours);
console.log(
  `  ours / tar -xzf: ${(ours / median(times['tar -xzf'])).toFixed(2)}×   ours / node-tar: ${(ours / median(times['node-tar'])).toFixed(2)}×`,
);
