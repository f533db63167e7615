// Staging's fast path against real parts (Verdaccio, the built CLI, npm itself): the staged tree
// equals `npm install -g --prefix` of the same spec, unchanged packages are linked from the previous
// release, dependency scripts get npm's environment and not the caller's, and a script that writes
// through a shared inode is caught (the release falls back to a full install).
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import cacache from 'cacache';
import { cliEnv, fixtureRoot, rs, tempDir } from '../support/cli.ts';
import { npm, publish } from '../support/registry.ts';
import { verifyRelease } from '../../src/store/release.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { fingerprintOf, readFingerprints } from '../../src/store/fingerprints.ts';
import { mutableEntries } from '../../src/platform/immutable.ts';
import { registryIdentity } from '../../src/stage/scripts/allow-scripts.ts';
import { type TarEntry, encodeTarball } from '../support/bad-tarballs.ts';

import { runThisFileAsRoot } from '../support/accounts.ts';
import { treeOf } from '../support/root.ts';
import { npmGlobal as npmGlobalOf } from '../support/npm-packages.ts';
runThisFileAsRoot(
  'its hostile postinstall writes through a sealed file, which only root can (modes stop an account); the manifest check that catches it is the subject',
);

// Its own package name: the shared registry's rs-fixture-gateway keeps exactly the versions and tags other tests expect.
const TAG = 'fast';
const SECRET = 'RS_TEST_GATEWAY_SECRET';

