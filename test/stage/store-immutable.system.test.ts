// The content-addressed store on a root whose releases carry the immutable attribute (root, ext4): a store file
// shares its inode with the releases, so it is immutable as they are; staging links from it (lifting the attribute
// on exactly those inodes for the moment) without leaving an earlier release's fingerprints stale; prune lifts it on
// the store files it removes; every release stays immutable throughout.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, expect, inject, it } from 'vitest';
import { canSetImmutable, describeWhere } from '../support/skip.ts';
import { fixtureRoot, rs, tempDir } from '../support/cli.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';
import {
  type StoreFixture,
  inodesOf,
  installApp,
  integrityIn,
  npmTree,
  publishMainFixture,
  publishStoreFixture,
} from '../support/store-fixtures.ts';
import { treeOf } from '../support/root.ts';
import { npm } from '../support/registry.ts';
import { setImmutablePaths } from '../../src/platform/immutable.ts';
import { fingerprintOf, readFingerprints } from '../../src/store/fingerprints.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { holdsAll, readIndex } from '../../src/store/content-store.ts';
import { checkStore } from '../../src/store/store-verify.ts';

runThisFileAsRoot(
  "the immutable attribute (chattr +i) needs CAP_LINUX_IMMUTABLE: root's releases and store are the subject",
);

const can = await canSetImmutable(() => tempDir());

const flags = (path: string) => execFileSync('lsattr', ['-d', path], { encoding: 'utf8' }).split(' ')[0]!;

let fx: StoreFixture;
let svc: string;
let npmCache: string;

