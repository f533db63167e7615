// install: registry specs, lifecycle with the configured Node, sealing, manifest, dedupe, idempotence.
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { cli, fixtureRoot, rs, tempDir } from '../support/cli.ts';
import { inode, linkOf, releaseDirs, stagingEntries, writablePaths } from '../support/root.ts';
import type { Step } from '../../src/model/state.ts';
import type { ManifestEntry } from '../../src/store/manifest.ts';

describe('install', () => {
  it('installs an exact version from the registry with its dependencies and lifecycle scripts, run by the configured Node', async () => {
    const nodeDir = tempDir('rs-node-');
    const node = join(nodeDir, 'node');
    copyFileSync(process.execPath, node); // a distinct path, so the test can tell which Node ran the scripts
    const root = await fixtureRoot(['--node', node]);
    const r = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      result: { version: '1.0.0', path: join(root, 'releases/1.0.0'), alreadyInstalled: false },
    });
    expect(r.json.result.integrity).toMatch(/^sha512-/);
    const rel = join(root, 'releases/1.0.0');
    expect(readFileSync(join(rel, 'postinstall-ran.txt'), 'utf8').trim()).toBe(node);
    expect(existsSync(join(rel, '.lifecycle-pending'))).toBe(false);
    expect(existsSync(join(rel, 'node_modules/rs-fixture-dep/built.txt'))).toBe(true);
    expect(linkOf(root, 'current')).toBeNull(); // install never touches current
    expect(stagingEntries(root)).toEqual([]);
  });

  it('seals the release: no write bits anywhere, and a manifest of every file', async () => {
    const root = await fixtureRoot();
    expect((await rs(root, ['install', 'rs-fixture-gateway@1.0.0'])).exitCode).toBe(0);
    const rel = join(root, 'releases/1.0.0');
    expect(writablePaths(rel)).toEqual([]);
    const marker = JSON.parse(readFileSync(join(rel, '.release-switcher.json'), 'utf8'));
    expect(marker).toMatchObject({ name: 'rs-fixture-gateway', version: '1.0.0', layoutVersion: 1 });
    const server = marker.files.find((f: ManifestEntry) => f.path === 'server.js');
    expect(server.type).toBe('file');
    expect(server.mode & 0o222).toBe(0);
    expect(server.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(marker.files.some((f: ManifestEntry) => f.path === 'node_modules/rs-fixture-dep/package.json')).toBe(true);
  });

  it('resolves dist-tags, ranges and bare versions of the managed package', async () => {
    const root = await fixtureRoot();
    const tags = inject('fixtures').distTags['rs-fixture-gateway']!;
    expect((await rs(root, ['install', 'rs-fixture-gateway@latest'])).json.result.version).toBe(tags.latest);
    expect((await rs(root, ['install', 'rs-fixture-gateway@beta'])).json.result.version).toBe(tags.beta);
    expect((await rs(root, ['install', 'rs-fixture-gateway@~1.1.0'])).json.result.version).toBe('1.1.0');
    const bare = await rs(root, ['install', '1.1.0']);
    expect(bare.json.result).toMatchObject({ version: '1.1.0', alreadyInstalled: true });
    expect(releaseDirs(root)).toEqual([tags.beta, '1.1.0', tags.latest].sort());
  });

  it('installs a local tarball path', async () => {
    const root = await fixtureRoot();
    const tarball = inject('fixtures').tarballs['rs-fixture-gateway@1.1.0']!;
    const r = await rs(root, ['install', tarball]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ version: '1.1.0', alreadyInstalled: false });
  });

  it('shares identical files with the earlier release by hardlink and leaves the earlier release intact', async () => {
    const root = await fixtureRoot();
    expect((await rs(root, ['install', 'rs-fixture-gateway@1.0.0'])).exitCode).toBe(0);
    expect((await rs(root, ['switch', '1.0.0'])).exitCode).toBe(0);
    expect((await rs(root, ['install', 'rs-fixture-gateway@1.1.0'])).exitCode).toBe(0);
    const a = join(root, 'releases/1.0.0');
    const b = join(root, 'releases/1.1.0');
    // Reusing 1.0.0's dependencies must not change resolution: 1.1.0 gets the dep a fresh install gets.
    expect(JSON.parse(readFileSync(join(b, 'node_modules/rs-fixture-dep/package.json'), 'utf8')).version).toBe('1.1.0');
    // A file whose content did not change between the versions is one inode.
    const markerA = JSON.parse(readFileSync(join(a, '.release-switcher.json'), 'utf8'));
    const markerB = JSON.parse(readFileSync(join(b, '.release-switcher.json'), 'utf8'));
    const same = markerB.files.filter(
      (f: ManifestEntry) =>
        f.type === 'file' &&
        f.size > 0 &&
        markerA.files.some(
          (g: ManifestEntry) => g.type === 'file' && g.path === f.path && g.sha256 === f.sha256 && g.mode === f.mode,
        ),
    );
    expect(same.length).toBeGreaterThan(0);
    for (const f of same) expect([f.path, inode(join(a, f.path))]).toEqual([f.path, inode(join(b, f.path))]);
    expect(statSync(join(b, same[0].path)).nlink).toBeGreaterThanOrEqual(2);
    // The earlier release still matches its manifest: switching back re-verifies it.
    expect((await rs(root, ['switch', '1.1.0'])).exitCode).toBe(0);
    const back = await rs(root, ['switch', '1.0.0']);
    expect(back.exitCode, back.stdout).toBe(0);
    expect(back.json.result.steps.find((s: Step) => s.name === 'verify-release').status).toBe('ok');
  });

  it('installing an installed version is a no-op', async () => {
    const root = await fixtureRoot();
    const first = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
    const rel = join(root, 'releases/1.0.0');
    const before = statSync(join(rel, 'server.js')).ino;
    const again = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
    expect(again.exitCode).toBe(0);
    expect(again.json.result).toEqual({ ...first.json.result, alreadyInstalled: true });
    expect(statSync(join(rel, 'server.js')).ino).toBe(before);
  });
});

