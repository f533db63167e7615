// The documented on-disk layout (layout/*.schema.json) against a real root built by the CLI.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, SUPERVISORS, validateConfig } from '../../src/store/config.ts';
import { readLayoutSchema } from '../../src/store/layout-schema.ts';
import { LAYOUT_VERSION, RELEASE_MARKER } from '../../src/store/layout.ts';
import type { State } from '../../src/model/state.ts';
import type { Config } from '../../src/store/config.ts';
import type { ManifestEntry, ReleaseMarker } from '../../src/store/manifest.ts';
import { layoutProblems as validate } from '../support/layout-schema.ts';

const REPO = resolve(import.meta.dirname, '../..');
const CLI = join(REPO, 'dist/cli/main.js');
type Schema = any;

// ---- A real root: init, install of a local tarball made with npm pack, switch.
let work: string;
let root: string;
const files = {} as { config: Config; state: State; marker: ReleaseMarker };

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rs-layout-'));
  writeFileSync(join(work, 'npmrc'), '');
  const env = {
    ...process.env,
    npm_config_cache: join(work, 'npm-cache'),
    npm_config_logs_dir: join(work, 'npm-logs'),
    npm_config_userconfig: join(work, 'npmrc'),
    npm_config_update_notifier: 'false',
    RELEASE_SWITCHER_QUIET: '1',
  };
  const pkg = join(work, 'pkg');
  mkdirSync(pkg);
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: 'rs-layout-fixture',
      version: '1.0.0',
      main: 'index.js',
      bin: { 'rs-layout-fixture': 'bin/cli.js' },
    }),
  );
  writeFileSync(join(pkg, 'index.js'), 'module.exports = 1;\n');
  mkdirSync(join(pkg, 'bin'));
  writeFileSync(join(pkg, 'bin/cli.js'), '#!/usr/bin/env node\nconsole.log(require("../index.js"));\n', {
    mode: 0o755,
  });
  execFileSync('npm', ['pack', '--pack-destination', work, '--loglevel=error'], { cwd: pkg, env, stdio: 'pipe' });
  renameSync(join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!), join(work, 'x.tgz'));
  root = join(work, 'root');
  const rs = (...args: string[]) =>
    execFileSync(process.execPath, [CLI, '--root', root, '--json', ...args], { cwd: work, env, stdio: 'pipe' });
  rs('init', '--package', 'rs-layout-fixture');
  rs('install', './x.tgz');
  rs('switch', '1.0.0');
  const json = (p: string) => JSON.parse(readFileSync(join(root, p), 'utf8'));
  Object.assign(files, {
    config: json('config.json'),
    state: json('state.json'),
    marker: json(`releases/1.0.0/${RELEASE_MARKER}`),
  });
}, 120_000);

afterAll(() => {
  if (!work) return;
  // Releases are sealed: no write bits, and (as root on ext4) the immutable attribute.
  try {
    execFileSync('chattr', ['-R', '-f', '-i', work], { stdio: 'ignore' });
  } catch {
    // chattr exits non-zero on the symlinks it cannot flag; the files and folders it cleared are what matter.
  }
  execFileSync('chmod', ['-R', 'u+w', work]);
  rmSync(work, { recursive: true, force: true });
});

describe('layout/ documents the on-disk tree', () => {
  const config = readLayoutSchema('config') as Schema;
  const state = readLayoutSchema('state') as Schema;
  const marker = readLayoutSchema('release-marker') as Schema;

  it('the real config.json, state.json and release marker match their schemas', () => {
    expect(validate('config', files.config)).toEqual([]);
    expect(validate('state', files.state)).toEqual([]);
    expect(validate('release-marker', files.marker)).toEqual([]);
    expect(files.state.history.at(-1)).toMatchObject({
      kind: 'switch',
      status: 'switched',
      before: { current: null, previous: null },
    });
    expect(files.marker.files.map((f: ManifestEntry) => f.type).sort()).toEqual(['dir', 'file', 'file', 'file']);
  });

  it('the schemas follow the code: layout version, supervisors, channels', () => {
    for (const schema of [config, state, marker])
      expect(schema.properties.layoutVersion.enum).toEqual([LAYOUT_VERSION]);
    expect(config.properties.supervisor.enum).toEqual([...SUPERVISORS]);
    expect(config.properties.channel.enum).toEqual([...CHANNELS, null]); // null: the service's own setting
    expect(readFileSync(join(REPO, 'layout/README.md'), 'utf8')).toContain(`Layout version: ${LAYOUT_VERSION}`);
  });

  it('a file that disagrees with a schema fails validation', () => {
    const bogus = { ...files.config, supervisor: 'bogus' };
    expect(() => validateConfig(bogus, 'test')).toThrow(/supervisor/);
    expect(validate('config', bogus)).toEqual([
      `"supervisor" must be one of ${SUPERVISORS.map((s) => JSON.stringify(s)).join(', ')}, not "bogus"`,
    ]);
    expect(validate('config', { ...files.config, keep: -1 })).toEqual(['"keep" must be ≥ 0, not -1']);
    const { operation: _, ...noOperation } = files.state;
    expect(validate('state', noOperation)).toEqual(["the document must have required property 'operation'"]);
    expect(validate('state', { ...files.state, transaction: { id: 'x' } })).toEqual([
      '"transaction" must match a schema in anyOf',
    ]);
    expect(validate('release-marker', { ...files.marker, files: [{ path: 'a', type: 'dir', extra: 1 }] })).toEqual([
      '"files" at /files/0 must match a schema in anyOf',
    ]);
  });
});