function writePackage(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function gateway(version: string, extra: Record<string, unknown> = {}, files: Record<string, string> = {}): string {
  const pkg = {
    name: 'rs-fixture-fastpath',
    version,
    main: 'server.js',
    dependencies: { 'rs-fixture-dep': '1.1.0', 'rs-fixture-envdep': '1.0.0' },
    ...extra,
  };
  return writePackage(tempDir('rs-fast-src-'), {
    'package.json': JSON.stringify(pkg, null, 2),
    'server.js': `console.log(${JSON.stringify(version)});\n`,
    ...files,
  });
}

/** A dependency version, its index.js exporting its version string. */
async function publishDependency(manifest: { name: string; version: string } & Record<string, unknown>): Promise<void> {
  const files = {
    'package.json': JSON.stringify(manifest),
    'index.js': `module.exports = ${JSON.stringify(manifest.version)};\n`,
  };
  await publish(writePackage(tempDir('rs-fast-src-'), files), { registry: inject('registryUrl') });
}

/** env.json records the environment its postinstall saw: by nature it differs between two installs. */
const withoutEnvJson = (tree: Record<string, string>) =>
  Object.fromEntries(Object.entries(tree).filter(([p]) => !p.endsWith('/env.json')));

/**
 * npm's own cache for the reference installs, warm across the file: the tree npm writes does not depend on it, and
 * --prefer-online revalidates every packument, so a version a test publishes later is seen.
 */
let npmCache: string;

/** The judge of tree equality: `npm install -g` of `spec`, with this file's npm cache; the package's folder. */
const npmGlobal = (spec: string, extra: string[] = []) =>
  npmGlobalOf(spec, 'rs-fixture-fastpath', { cache: npmCache, extra });

/** A version whose own postinstall records the environment it saw (root-env.json). */
const ROOT_RECORDS = '5.0.0-fast.6';
let rootRecordsTgz: string;
let rootRecordsShrinkwrapTgz: string;

/** An environment a script saw: none of the caller's secret, npm's shape, the configured Node first. */
function expectNpmShaped(file: string, name: string): void {
  const env = JSON.parse(readFileSync(file, 'utf8'));
  expect(env[SECRET], file).toBeUndefined();
  expect(Object.values(env), file).not.toContain('hunter2');
  expect(env.npm_lifecycle_event).toBe('postinstall');
  expect(env.npm_package_name).toBe(name);
  expect(env.HOME).toBeTruthy();
  expect(env.PATH.split(':').filter((dir: string) => !dir.includes('node_modules'))[0]).toBe(dirname(process.execPath));
}

/** A root with 5.0.0-fast.7 installed, then `version` installed beside it (both exit 0); the second result. */
async function updateFrom7(version: string) {
  const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
  expect((await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.7'])).exitCode).toBe(0);
  const r = await rs(root, ['install', `rs-fixture-fastpath@${version}`]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return { root, r };
}

describe('staging fast path', () => {
  beforeAll(async () => {
    npmCache = join(tempDir('rs-fast-npmcache-'), 'cache');
    const registry = inject('registryUrl');
    const envdep = writePackage(tempDir('rs-fast-src-'), {
      'package.json': JSON.stringify({
        name: 'rs-fixture-envdep',
        version: '1.0.0',
        bin: { 'rs-envdep': 'cli.js' },
        scripts: { postinstall: 'node record.cjs' },
      }),
      'cli.js': '#!/usr/bin/env node\nconsole.log("envdep");\n',
      'record.cjs': `require('node:fs').writeFileSync('env.json', JSON.stringify(process.env));\n`,
    });
    await publish(envdep, { registry });
    await publish(gateway('5.0.0-fast.1'), { registry, tag: TAG });
    await publish(gateway('5.0.0-fast.2', {}, { 'CHANGED.txt': 'two\n' }), { registry, tag: TAG });
    const hostile = `const f = 'node_modules/rs-fixture-dep/index.cjs'; require('node:fs').chmodSync(f, 0o644); require('node:fs').appendFileSync(f, '// pwned\\n');\n`;
    await publish(
      gateway('5.0.0-fast.3', { scripts: { postinstall: 'node hostile.cjs' } }, { 'hostile.cjs': hostile }),
      { registry, tag: TAG },
    );
    const recordsRoot = gateway(
      ROOT_RECORDS,
      { scripts: { postinstall: 'node record-root.cjs' } },
      { 'record-root.cjs': `require('node:fs').writeFileSync('root-env.json', JSON.stringify(process.env));\n` },
    );
    await publish(recordsRoot, { registry, tag: TAG });
    // The same package as a .tgz file (its tree resolved from its own package.json, then the fast path), and once
    // more with an npm-shrinkwrap.json of npm's making inside, which only npm's full install honours.
    const packed = tempDir('rs-fast-tgz-');
    await npm(['pack', recordsRoot, '--pack-destination', packed], { registry });
    rootRecordsTgz = join(packed, `rs-fixture-fastpath-${ROOT_RECORDS}.tgz`);
    await npm(['install', '--package-lock-only', '--ignore-scripts'], { registry, cwd: recordsRoot });
    await npm(['shrinkwrap'], { registry, cwd: recordsRoot });
    const wrapped = tempDir('rs-fast-tgz-');
    await npm(['pack', recordsRoot, '--pack-destination', wrapped], { registry });
    rootRecordsShrinkwrapTgz = join(wrapped, `rs-fixture-fastpath-${ROOT_RECORDS}.tgz`);
    // A changed dependency (outer 1.0.0 → 1.1.0) with an unchanged dependency nested inside it
    // (inner 1.0.0 under outer's node_modules, since the top level holds inner 2.0.0).
    for (const version of ['1.0.0', '2.0.0']) await publishDependency({ name: 'rs-fixture-fastinner', version });
    for (const version of ['1.0.0', '1.1.0']) {
      await publishDependency({
        name: 'rs-fixture-fastouter',
        version,
        dependencies: { 'rs-fixture-fastinner': '1.0.0' },
      });
    }
    const nested = (outer: string) => ({
      dependencies: { 'rs-fixture-fastouter': outer, 'rs-fixture-fastinner': '2.0.0' },
    });
    await publish(gateway('5.0.0-fast.4', nested('1.0.0')), { registry, tag: TAG });
    await publish(gateway('5.0.0-fast.5', nested('1.1.0')), { registry, tag: TAG });
    // A changed dependency whose same.js (and its executable bin, cli.js) are byte-identical in every
    // version; 1.2.0 also rewrites its own same.js in place from a postinstall.
    for (const [version, scripts] of [
      ['1.0.0', undefined],
      ['1.1.0', undefined],
      ['1.2.0', { postinstall: 'node build.cjs' }],
    ] as const) {
      const dir = writePackage(tempDir('rs-fast-src-'), {
        'package.json': JSON.stringify({
          name: 'rs-fixture-fastsame',
          version,
          bin: { 'rs-fastsame': 'cli.js' },
          ...(scripts ? { scripts } : {}),
        }),
        'index.js': `module.exports = ${JSON.stringify(version)};\n`,
        'same.js': 'module.exports = "the same in every version";\n',
        'cli.js': '#!/usr/bin/env node\nconsole.log("fastsame");\n',
        'build.cjs': `require('node:fs').appendFileSync('same.js', '// built\\n');\n`,
      });
      chmodSync(join(dir, 'cli.js'), 0o755);
      await publish(dir, { registry });
    }
    const same = (version: string, extra: Record<string, unknown> = {}, files: Record<string, string> = {}) =>
      gateway(
        version,
        {
          dependencies: { 'rs-fixture-dep': '1.1.0', 'rs-fixture-fastsame': extra.fastsame ?? '1.0.0' },
          ...(extra.scripts ? { scripts: extra.scripts } : {}),
        },
        files,
      );
    await publish(same('5.0.0-fast.7'), { registry, tag: TAG });
    await publish(same('5.0.0-fast.8', { fastsame: '1.1.0' }), { registry, tag: TAG });
    const writesSame = `require('node:fs').appendFileSync('node_modules/rs-fixture-fastsame/same.js', '// pwned\\n');\n`;
    await publish(
      same(
        '5.0.0-fast.9',
        { fastsame: '1.1.0', scripts: { postinstall: 'node hostile.cjs' } },
        { 'hostile.cjs': writesSame },
      ),
      { registry, tag: TAG },
    );
    await publish(same('5.0.0-fast.10', { fastsame: '1.2.0' }), { registry, tag: TAG });
  }, 240_000);

  it('stages a first install equal to npm install -g, and an update that links unchanged packages equal to it too', async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    const first = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.1']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.json.result).toMatchObject({ reused: { packages: 0, files: 0, bytes: 0 }, fallback: null });
    const firstOurs = treeOf(join(root, 'releases/5.0.0-fast.1'));
    const firstNpm = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.1'));
    expect(Object.keys(firstOurs).sort()).toEqual(Object.keys(firstNpm).sort());
    expect(withoutEnvJson(firstOurs)).toEqual(withoutEnvJson(firstNpm));

    const second = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.2']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.json.result.fallback).toBeNull();
    expect(second.json.result.reused.packages).toBe(2);
    expect(second.json.result.reused.files).toBeGreaterThanOrEqual(5);
    const rel1 = join(root, 'releases/5.0.0-fast.1');
    const rel2 = join(root, 'releases/5.0.0-fast.2');
    // Linked, not copied: one inode for both releases (the linked package's script did not run again).
    expect(statSync(join(rel2, 'node_modules/rs-fixture-envdep/env.json')).ino).toBe(
      statSync(join(rel1, 'node_modules/rs-fixture-envdep/env.json')).ino,
    );
    const ours = treeOf(rel2);
    const theirs = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.2'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(withoutEnvJson(ours)).toEqual(withoutEnvJson(theirs));
    // Linking (bins included) changed nothing of the earlier, sealed release: not a mode bit.
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.1')).resolves.toMatchObject({ version: '5.0.0-fast.1' });
  }, 240_000);

  it('links the bins of a package bundled in the tarball (bundleDependencies) and runs its scripts, as npm install -g does', async () => {
    // As openclaw bundles chrome-devtools-mcp: the resolved tree does not list a bundled package, npm builds it anyway.
    const registry = inject('registryUrl');
    const tool = {
      name: 'rs-fixture-bundledtool',
      version: '1.0.0',
      bin: { 'rs-bundledtool': 'cli.js' },
      scripts: { postinstall: 'node built.cjs' },
    };
    const toolFiles = {
      'package.json': JSON.stringify(tool),
      'cli.js': '#!/usr/bin/env node\nconsole.log("bundled");\n',
      'built.cjs': "require('node:fs').writeFileSync('built.txt', 'built\\n');\n",
    };
    await publish(writePackage(tempDir('rs-fast-src-'), toolFiles), { registry });
    const src = gateway('5.0.0-fast.11', {
      dependencies: { 'rs-fixture-dep': '1.1.0', 'rs-fixture-bundledtool': '1.0.0' },
      bundleDependencies: ['rs-fixture-bundledtool'],
    });
    writePackage(join(src, 'node_modules/rs-fixture-bundledtool'), toolFiles);
    // A file with execute bits for owner and group only (as openclaw's qrcode ships): npm keeps exactly those.
    writeFileSync(join(src, 'tool-754.js'), 'module.exports = 754;\n');
    chmodSync(join(src, 'tool-754.js'), 0o754);
    await publish(src, { registry, tag: TAG });
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    const r = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.11']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.fallback).toBeNull();
    const release = join(root, 'releases/5.0.0-fast.11');
    expect(readlinkSync(join(release, 'node_modules/.bin/rs-bundledtool'))).toBe('../rs-fixture-bundledtool/cli.js');
    expect(statSync(join(release, 'node_modules/rs-fixture-bundledtool/cli.js')).mode & 0o111).toBe(0o111);
    expect(readFileSync(join(release, 'node_modules/rs-fixture-bundledtool/built.txt'), 'utf8')).toBe('built\n');
    expect(statSync(join(release, 'tool-754.js')).mode & 0o777).toBe(0o554);
    const ours = treeOf(release);
    const theirs = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.11'));
    expect(ours).toEqual(theirs);
  }, 240_000);

  it('links an unchanged package nested inside a changed one (extracted alongside), equal to npm install -g', async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    expect((await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.4'])).exitCode).toBe(0);
    const r = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.5']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.fallback).toBeNull();
    // inner 2.0.0 at the top and inner 1.0.0 inside outer are unchanged; outer itself is new.
    expect(r.json.result.reused.packages).toBe(2);
    const rel4 = join(root, 'releases/5.0.0-fast.4');
    const rel5 = join(root, 'releases/5.0.0-fast.5');
    const inner = 'node_modules/rs-fixture-fastouter/node_modules/rs-fixture-fastinner/index.js';
    expect(statSync(join(rel5, inner)).ino).toBe(statSync(join(rel4, inner)).ino);
    expect(readFileSync(join(rel5, 'node_modules/rs-fixture-fastouter/index.js'), 'utf8')).toContain('1.1.0');
    const ours = treeOf(rel5);
    const theirs = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.5'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(ours).toEqual(theirs);
  }, 240_000);

  it("gives dependency scripts npm's environment and none of the caller's secrets", async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    const r = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.1'], { env: { [SECRET]: 'hunter2' } });
    expect(r.exitCode, r.stderr).toBe(0);
    const env = JSON.parse(
      readFileSync(join(root, 'releases/5.0.0-fast.1/node_modules/rs-fixture-envdep/env.json'), 'utf8'),
    );
    expect(env[SECRET]).toBeUndefined();
    expect(Object.values(env)).not.toContain('hunter2');
    expect(env.npm_lifecycle_event).toBe('postinstall');
    expect(env.npm_package_name).toBe('rs-fixture-envdep');
    expect(env.HOME).toBeTruthy();
    // As under npm: the package's node_modules/.bin folders first, then the configured Node (default: the CLI's).
    expect(env.PATH.split(':').filter((dir: string) => !dir.includes('node_modules'))[0]).toBe(
      dirname(process.execPath),
    );
  }, 120_000);

  it("gives the package's own lifecycle scripts npm's environment and none of the caller's secrets", async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    const r = await rs(root, ['install', `rs-fixture-fastpath@${ROOT_RECORDS}`], { env: { [SECRET]: 'hunter2' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.fallback).toBeNull();
    expectNpmShaped(join(root, `releases/${ROOT_RECORDS}/root-env.json`), 'rs-fixture-fastpath');
  }, 120_000);

  it("from a .tgz file, on the fast path as from the registry: neither the dependency's scripts nor the package's own see the caller's secrets", async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    const r = await rs(root, ['install', rootRecordsTgz], { env: { [SECRET]: 'hunter2' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.fallback).toBeNull();
    expectNpmShaped(join(root, `releases/${ROOT_RECORDS}/root-env.json`), 'rs-fixture-fastpath');
    expectNpmShaped(
      join(root, `releases/${ROOT_RECORDS}/node_modules/rs-fixture-envdep/env.json`),
      'rs-fixture-envdep',
    );
  }, 120_000);

  it("on the full install (a .tgz file with a shrinkwrap) neither npm's dependency scripts nor the package's own see the caller's secrets", async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    const r = await rs(root, ['install', rootRecordsShrinkwrapTgz], { env: { [SECRET]: 'hunter2' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.fallback).toMatch(/npm-shrinkwrap\.json/);
    expectNpmShaped(join(root, `releases/${ROOT_RECORDS}/root-env.json`), 'rs-fixture-fastpath');
    expectNpmShaped(
      join(root, `releases/${ROOT_RECORDS}/node_modules/rs-fixture-envdep/env.json`),
      'rs-fixture-envdep',
    );
  }, 120_000);

  it("honours npm's ignore-scripts: no dependency or package script runs, bins are still linked, as npm install -g --ignore-scripts", async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    // fast.3: a dependency with a postinstall (writes env.json) and a package postinstall (appends to a dependency file).
    const r = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.3'], {
      env: { npm_config_ignore_scripts: 'true' },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.fallback).toBeNull();
    const rel = join(root, 'releases/5.0.0-fast.3');
    expect(() => statSync(join(rel, 'node_modules/rs-fixture-envdep/env.json'))).toThrow(/ENOENT/);
    expect(readFileSync(join(rel, 'node_modules/rs-fixture-dep/index.cjs'), 'utf8')).not.toContain('pwned');
    expect(lstatSync(join(rel, 'node_modules/.bin/rs-envdep')).isSymbolicLink()).toBe(true);
    const theirs = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.3', ['--ignore-scripts']));
    expect(treeOf(rel)).toEqual(theirs);
  }, 240_000);

  it('refuses under strict-allow-scripts as npm install -g does, and installs once allow-scripts covers the scripts', async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    // rs-fixture-envdep has a postinstall that allow-scripts does not cover: npm refuses the install.
    const prefix = tempDir('rs-fast-npm-');
    // npm 11.19's strict pre-flight lstats <prefix>/lib before anything else (ENOENT on a bare prefix).
    mkdirSync(join(prefix, 'lib'));
    await expect(
      npm(['install', '-g', '--prefix', prefix, '--strict-allow-scripts', 'rs-fixture-fastpath@5.0.0-fast.1'], {
        registry: inject('registryUrl'),
        timeout: 120_000,
      }),
    ).rejects.toThrow(/rs-fixture-envdep/);
    const refused = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.1'], {
      env: { npm_config_strict_allow_scripts: 'true' },
    });
    expect([refused.exitCode, refused.json.error.code]).toEqual([1, 'DEPENDENCY_INSTALL_FAILED']);
    expect(refused.json.error.message).toContain('rs-fixture-envdep@1.0.0');
    const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
    expect(entries(join(root, 'releases'))).toEqual([]);
    expect(entries(join(root, 'staging'))).toEqual([]);
    const allowed = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.1'], {
      env: { npm_config_strict_allow_scripts: 'true', npm_config_allow_scripts: 'rs-fixture-envdep@1.0.0' },
    });
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect(statSync(join(root, 'releases/5.0.0-fast.1/node_modules/rs-fixture-envdep/env.json')).isFile()).toBe(true);
  }, 240_000);

  it('names a package for allow-scripts by its registry identity, scope included, not by its folder', () => {
    expect(
      registryIdentity({ name: 'genai', resolved: 'https://registry.npmjs.org/@google/genai/-/genai-2.22.0.tgz' }),
    ).toBe('@google/genai');
    expect(registryIdentity({ name: 'alias', resolved: 'https://r.example/npm/foo/-/foo-1.0.0.tgz' })).toBe('foo');
    expect(registryIdentity({ name: 'n', resolved: 'https://registry.npmjs.org/@s%2fn/-/n-1.0.0.tgz' })).toBe('@s/n');
    expect(registryIdentity({ name: 'folder', resolved: null })).toBe('folder');
  });

  it('catches a postinstall that writes into a linked dependency file and falls back to a full install', async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    expect((await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.1'])).exitCode).toBe(0);
    const r = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.3']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.reused).toEqual({ packages: 0, files: 0, bytes: 0 });
    const rel3 = join(root, 'releases/5.0.0-fast.3');
    expect(statSync(join(rel3, 'node_modules/rs-fixture-dep/index.cjs')).ino).not.toBe(
      statSync(join(root, 'releases/5.0.0-fast.1/node_modules/rs-fixture-dep/index.cjs')).ino,
    );
    // The script's write landed in the new release's own copy, as under npm install -g.
    expect(readFileSync(join(rel3, 'node_modules/rs-fixture-dep/index.cjs'), 'utf8')).toContain('// pwned');
    const immutable =
      JSON.parse(readFileSync(join(root, 'releases/5.0.0-fast.1/.release-switcher.json'), 'utf8')).immutable === true;
    if (immutable) {
      // Sealed releases carry the immutable attribute (root on ext4, as in CI): the write through the
      // shared inode was refused, the script re-ran on private copies, the earlier release is intact.
      expect(r.json.result.fallback).toMatch(
        /a lifecycle script failed while files were shared with the immutable release 5\.0\.0-fast\.1/,
      );
      await expect(verifyRelease(layoutOf(root), '5.0.0-fast.1')).resolves.toMatchObject({ version: '5.0.0-fast.1' });
    } else {
      // Mode bits only: the write went through the shared inode; the moved ctime gave it away.
      expect(r.json.result.fallback).toMatch(/wrote into 1 file\(s\) shared with an earlier release/);
      // The earlier release's damage is not silent: verify-release says so.
      await expect(verifyRelease(layoutOf(root), '5.0.0-fast.1')).rejects.toThrow(/index\.cjs/);
    }
  }, 240_000);

  /** Entries of a release whose recorded fingerprint no longer matches the inode (each costs a re-hash at activation). */
  async function staleFingerprints(root: string, version: string): Promise<string[]> {
    const record = await readFingerprints(layoutOf(root), version);
    expect(record, `fingerprints of ${version}`).toBeDefined();
    return Object.entries(record!.entries)
      .filter(
        ([rel, fingerprint]) =>
          fingerprintOf(lstatSync(join(root, 'releases', version, rel), { bigint: true })) !== fingerprint,
      )
      .map(([rel]) => rel);
  }

  it("after an adopted release (npm install -g keeps no tree record in the package), links the files it holds byte for byte as they are extracted, no package whole; the release is npm's", async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    const adopted = await rs(root, ['init', '--adopt', await npmGlobal('rs-fixture-fastpath@5.0.0-fast.7')]);
    expect(adopted.exitCode, adopted.stdout + adopted.stderr).toBe(0);
    const rel7 = join(root, 'releases/5.0.0-fast.7');
    expect(existsSync(join(rel7, 'node_modules/.package-lock.json')), 'adopted without a tree record').toBe(false);
    const r = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.8']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.fallback).toBeNull();
    // No record says which packages are unchanged: none is linked whole (rs-fixture-dep 1.1.0 is extracted too) ...
    expect(r.json.result.reused.packages).toBe(0);
    // ... but what the adopted release's manifest holds byte for byte is linked, not written.
    expect(r.stderr).toMatch(
      /new packages extracted from the npm cache \(\d+ files; [1-9]\d* of them, \d+ bytes, identical to the previous release and linked to it;/,
    );
    const rel8 = join(root, 'releases/5.0.0-fast.8');
    for (const same of ['node_modules/rs-fixture-fastsame/same.js', 'node_modules/rs-fixture-dep/index.cjs'])
      expect(statSync(join(rel8, same)).ino, same).toBe(statSync(join(rel7, same)).ino);
    expect(readFileSync(join(rel8, 'node_modules/rs-fixture-fastsame/index.js'), 'utf8')).toContain('1.1.0');
    const ours = treeOf(rel8);
    const theirs = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.8'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(ours).toEqual(theirs);
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.7')).resolves.toMatchObject({ version: '5.0.0-fast.7' });
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.8')).resolves.toMatchObject({ version: '5.0.0-fast.8' });
  }, 240_000);

  it("links a changed package's files identical to the previous release's as they are extracted; the earlier release's fingerprints still hold", async () => {
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    expect((await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.7'])).exitCode).toBe(0);
    expect(await staleFingerprints(root, '5.0.0-fast.7')).toEqual([]);
    const r = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.8']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.fallback).toBeNull();
    // rs-fixture-dep is unchanged (reused); rs-fixture-fastsame changed 1.0.0 → 1.1.0 (extracted).
    expect(r.json.result.reused.packages).toBe(1);
    expect(r.stderr).toMatch(
      /new packages extracted from the npm cache \(\d+ files; [1-9]\d* of them, \d+ bytes, identical to the previous release and linked to it; \d+ packages fetched into it while the tree resolved\)/,
    );
    const rel7 = join(root, 'releases/5.0.0-fast.7');
    const rel8 = join(root, 'releases/5.0.0-fast.8');
    const pkg = 'node_modules/rs-fixture-fastsame';
    expect(statSync(join(rel8, `${pkg}/same.js`)).ino).toBe(statSync(join(rel7, `${pkg}/same.js`)).ino);
    expect(readFileSync(join(rel8, `${pkg}/index.js`), 'utf8')).toContain('1.1.0');
    // The bin target was made executable by bin-links on a private copy, never through the shared inode.
    expect(statSync(join(rel8, `${pkg}/cli.js`)).mode & 0o777).toBe(0o555);
    const ours = treeOf(rel8);
    const theirs = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.8'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(ours).toEqual(theirs);
    // Every inode of the earlier release linked to (reused and extracted alike) had its fingerprint carried.
    expect(await staleFingerprints(root, '5.0.0-fast.7')).toEqual([]);
    // Where releases are immutable, the new one is whole, though its files linked to the earlier
    // release's inodes were not given the attribute a second time.
    if (JSON.parse(readFileSync(join(rel8, '.release-switcher.json'), 'utf8')).immutable === true) {
      expect(await mutableEntries(rel8)).toEqual([]);
      expect(await mutableEntries(rel7)).toEqual([]);
    }
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.7')).resolves.toMatchObject({ version: '5.0.0-fast.7' });
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.8')).resolves.toMatchObject({ version: '5.0.0-fast.8' });
  }, 240_000);

  it('gives a changed package that runs an install script private copies: its postinstall rewriting its own file does not touch the earlier release', async () => {
    const { root, r } = await updateFrom7('5.0.0-fast.10');
    expect(r.json.result.fallback).toBeNull();
    const same = 'node_modules/rs-fixture-fastsame/same.js';
    expect(readFileSync(join(root, 'releases/5.0.0-fast.10', same), 'utf8')).toContain('// built');
    expect(readFileSync(join(root, 'releases/5.0.0-fast.7', same), 'utf8')).not.toContain('// built');
    expect(treeOf(join(root, 'releases/5.0.0-fast.10'))).toEqual(
      treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.10')),
    );
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.7')).resolves.toMatchObject({ version: '5.0.0-fast.7' });
  }, 240_000);

  it("catches a postinstall that writes into a changed package's file linked to the previous release as it was extracted", async () => {
    const { root, r } = await updateFrom7('5.0.0-fast.9');
    expect(r.json.result.reused).toEqual({ packages: 0, files: 0, bytes: 0 });
    const same = 'node_modules/rs-fixture-fastsame/same.js';
    const rel7 = join(root, 'releases/5.0.0-fast.7');
    const rel9 = join(root, 'releases/5.0.0-fast.9');
    expect(statSync(join(rel9, same)).ino).not.toBe(statSync(join(rel7, same)).ino);
    expect(readFileSync(join(rel9, same), 'utf8')).toContain('// pwned');
    const immutable = JSON.parse(readFileSync(join(rel7, '.release-switcher.json'), 'utf8')).immutable === true;
    if (immutable) {
      expect(r.json.result.fallback).toMatch(
        /a lifecycle script failed while files were shared with the immutable release 5\.0\.0-fast\.7/,
      );
      expect(readFileSync(join(rel7, same), 'utf8')).not.toContain('// pwned');
      await expect(verifyRelease(layoutOf(root), '5.0.0-fast.7')).resolves.toMatchObject({ version: '5.0.0-fast.7' });
    } else {
      expect(r.json.result.fallback).toMatch(/wrote into 1 file\(s\) shared with an earlier release/);
      await expect(verifyRelease(layoutOf(root), '5.0.0-fast.7')).rejects.toThrow(/same\.js/);
    }
  }, 240_000);
  /** Many small files, so that the package unpacks for seconds after its tree is known. */
  const MANY = 12_000;
  // Each with content of its own: the unpacker refuses a tarball of many near-empty entries (an entry bomb).
  const manyFiles = () =>
    Array.from({ length: MANY }, (_, i) => ({
      path: `package/dist/f${i}.js`,
      content: `module.exports = ${JSON.stringify(createHash('sha512').update(String(i)).digest('hex'))};\n`,
    }));
  const sameDeps = { 'rs-fixture-dep': '1.1.0', 'rs-fixture-fastsame': '1.1.0' };
  /** Publishes a tarball made entry by entry (npm pack would refuse or drop what these carry). */
  async function publishEntries(version: string, entries: TarEntry[]): Promise<void> {
    const manifest = { name: 'rs-fixture-fastpath', version, main: 'server.js', dependencies: sameDeps };
    const tgz = join(tempDir('rs-fast-tgz-'), `${version}.tgz`);
    writeFileSync(
      tgz,
      encodeTarball([
        { path: 'package/package.json', content: `${JSON.stringify(manifest, null, 2)}\n` },
        { path: 'package/server.js', content: `console.log(${JSON.stringify(version)});\n` },
        ...entries,
      ]),
    );
    await publish(tgz, { registry: inject('registryUrl'), tag: TAG });
  }
  const progressAt = (r: { stderr: string }, pattern: RegExp) => r.stderr.split('\n').findIndex((l) => pattern.test(l));

  it('places the dependencies while a large package still unpacks; the release equals npm install -g', async () => {
    await publishEntries('5.0.0-fast.12', manyFiles());
    const { root, r } = await updateFrom7('5.0.0-fast.12');
    expect(r.json.result.fallback).toBeNull();
    // rs-fixture-dep linked from fast.7, rs-fixture-fastsame 1.1.0 extracted: both beside the package, before its unpack ended.
    expect(r.json.result.reused.packages).toBe(1);
    const placing = progressAt(r, /reuse: placing 2 dependencies while the package unpacks/);
    const unpacked = progressAt(r, new RegExp(`extract: extracted ${MANY + 2}/${MANY + 2} files`));
    expect(placing, r.stderr).toBeGreaterThanOrEqual(0);
    expect(unpacked, r.stderr).toBeGreaterThan(placing);
    expect(readdirSync(join(root, 'staging'))).toEqual([]);
    const rel12 = join(root, 'releases/5.0.0-fast.12');
    const rel7 = join(root, 'releases/5.0.0-fast.7');
    const dep = 'node_modules/rs-fixture-dep/package.json';
    expect(statSync(join(rel12, dep)).ino).toBe(statSync(join(rel7, dep)).ino);
    const ours = treeOf(rel12);
    const theirs = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.12'));
    expect(Object.keys(ours).length).toBeGreaterThan(MANY);
    expect(ours).toEqual(theirs);
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.12')).resolves.toMatchObject({ version: '5.0.0-fast.12' });
  }, 240_000);

  it('refuses a package whose tarball turns out unsafe after its dependencies were placed beside it: nothing left, the earlier release whole', async () => {
    // The unsafe entry comes last: the tree is known and its packages placed (linked from fast.7) long before it.
    await publishEntries('5.0.0-fast.13', [...manyFiles(), { path: 'package/../escape.txt', content: 'escaped\n' }]);
    const root = await fixtureRoot(['--package', 'rs-fixture-fastpath']);
    expect((await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.7'])).exitCode).toBe(0);
    const r = await rs(root, ['install', 'rs-fixture-fastpath@5.0.0-fast.13']);
    expect([r.exitCode, r.json.error.code], r.stdout + r.stderr).toEqual([1, 'BAD_TARBALL']);
    expect(progressAt(r, /reuse: placing 2 dependencies while the package unpacks/), r.stderr).toBeGreaterThanOrEqual(
      0,
    );
    expect(readdirSync(join(root, 'staging'))).toEqual([]);
    expect(readdirSync(join(root, 'releases'))).toEqual(['5.0.0-fast.7']);
    expect(existsSync(join(root, 'escape.txt'))).toBe(false);
    expect(existsSync(join(root, 'staging/escape.txt'))).toBe(false);
    const rel7 = join(root, 'releases/5.0.0-fast.7');
    // The links made into fast.7 went with the staging folder (the one other name left is the store's, which
    // fast.7's own staging gave it), and its inodes got their attribute back.
    const depJson = join(rel7, 'node_modules/rs-fixture-dep/package.json');
    const depSha = createHash('sha256').update(readFileSync(depJson)).digest('hex');
    expect(lstatSync(depJson).nlink).toBe(2);
    expect(lstatSync(layoutOf(root).storeFile(depSha, 0o444)).ino).toBe(lstatSync(depJson).ino);
    if (JSON.parse(readFileSync(join(rel7, '.release-switcher.json'), 'utf8')).immutable === true)
      expect(await mutableEntries(rel7)).toEqual([]);
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.7')).resolves.toMatchObject({ version: '5.0.0-fast.7' });
    // Only the inodes that were linked to (their attribute cleared and set again) show a new ctime; the
    // rest of fast.7 (its folders, its own files) was left alone and keeps its fingerprints.
    // (Linked to: rs-fixture-dep, unchanged, and those files of rs-fixture-fastsame 1.1.0 that 1.0.0 holds byte for byte.)
    const neverLinked = (rel: string) =>
      !rel.startsWith('node_modules/') ||
      lstatSync(join(rel7, rel)).isDirectory() ||
      ['index.js', 'package.json', 'cli.js'].some((name) => rel === `node_modules/rs-fixture-fastsame/${name}`);
    const stale = await staleFingerprints(root, '5.0.0-fast.7');
    expect(stale.filter(neverLinked)).toEqual([]);
  }, 240_000);

  it('falls back to npm when the tarball carries, undeclared, a package its tree places: nothing placed beside is kept', async () => {
    // npm pack never ships node_modules/ outside bundleDependencies; another packer may. npm lays the tree's copy over it.
    await publishEntries('5.0.0-fast.14', [
      {
        path: 'package/node_modules/rs-fixture-dep/package.json',
        content: '{"name":"rs-fixture-dep","version":"1.1.0"}\n',
      },
      { path: 'package/node_modules/rs-fixture-dep/stray.txt', content: 'packed along\n' },
    ]);
    const { root, r } = await updateFrom7('5.0.0-fast.14');
    expect(r.json.result.fallback).toBe(
      "the package's tarball brings node_modules/rs-fixture-dep, where its tree places a dependency",
    );
    expect(readdirSync(join(root, 'staging'))).toEqual([]);
    const rel14 = join(root, 'releases/5.0.0-fast.14');
    expect(JSON.parse(readFileSync(join(rel14, 'node_modules/rs-fixture-dep/package.json'), 'utf8')).version).toBe(
      '1.1.0',
    );
    expect(existsSync(join(rel14, 'node_modules/rs-fixture-fastsame/index.js'))).toBe(true);
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.14')).resolves.toMatchObject({ version: '5.0.0-fast.14' });
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.7')).resolves.toMatchObject({ version: '5.0.0-fast.7' });
  }, 240_000);

  it("fetches the new dependencies' tarballs into npm's cache while the tree resolves, a guess the tree does not take included, never one for another platform; the release equals npm install -g", async () => {
    const registry = inject('registryUrl');
    // Names no other test fetches: this file's npm cache has never held them.
    for (const version of ['1.0.0', '1.1.0']) await publishDependency({ name: 'rs-fixture-aheadx', version });
    // An optional package for another platform: npm drops it, and it is never fetched.
    await publishDependency({ name: 'rs-fixture-aheadwin', version: '1.0.0', os: ['win32'] });
    await publishDependency({
      name: 'rs-fixture-aheady',
      version: '1.0.0',
      dependencies: { 'rs-fixture-aheadx': '^1.0.0' },
      optionalDependencies: { 'rs-fixture-aheadwin': '1.0.0' },
    });
    // aheady's ^1.0.0 is guessed as aheadx's latest, 1.1.0; arborist dedupes it onto the 1.0.0 the package pins.
    const dependencies = {
      'rs-fixture-dep': '1.1.0',
      'rs-fixture-fastsame': '1.0.0',
      'rs-fixture-aheadx': '1.0.0',
      'rs-fixture-aheady': '1.0.0',
    };
    await publish(gateway('5.0.0-fast.15', { dependencies }), { registry, tag: TAG });
    const { root, r } = await updateFrom7('5.0.0-fast.15');
    expect(r.json.result.fallback).toBeNull();
    expect(r.json.result.reused.packages).toBe(2);
    expect(r.stderr).toMatch(
      /extract: 2 new packages extracted from the npm cache \(.*; 2 packages fetched into it while the tree resolved\)/,
    );
    const rel15 = join(root, 'releases/5.0.0-fast.15');
    expect(JSON.parse(readFileSync(join(rel15, 'node_modules/rs-fixture-aheadx/package.json'), 'utf8')).version).toBe(
      '1.0.0',
    );
    expect(existsSync(join(rel15, 'node_modules/rs-fixture-aheady/node_modules'))).toBe(false);
    // The wrong guess was fetched too (only the fetch ahead ever asks for 1.1.0), into the cache and nowhere else.
    const wrong = (await npm(['view', 'rs-fixture-aheadx@1.1.0', 'dist.integrity'], { registry })).stdout.trim();
    const cache = `${cliEnv().npm_config_cache}/_cacache`;
    expect(await cacache.get.hasContent(cache, wrong)).toBeTruthy();
    const win = (await npm(['view', 'rs-fixture-aheadwin@1.0.0', 'dist.integrity'], { registry })).stdout.trim();
    expect(await cacache.get.hasContent(cache, win)).toBe(false);
    expect(existsSync(join(rel15, 'node_modules/rs-fixture-aheadwin'))).toBe(false);
    expect(readdirSync(join(root, 'staging'))).toEqual([]);
    const ours = treeOf(rel15);
    const theirs = treeOf(await npmGlobal('rs-fixture-fastpath@5.0.0-fast.15'));
    expect(ours).toEqual(theirs);
    await expect(verifyRelease(layoutOf(root), '5.0.0-fast.15')).resolves.toMatchObject({ version: '5.0.0-fast.15' });
  }, 240_000);
});