describeWhere(can, 'the store on an immutable root (root, ext4)', () => {
  beforeAll(async () => {
    npmCache = join(tempDir('rs-casi-npmcache-', null), 'cache');
    fx = await publishStoreFixture('rs-fixture-casi');
    svc = await publishMainFixture('rs-fixture-casi', fx);
  }, 120_000);

  it('store files are the releases’ immutable inodes; linking from them keeps every release immutable and its fingerprints current', async () => {
    const root = await fixtureRoot(['--package', fx.app]);
    const layout = layoutOf(root);
    for (const v of ['1.0.0', '1.1.0']) await installApp(root, `${fx.app}@${v}`);
    const index = (await readIndex(layout, integrityIn(root, '1.0.0', fx.a)))!;
    const stored = layout.storeFile(index.files['index.js']!.sha256, index.files['index.js']!.mode);
    expect(flags(stored)).toContain('i');
    expect(() => writeFileSync(stored, 'owned')).toThrow(expect.objectContaining({ code: 'EPERM' }));
    // 1.2.0 takes a@1.0.0 from the store, whose inodes are immutable (1.0.0 links them).
    const r = await installApp(root, `${fx.app}@1.2.0`);
    expect(r.json.result.reused.store).toMatchObject({ packages: 1, copied: 0 });
    expect(inodesOf(root, '1.2.0', fx.a).filter(([rel]) => rel !== 'empty.txt')).toEqual(
      inodesOf(root, '1.0.0', fx.a).filter(([rel]) => rel !== 'empty.txt'),
    );
    expect(flags(stored)).toContain('i');
    expect(treeOf(join(root, 'releases', '1.2.0'))).toEqual(await npmTree(fx.app, '1.2.0', npmCache));
    // 1.0.0's fingerprints of the inodes 1.2.0 linked to were carried past the attribute's lifting and setting.
    const record = (await readFingerprints(layout, '1.0.0'))!;
    for (const [rel] of inodesOf(root, '1.0.0', fx.a)) {
      const path = `node_modules/${fx.a}/${rel}`;
      expect(record.entries[path], path).toBe(
        fingerprintOf(lstatSync(join(root, 'releases/1.0.0', path), { bigint: true })),
      );
    }
    const doctor = await rs(root, ['doctor']);
    const check = (name: string) => doctor.json.result.checks.find((c: { name: string }) => c.name === name);
    expect(check('immutable')).toMatchObject({ ok: true, detail: '3 release(s) immutable' });
    expect(check('manifests')).toMatchObject({ ok: true });
    expect(check('store')).toMatchObject({ ok: true });
    expect((await rs(root, ['switch', '1.2.0'])).exitCode).toBe(0);
  });

  it('prune lifts the attribute on the store files no release links any more, and removes them', async () => {
    const root = await fixtureRoot(['--package', fx.app]);
    const layout = layoutOf(root);
    for (const v of ['1.0.0', '1.1.0']) await installApp(root, `${fx.app}@${v}`);
    expect((await rs(root, ['switch', '1.1.0'])).exitCode).toBe(0);
    const index = (await readIndex(layout, integrityIn(root, '1.0.0', fx.a)))!;
    const only100 = layout.storeFile(index.files['index.js']!.sha256, index.files['index.js']!.mode);
    // A store file left immutable with no other name (as a release removed behind our back would leave it).
    const stray = layout.storeFile('f'.repeat(64), 0o444);
    mkdirSync(dirname(stray), { recursive: true });
    writeFileSync(stray, 'stray', { mode: 0o444 });
    expect(await setImmutablePaths([stray], true)).toBeUndefined();
    const r = await rs(root, ['prune', '--keep', '0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.removed).toEqual(['1.0.0']);
    expect(existsSync(only100)).toBe(false);
    expect(existsSync(stray)).toBe(false);
    expect((await checkStore(layout, { all: true })).problems).toEqual([]);
    const doctor = await rs(root, ['doctor']);
    expect(doctor.json.result.checks.find((c: { name: string }) => c.name === 'immutable')).toMatchObject({ ok: true });
    // What 1.1.0 shares with the store is still immutable.
    const kept = (await readIndex(layout, integrityIn(root, '1.1.0', fx.a)))!;
    expect(flags(layout.storeFile(kept.files['index.js']!.sha256, kept.files['index.js']!.mode))).toContain('i');
  });

  /** `svc@version` staged and sealed, its install killed before it became a release (recovered): the store has its tarball. */
  async function leftInStore(root: string, version: string): Promise<{ integrity: string; lib: string }> {
    const killed = await rs(root, ['install', `${svc}@${version}`], {
      env: { RELEASE_SWITCHER_CRASH_AT: 'install:sealed' },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect((await rs(root, ['recover'])).exitCode).toBe(0);
    const integrity = (
      await npm(['view', `${svc}@${version}`, 'dist.integrity'], { registry: inject('registryUrl'), cache: npmCache })
    ).stdout.trim();
    const layout = layoutOf(root);
    const index = (await readIndex(layout, integrity, true))!;
    expect(holdsAll(layout, index)).toBe(true);
    return { integrity, lib: layout.storeFile(index.files['lib.js']!.sha256, index.files['lib.js']!.mode) };
  }

  /** The store's lib.js is `holder`'s immutable inode. */
  function expectHeldBy(lib: string, root: string, holder: string): void {
    expect(flags(lib)).toContain('i');
    expect(lstatSync(lib).ino).toBe(lstatSync(join(root, 'releases', holder, 'lib.js')).ino);
  }

  async function expectSound(root: string, releases: number, holder = '1.0.0'): Promise<void> {
    // Every release is immutable, nothing left in staging, the store whole.
    const doctor = await rs(root, ['doctor']);
    expect(doctor.json.result.checks.find((c: { name: string }) => c.name === 'immutable')).toMatchObject({
      ok: true,
      detail: `${releases} release(s) immutable`,
    });
    expect(doctor.json.result.checks.find((c: { name: string }) => c.name === 'staging')).toMatchObject({ ok: true });
    expect((await checkStore(layoutOf(root), { all: true })).problems).toEqual([]);
    // The holder's fingerprint of lib.js was carried past the attribute's lifting and setting.
    const record = (await readFingerprints(layoutOf(root), holder))!;
    expect(record.entries['lib.js']).toBe(
      fingerprintOf(lstatSync(join(root, 'releases', holder, 'lib.js'), { bigint: true })),
    );
  }

  it('a main package whose store files include a sealed release’s immutable inodes: those are linked with the attribute lifted for the moment, as the rest; its own postinstall may remove its other files', async () => {
    const root = await fixtureRoot(['--package', svc]);
    await installApp(root, `${svc}@1.0.0`);
    const { lib } = await leftInStore(root, '1.1.0');
    expectHeldBy(lib, root, '1.0.0');
    const r = await installApp(root, `${svc}@1.1.0`);
    expect(r.stderr).toMatch(/nothing downloaded or unpacked/);
    expect(r.stderr).not.toMatch(/download: fetching/);
    expect(r.stderr).not.toMatch(/files copied from it instead/);
    expect(r.json.result.reused.store).toMatchObject({ copied: 0 });
    expect(r.json.result.fallback).toBeNull();
    const release = join(root, 'releases', '1.1.0');
    // One inode for lib.js in both releases and the store, immutable still.
    expect(lstatSync(join(release, 'lib.js')).ino).toBe(lstatSync(lib).ino);
    expect(flags(lib)).toContain('i');
    expect(existsSync(join(release, '.pending'))).toBe(false);
    expect(treeOf(release)).toEqual(await npmTree(svc, '1.1.0', npmCache));
    await expectSound(root, 2);
  });

  it('a postinstall that removes a main package’s file an earlier release keeps (its immutable inode, linked from the store): the fast path is given up for a full install, the release is npm’s tree', async () => {
    const root = await fixtureRoot(['--package', svc]);
    // Staged before any release held lib.js (as an older release-switcher also stored it): 1.4.0's tarball in the
    // store; then 1.1.0, linked from the store, makes that lib.js its own, immutable inode.
    const { lib } = await leftInStore(root, '1.4.0');
    await leftInStore(root, '1.1.0');
    expect((await installApp(root, `${svc}@1.1.0`)).stderr).toMatch(/nothing downloaded or unpacked/);
    expectHeldBy(lib, root, '1.1.0');
    const r = await installApp(root, `${svc}@1.4.0`);
    expect(r.stderr).toMatch(/nothing downloaded or unpacked/);
    expect(r.json.result.fallback).toMatch(
      /^a lifecycle script failed while files were shared with the immutable release 1\.1\.0 /,
    );
    const release = join(root, 'releases', '1.4.0');
    expect(existsSync(join(release, 'lib.js'))).toBe(false);
    expect(treeOf(release)).toEqual(await npmTree(svc, '1.4.0', npmCache));
    // 1.1.0's lib.js is untouched: its inode, immutable, still the store's.
    expectHeldBy(lib, root, '1.1.0');
    await expectSound(root, 2, '1.1.0');
  });

  it('unpacked afresh, the package’s own files an immutable earlier release holds byte for byte are linked to it, not written', async () => {
    const root = await fixtureRoot(['--package', svc]);
    await installApp(root, `${svc}@1.0.0`);
    const lib100 = join(root, 'releases/1.0.0/lib.js');
    const r = await installApp(root, `${svc}@1.1.0`);
    expect(r.stderr).toMatch(/download: fetching/);
    // lib.js and post.js are 1.0.0's bytes (the bundled package's files are left to dedupe, package.json to npm).
    expect(r.stderr).toMatch(/extract: 2 of the package's own files \(\d+ bytes\) linked to releases\/1\.0\.0/);
    expect(r.json.result.fallback).toBeNull();
    const release = join(root, 'releases', '1.1.0');
    expect(lstatSync(join(release, 'lib.js')).ino).toBe(lstatSync(lib100).ino);
    expect(lstatSync(join(release, 'post.js')).ino).toBe(lstatSync(join(root, 'releases/1.0.0/post.js')).ino);
    expect(flags(lib100)).toContain('i');
    expect(treeOf(release)).toEqual(await npmTree(svc, '1.1.0', npmCache));
    await expectSound(root, 2);
  });

  it('unpacked afresh, a postinstall that removes a file linked to the immutable earlier release falls back to a full install on private files', async () => {
    const root = await fixtureRoot(['--package', svc]);
    await installApp(root, `${svc}@1.0.0`);
    const lib100 = join(root, 'releases/1.0.0/lib.js');
    const before = lstatSync(lib100).ino;
    const r = await installApp(root, `${svc}@1.4.0`);
    expect(r.stderr).toMatch(/linked to releases\/1\.0\.0, which holds them byte for byte/);
    expect(r.json.result.fallback).toMatch(
      /^a lifecycle script failed while files were shared with the immutable release 1\.0\.0 /,
    );
    const release = join(root, 'releases', '1.4.0');
    expect(existsSync(join(release, 'lib.js'))).toBe(false);
    expect(treeOf(release)).toEqual(await npmTree(svc, '1.4.0', npmCache));
    expect(lstatSync(lib100).ino).toBe(before);
    expect(flags(lib100)).toContain('i');
    await expectSound(root, 2);
  });
});
