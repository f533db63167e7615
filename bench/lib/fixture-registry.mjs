// A real npm registry (Verdaccio 6.8.0, on loopback) serving a generated fixture application, so the
// fixture-mode benchmarks need nothing but this machine.
//
// The fixture is shaped like openclaw between two releases, in miniature: `rs-fixture-gateway`
// 1.0.0 and 1.1.0 depend on five small packages (four unchanged, one bumped 1.0.0 -> 1.1.0), and
// carry a `dist/` of content-hashed chunks that changes wholesale between the versions. Like
// openclaw, the package ships a `.lifecycle-pending` marker that its postinstall removes, and its
// preinstall checks the Node major. Content is deterministic (derived from names), so the same
// bytes are published every time and the storage can be cached in .bench-cache/fixture-registry/.
//
//   node bench/lib/fixture-registry.mjs      serves until killed; prints the URL as the first stdout line
//   import {startFixtureRegistry} ...        => {url, close()}

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { runServer } from 'verdaccio';
import { CACHE_DIR } from './node24.mjs';

export const FIXTURE_PACKAGE = 'rs-fixture-gateway';
const STORAGE_ROOT = path.join(CACHE_DIR, 'fixture-registry');
const FIXTURE_REVISION = '1'; // bump when the generated content changes, to re-seed the storage

// Deterministic text of about `bytes` bytes: JS-looking lines of hashes, compressible like real code.
function fillerText(seed, bytes) {
  const lines = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const h = crypto.createHash('sha256').update(`${seed}:${i}`).digest('hex');
    const line = `export const v${i} = "${h}"; // ${h.slice(0, 24)}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('');
}

export function writePackage(dir, manifest, files) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
}

// Dependencies: 60 files of ~3 KB each; content depends on name@version only.
function dependencyPackage(name, version) {
  const files = {};
  for (let i = 0; i < 60; i++) files[`lib/part-${i}.js`] = fillerText(`${name}@${version}/${i}`, 3000);
  files['index.js'] = `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`;
  return { manifest: { name, version, main: 'index.js', license: 'MIT' }, files };
}

const SERVER_JS = `// Fixture gateway: answers GET /startupz with its version, like openclaw.
const http = require('node:http');
const {version} = require('./package.json');
const port = Number(process.env.PORT || 18789);
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ok: true, status: 'started', version}));
}).listen(port, '127.0.0.1');
`;

// The gateway: 40 dist chunks of ~40 KB named by content hash, so every chunk is new in 1.1.0.
function gatewayPackage(version, depVersions) {
  const files = { 'server.js': SERVER_JS, '.lifecycle-pending': 'cleared by postinstall\n' };
  for (let i = 0; i < 40; i++) {
    const text = fillerText(`${FIXTURE_PACKAGE}@${version}/chunk-${i}`, 40_000);
    const hash = crypto.createHash('sha256').update(text).digest('hex').slice(0, 8);
    files[`dist/chunk-${hash}.js`] = text;
  }
  const manifest = {
    name: FIXTURE_PACKAGE,
    version,
    license: 'MIT',
    main: 'server.js',
    files: ['server.js', 'dist', '.lifecycle-pending'],
    scripts: {
      preinstall: 'node -e "if (+process.versions.node.split(\'.\')[0] < 20) process.exit(1)"',
      postinstall: "node -e \"require('fs').rmSync('.lifecycle-pending', {force: true})\"",
    },
    dependencies: depVersions,
  };
  return { manifest, files };
}

function fixturePackages() {
  const deps = ['a', 'b', 'c', 'd', 'e'].map((x) => `rs-fixture-dep-${x}`);
  const list = deps.map((d) => dependencyPackage(d, '1.0.0'));
  list.push(dependencyPackage('rs-fixture-dep-e', '1.1.0'));
  const pins = (eVersion) => Object.fromEntries(deps.map((d) => [d, d.endsWith('-e') ? eVersion : '1.0.0']));
  list.push(gatewayPackage('1.0.0', pins('1.0.0')), gatewayPackage('1.1.0', pins('1.1.0')));
  return list;
}

// Verdaccio on a random loopback port; `uplinks` and `packages` default to a closed registry (nothing
// proxied: a name not published here is a 404).
export async function listen(
  storage,
  { uplinks = {}, packages = { '**': { access: '$all', publish: '$all', unpublish: '$all' } } } = {},
) {
  const config = {
    self_path: storage,
    storage: path.join(storage, 'storage'),
    uplinks,
    packages,
    auth: { htpasswd: { file: path.join(storage, 'htpasswd'), max_users: -1 } },
    web: { enable: false },
    middlewares: { audit: { enabled: false } },
    log: { type: 'stdout', format: 'pretty', level: 'fatal' },
    max_body_size: '100mb',
  };
  const server = await runServer(config);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, close: () => new Promise((resolve) => server.close(resolve)) };
}

// Publish the packages into fresh storage once; later runs serve the cached storage as is.
export async function seed(registry, packages = fixturePackages()) {
  const work = fs.mkdtempSync(path.join(CACHE_DIR, '.fixture-src-'));
  const host = new URL(registry.url).host;
  try {
    for (const { manifest, files } of packages) {
      const dir = path.join(work, `${manifest.name}-${manifest.version}`);
      writePackage(dir, manifest, files);
      await execa(
        'npm',
        ['publish', dir, '--registry', registry.url, `--//${host}/:_authToken=bench-fake-token`, '--ignore-scripts'],
        {
          timeout: 120_000,
          env: { ...process.env, npm_config_cache: path.join(work, '.npm-cache') },
        },
      );
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export async function startFixtureRegistry() {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const marker = path.join(STORAGE_ROOT, `.seeded-${FIXTURE_REVISION}`);
  if (!fs.existsSync(marker)) {
    fs.rmSync(STORAGE_ROOT, { recursive: true, force: true });
    fs.mkdirSync(STORAGE_ROOT, { recursive: true });
    const registry = await listen(STORAGE_ROOT);
    try {
      await seed(registry);
    } catch (error) {
      await registry.close();
      throw error;
    }
    fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
    return registry;
  }
  return listen(STORAGE_ROOT);
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const registry = await startFixtureRegistry();
  console.log(registry.url);
  const stop = async () => {
    await registry.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
