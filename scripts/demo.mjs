#!/usr/bin/env node
// `npm run demo`: the release store's story on an embedded default, offline, in a temp root:
// install 1.0.0 from a local tarball, switch to it, install 1.1.0, switch, roll back, list, status.
// Later issues extend it with a real supervisor restarting the service.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli/main.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'release-switcher-demo-'));
const root = path.join(work, 'root');
const env = { ...process.env, npm_config_cache: path.join(work, 'npm-cache'), npm_config_logs_dir: path.join(work, 'npm-logs'), RELEASE_SWITCHER_QUIET: '1' };

/** A tiny HTTP gateway, one tarball per version, with a postinstall that must run before it can start. */
async function makeTarball(version) {
  const dir = path.join(work, `src-${version}`, 'package');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: 'demo-gateway', version, main: 'server.js', type: 'module',
    scripts: { postinstall: 'node -e "require(\'fs\').rmSync(\'.lifecycle-pending\')"' },
  }, null, 2));
  fs.writeFileSync(path.join(dir, '.lifecycle-pending'), '');
  fs.writeFileSync(path.join(dir, 'LICENSE'), 'MIT License: the same in every version, so stored once.\n');
  fs.writeFileSync(path.join(dir, 'server.js'), `import http from 'node:http';
http.createServer((req, res) => res.end(JSON.stringify({ status: 'ok', version: '${version}' }))).listen(process.env.PORT ?? 0);
`);
  const file = path.join(work, `demo-gateway-${version}.tgz`);
  await tar.c({ gzip: true, file, cwd: path.dirname(dir), portable: true }, ['package']);
  return file;
}

function step(title, args) {
  process.stdout.write(`\n$ release-switcher ${args.join(' ')}\n   # ${title}\n`);
  const out = execFileSync(process.execPath, [cli, '--root', root, ...args], { env, encoding: 'utf8' });
  process.stdout.write(out.replace(/^/gm, '   '));
}

try {
  const v1 = await makeTarball('1.0.0');
  const v2 = await makeTarball('1.1.0');
  process.stdout.write(`release-switcher demo in ${work}\n`);
  step('a root manages one package', ['init', '--package', 'demo-gateway']);
  step('stage 1.0.0: verify, extract safely, run postinstall, hash, seal; current is not touched', ['install', v1]);
  step('activate it: current -> releases/1.0.0 by one rename', ['switch', '1.0.0']);
  step('stage 1.1.0 beside it; identical files are hardlinked to 1.0.0', ['install', v2]);
  step('re-verify 1.1.0 against its manifest, then flip', ['switch', '1.1.0']);
  step('go back: previous becomes current again', ['rollback']);
  step('every release with its marks', ['list']);
  step('where things stand', ['status']);
  const current = fs.readlinkSync(path.join(root, 'current'));
  process.stdout.write(`\ncurrent -> ${current}; releases are read-only: ${(fs.statSync(path.join(root, 'releases/1.1.0/server.js')).mode & 0o222) === 0}\n`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
  process.stdout.write('demo root removed\n');
}