describe('install, as npm install -g would', () => {
  it('ignores devDependencies entirely, even one that exists on no registry', async () => {
    const root = await fixtureRoot();
    const r = await rs(root, ['install', 'rs-fixture-gateway@1.2.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const pkg = JSON.parse(readFileSync(join(root, 'releases/1.2.0/package.json'), 'utf8'));
    expect(pkg.devDependencies).toEqual({ 'rs-fixture-no-such-dev-dep': '^1.0.0' }); // package.json kept as published
    expect(existsSync(join(root, 'releases/1.2.0/node_modules/rs-fixture-no-such-dev-dep'))).toBe(false);
  });
});

describe('dry runs', () => {
  it('install --dry-run and update --dry-run say what, from where and how big, and change nothing', async () => {
    const root = await fixtureRoot();
    const plan = await rs(root, ['install', 'rs-fixture-gateway@1.1.0', '--dry-run']);
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
    expect(plan.json.result).toMatchObject({
      dryRun: true,
      version: '1.1.0',
      alreadyInstalled: false,
      dependencies: 1,
      current: null,
    });
    expect(plan.json.result.from).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/rs-fixture-gateway\/-\/rs-fixture-gateway-1\.1\.0\.tgz$/,
    );
    expect(plan.json.result.integrity).toMatch(/^sha512-/);
    expect(plan.json.result.tarballSize).toBeGreaterThan(0);
    expect(releaseDirs(root)).toEqual([]);
    const update = await rs(root, ['update', '--dry-run']);
    expect(update.json.result).toMatchObject({ dryRun: true, version: '1.2.0', wouldSwitch: true });
    const human = await cli(['--root', root, 'update', '--dry-run']);
    expect(human.stdout).toMatch(/would install 1\.2\.0 \(\d+\.\d MiB to download/);
    expect(human.stdout).toMatch(/then switch \(none\) → 1\.2\.0/);
    expect(releaseDirs(root)).toEqual([]);
  });
});
