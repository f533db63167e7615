// A local Verdaccio (6.8.0, loopback) that serves a small fixture application whose dependencies are real
// registry packages: `rs-realdeps-app` is published here, everything else is proxied from the real npm
// registry (Verdaccio's uplink) and cached in its storage. Both sides of the benchmark install through
// this one registry, so they see the same documents and the same tarball URLs.
//
//   1.0.0: express ^4.21.2, yargs ^17.7.2, semver 7.5.4, debug ^4.3.7
//   1.1.0: the same with semver 7.6.3 (one changed) and chalk ^5.3.0 (one added)
//
// About 90 packages per version, nearly all of them identical between the two (the shape of a real
// upgrade: a few dependencies move, the rest stay). The app itself is a few KB: what the bench
// measures is the dependency work.
//
// The uplink is npm's configured registry (`npm config get registry`, normally registry.npmjs.org) or
// --upstream URL. Proxied metadata is kept for 60 minutes (uplink maxage), so after the warm-up the
// timed runs do not wait on the real registry's latency for each packument; tarballs stay in storage.
//
//   node bench/lib/realdeps-registry.mjs [--upstream URL]   serves until killed; prints the URL first
//   import {startRealDepsRegistry} ...                      => {url, close()}

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { CACHE_DIR } from './node24.mjs';
import { listen, seed } from './fixture-registry.mjs';

export const REALDEPS_PACKAGE = 'rs-realdeps-app';
export const REALDEPS_FROM = '1.0.0';
export const REALDEPS_TO = '1.1.0';
const STORAGE_ROOT = path.join(CACHE_DIR, 'realdeps-registry');
const REVISION = '1'; // bump when the published app changes, to re-seed the storage

const COMMON = { express: '^4.21.2', yargs: '^17.7.2', debug: '^4.3.7' };
const DEPENDENCIES = {
  [REALDEPS_FROM]: { ...COMMON, semver: '7.5.4' },
  [REALDEPS_TO]: { ...COMMON, semver: '7.6.3', chalk: '^5.3.0' },
};

const SERVER_JS = `// The real-deps fixture: an express app that answers GET /startupz with its version.
const express = require('express');
const semver = require('semver');
const debug = require('debug')('rs-realdeps-app');
const {argv} = require('yargs')(process.argv.slice(2)).option('port', {type: 'number'});
const {version} = require('./package.json');
const port = argv.port ?? Number(process.env.PORT || 18790);
const app = express();
app.get('/startupz', (req, res) => res.json({ok: true, status: 'started', version, valid: Boolean(semver.valid(version))}));
app.listen(port, '127.0.0.1', () => debug('listening on %d', port));
`;

function appPackage(version) {
  return {
    manifest: {
      name: REALDEPS_PACKAGE,
      version,
      license: 'MIT',
      main: 'server.js',
      files: ['server.js'],
      scripts: { postinstall: 'node -e "require(\'semver\')"' },
      dependencies: DEPENDENCIES[version],
    },
    files: { 'server.js': SERVER_JS },
  };
}

async function upstreamRegistry() {
  const { stdout } = await execa('npm', ['config', 'get', 'registry'], { reject: false, timeout: 30_000 });
  return /^https?:\/\//.test(stdout.trim()) ? stdout.trim() : 'https://registry.npmjs.org/';
}

function options(upstream) {
  return {
    uplinks: { upstream: { url: upstream, maxage: '60m', timeout: '60s', max_fails: 5 } },
    packages: {
      'rs-realdeps-*': { access: '$all', publish: '$all', unpublish: '$all' },
      '**': { access: '$all', publish: '$all', proxy: 'upstream' },
    },
  };
}

export async function startRealDepsRegistry({ upstream } = {}) {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const uplink = upstream ?? (await upstreamRegistry());
  const marker = path.join(STORAGE_ROOT, `.seeded-${REVISION}`);
  if (!fs.existsSync(marker) || fs.readFileSync(marker, 'utf8').split('\n')[1] !== uplink) {
    fs.rmSync(STORAGE_ROOT, { recursive: true, force: true });
    fs.mkdirSync(STORAGE_ROOT, { recursive: true });
    const registry = await listen(STORAGE_ROOT, options(uplink));
    try {
      await seed(registry, [appPackage(REALDEPS_FROM), appPackage(REALDEPS_TO)]);
    } catch (error) {
      await registry.close();
      throw error;
    }
    fs.writeFileSync(marker, `${new Date().toISOString()}\n${uplink}\n`);
    return { ...registry, upstream: uplink };
  }
  return { ...(await listen(STORAGE_ROOT, options(uplink))), upstream: uplink };
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { upstream: { type: 'string' } } });
  const registry = await startRealDepsRegistry({ upstream: values.upstream });
  console.log(registry.url);
  process.stderr.write(
    `[realdeps-registry] ${registry.url} serves ${REALDEPS_PACKAGE} ${REALDEPS_FROM}, ${REALDEPS_TO}; everything else from ${registry.upstream}\n`,
  );
  const stop = async () => {
    await registry.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
