#!/usr/bin/env node
// `npm run demo`: the whole story on an embedded default, offline, in a temp root, under a real
// supervisor that needs no root (pm2, from the project's devDependencies):
//   1. install 1.0.0 from a local tarball and start it under pm2, through <root>/current;
//   2. update to 1.1.0: flip, restart, verified;
//   3. update to a broken 1.2.0: it crashes on start and is rolled back automatically;
//   4. list and status.
// It narrates as it goes and cleans up after itself, pm2 daemon included.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';

const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The checkout's build; RELEASE_SWITCHER_DEMO_CLI names another (the installed package's: test/api/tarball.registry.test.ts).
const cli = process.env.RELEASE_SWITCHER_DEMO_CLI ?? path.join(project, 'dist/cli/main.js');
const pm2 = path.join(project, 'node_modules/.bin/pm2');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'release-switcher-demo-'));
const root = path.join(work, 'root');
const env = {
  ...process.env,
  PATH: `${path.dirname(pm2)}${path.delimiter}${process.env.PATH}`,
  PM2_HOME: path.join(work, 'pm2'),
  npm_config_cache: path.join(work, 'npm-cache'),
  npm_config_logs_dir: path.join(work, 'npm-logs'),
  RELEASE_SWITCHER_QUIET: '1',
  // The demo's root is gone when it ends: recorded on lists of roots inside its temp folder, not the machine's.
  XDG_STATE_HOME: path.join(work, 'state'),
  RELEASE_SWITCHER_SYSTEM_ROOTS: path.join(work, 'system-roots.json'),
};
const bold = (text) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${text}\x1b[0m` : text);

/** A tiny HTTP gateway; `broken` crashes on start, as a bad release would. */
async function makeTarball(version, { broken = false } = {}) {
  const dir = path.join(work, `src-${version}`, 'package');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'demo-gateway', version, main: 'server.js', type: 'module' }, null, 2),
  );
  fs.writeFileSync(path.join(dir, 'LICENSE'), 'MIT License: the same in every version, so stored once.\n');
  fs.writeFileSync(
    path.join(dir, 'server.js'),
    `import http from 'node:http';
if (process.argv.includes('--version')) { console.log('${version}'); process.exit(0); }
${broken ? "console.error('demo-gateway ${version}: cannot start (a broken release)'); process.exit(1);" : ''}
http.createServer((req, res) => res.end(JSON.stringify({ status: 'ok', version: '${version}' }))).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  const file = path.join(work, `demo-gateway-${version}.tgz`);
  await tar.c({ gzip: true, file, cwd: path.dirname(dir), portable: true }, ['package']);
  return file;
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Run release-switcher, show its human output; exit codes 0 and 3 (rolled back) are part of the story. */
function step(title, args, expected = [0]) {
  process.stdout.write(`\n${bold(`# ${title}`)}\n$ release-switcher ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [cli, '--root', root, ...args], { env, encoding: 'utf8' });
  process.stdout.write((result.stdout + result.stderr).replace(/^/gm, '  '));
  if (!expected.includes(result.status)) throw new Error(`release-switcher ${args[0]} exited ${result.status}`);
  process.stdout.write(`  (exit ${result.status})\n`);
}

/** GET /health on a fresh connection (a pooled one may still point at the process just replaced). */
async function health(port) {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: 'close' } })).json();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return null;
}

try {
  const started = Date.now();
  const [v1, v2, v3] = [
    await makeTarball('1.0.0'),
    await makeTarball('1.1.0'),
    await makeTarball('1.2.0', { broken: true }),
  ];
  const port = await freePort();
  process.stdout.write(`${bold('release-switcher demo')} in ${work} (offline; supervisor: pm2; port ${port})\n`);
  step('a root manages one package', ['init', '--package', 'demo-gateway', '--smoke', 'server.js --version']);
  step('stage 1.0.0: check every tar entry, unpack, smoke-check, hash, seal; current is not touched yet', [
    'install',
    v1,
  ]);
  step('activate it on disk: current -> releases/1.0.0 by one rename', ['switch', '1.0.0']);
  process.stdout.write(
    `\n${bold('# the operator starts the service under pm2, through current/')}\n$ pm2 start ${root}/current/server.js --name demo-gateway\n`,
  );
  execFileSync(pm2, ['start', path.join(root, 'current/server.js'), '--name', 'demo-gateway'], {
    env: { ...env, PORT: String(port) },
    stdio: 'ignore',
  });
  step('hand the root to the supervisor, with a health check that must report the version', [
    'init',
    '--supervisor',
    'pm2',
    '--unit',
    'demo-gateway',
    '--health-url',
    `http://127.0.0.1:${port}/health`,
    '--verify-timeout',
    '15',
    '--stable-for',
    '2',
  ]);
  process.stdout.write(`  the service answers: ${JSON.stringify(await health(port))}\n`);
  step('update to 1.1.0: stage beside 1.0.0, flip, pm2 restart, verify health + version for 2 s', ['update', v2]);
  process.stdout.write(`  the service answers: ${JSON.stringify(await health(port))}\n`);
  step(
    'update to a broken 1.2.0: it crashes on start, is marked bad, 1.1.0 comes back verified (exit 3)',
    ['update', v3],
    [3],
  );
  process.stdout.write(`  the service answers: ${JSON.stringify(await health(port))}\n`);
  step('every release: state, marks, size on disk after dedupe', ['list']);
  step('where things stand', ['status']);
  process.stdout.write(`\n${bold(`demo done in ${((Date.now() - started) / 1000).toFixed(1)} s`)}\n`);
} finally {
  spawnSync(pm2, ['kill'], { env, stdio: 'ignore' });
  // Sealed releases are immutable where the file system allows it (as root on ext4): clear that first.
  spawnSync('chattr', ['-R', '-f', '-i', work], { stdio: 'ignore' });
  fs.rmSync(work, { recursive: true, force: true });
  process.stdout.write('cleaned up: pm2 daemon stopped, temp root removed\n');
}
