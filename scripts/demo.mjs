#!/usr/bin/env node
// `npm run demo`: the whole story on an embedded default, offline, in a temp root, under a real
// supervisor that needs no root (pm2, from the project's devDependencies), with the node-http preset (a plain Node
// HTTP service with a state folder, STATE_DIR, and a migration command, migrate.js):
//   1. install 1.0.0 from a local tarball and start it under pm2, through <root>/current: it seeds its state (schema 1);
//   2. update to 1.1.0: flip, stop, state checkpoint, its migrate.js (schema 1 -> 2), start, verified;
//   3. update to a broken 1.2.0: it migrates (2 -> 3), crashes on start, and is rolled back automatically: the
//      checkpoint goes back, so 1.1.0 runs on the state as it left it (schema 2);
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

const stateDir = path.join(work, 'service-state');
const stateFile = path.join(stateDir, 'state.json');
const readState = () => (fs.existsSync(stateFile) ? fs.readFileSync(stateFile, 'utf8').trim() : '(none)');

/** The state folder as the service finds it: STATE_DIR, else the preset's default (docs/configuration.md). */
const STATE_DIR_JS = `const dir = process.env.STATE_DIR || path.join(os.homedir(), '.local/state/node-http');
const file = path.join(dir, 'state.json');`;

/**
 * A tiny node-http service at state schema `schema`: it seeds its state folder when empty, refuses a state of another
 * schema, answers GET /health with its version. `migrate` (migrate.js) takes the state from schema - 1 to `schema`;
 * `broken` crashes on start, as a bad release would.
 */
async function makeTarball(version, { schema, migrate = false, broken = false }) {
  const dir = path.join(work, `src-${version}`, 'package');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'demo-gateway', version, main: 'server.js', type: 'module' }, null, 2),
  );
  fs.writeFileSync(path.join(dir, 'LICENSE'), 'MIT License: the same in every version, so stored once.\n');
  fs.writeFileSync(
    path.join(dir, 'server.js'),
    `import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
if (process.argv.includes('--version')) { console.log('${version}'); process.exit(0); }
${STATE_DIR_JS}
if (!fs.existsSync(file)) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ schema: ${schema}, seededBy: '${version}' }) + '\\n');
}
const state = JSON.parse(fs.readFileSync(file, 'utf8'));
if (state.schema !== ${schema}) { console.error('demo-gateway ${version}: state schema ' + state.schema + ', expected ${schema}'); process.exit(78); }
${broken ? "console.error('demo-gateway ${version}: cannot start (a broken release)'); process.exit(1);" : ''}
http.createServer((req, res) => res.end(JSON.stringify({ status: 'ok', version: '${version}', schema: state.schema }))).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  if (migrate)
    fs.writeFileSync(
      path.join(dir, 'migrate.js'),
      `import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
${STATE_DIR_JS}
const state = JSON.parse(fs.readFileSync(file, 'utf8'));
if (state.schema === ${schema}) { console.log('state already at schema ${schema}'); process.exit(0); }
if (state.schema !== ${schema - 1}) { console.error('cannot migrate schema ' + state.schema); process.exit(1); }
const next = { ...state, schema: ${schema}, migrations: [...(state.migrations ?? []), '${schema - 1}->${schema}'] };
fs.writeFileSync(file + '.tmp', JSON.stringify(next) + '\\n');
fs.renameSync(file + '.tmp', file);
console.log('migrated ' + file + ': schema ${schema - 1} -> ${schema}');
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
    await makeTarball('1.0.0', { schema: 1 }),
    await makeTarball('1.1.0', { schema: 2, migrate: true }),
    await makeTarball('1.2.0', { schema: 3, migrate: true, broken: true }),
  ];
  const port = await freePort();
  process.stdout.write(`${bold('release-switcher demo')} in ${work} (offline; supervisor: pm2; port ${port})\n`);
  step('a root manages one package, a plain Node HTTP service (preset node-http: state in STATE_DIR, migrate.js)', [
    'init',
    '--preset',
    'node-http',
    '--package',
    'demo-gateway',
    '--smoke',
    'server.js --version',
  ]);
  step('stage 1.0.0: check every tar entry, unpack, smoke-check, hash, seal; current is not touched yet', [
    'install',
    v1,
  ]);
  step('activate it on disk: current -> releases/1.0.0 by one rename', ['switch', '1.0.0']);
  process.stdout.write(
    `\n${bold('# the operator starts the service under pm2, through current/, with its port and state folder')}\n$ PORT=${port} STATE_DIR=${stateDir} pm2 start ${root}/current/server.js --name demo-gateway\n`,
  );
  execFileSync(pm2, ['start', path.join(root, 'current/server.js'), '--name', 'demo-gateway'], {
    env: { ...env, PORT: String(port), STATE_DIR: stateDir },
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
  const answers = async () => {
    process.stdout.write(`  the service answers: ${JSON.stringify(await health(port))}\n`);
    process.stdout.write(`  its state (STATE_DIR/state.json): ${readState()}\n`);
  };
  process.stdout.write(
    `  (init resolved STATE_DIR in its own environment; each checkpoint resolves it in the service's, as pm2 passes it: ${stateDir})\n`,
  );
  await answers();
  step(
    'update to 1.1.0: stage, flip, pm2 stop, state checkpoint, its migrate.js (schema 1 -> 2), start, verify for 2 s',
    ['update', v2],
  );
  await answers();
  step(
    'update to a broken 1.2.0: it migrates (2 -> 3), crashes on start, is marked bad; the checkpoint goes back, 1.1.0 comes back verified (exit 3)',
    ['update', v3],
    [3],
  );
  await answers();
  process.stdout.write("  the state is what 1.1.0 left (schema 2): 1.2.0's migration went back with the checkpoint\n");
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
