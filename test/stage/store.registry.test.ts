// The content-addressed store against real parts (Verdaccio, the built CLI as the suite's account, npm itself): a
// package the previous release lacks is hard-linked from the store and the release equals npm's tree; a version
// re-staged after a prune links from it; prune collects only what no release links; a tampered store file is found
// by doctor and refused at activation; a store on another filesystem degrades to copies; kill -9 at every step of
// a store write and of a collection leaves a consistent store.
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureRoot, rs, tempDir } from '../support/cli.ts';
import { defaultTestAccount } from '../support/accounts.ts';
import {
  type StoreFixture,
  inodesOf,
  installApp,
  integrityIn,
  npmTree as npmTreeOf,
  publishMainFixture,
  publishStoreFixture,
} from '../support/store-fixtures.ts';
import { treeOf } from '../support/root.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { checkStore } from '../../src/store/store-verify.ts';
import { readIndex } from '../../src/store/content-store.ts';
import { readFingerprints } from '../../src/store/fingerprints.ts';

let fx: StoreFixture;
let svc: string;
let npmCache: string;
const npmTree = (version: string) => npmTreeOf(fx.app, version, npmCache);
const install = (root: string, version: string, env: Record<string, string> = {}) =>
  installApp(root, `${fx.app}@${version}`, env);

/** The store's index of package `name` as release `release` holds it. */
async function indexFor(root: string, release: string, name: string) {
  const integrity = integrityIn(root, release, name);
  return { integrity, index: await readIndex(layoutOf(root), integrity) };
}

/** Every file of the store holds what its name says, every index is one. */
async function expectConsistentStore(root: string): Promise<void> {
  const report = await checkStore(layoutOf(root), { all: true });
  expect(report.problems).toEqual([]);
}

describe('the content-addressed store', () => {
  beforeAll(async () => {
    npmCache = join(tempDir('rs-cas-npmcache-', null), 'cache');
    fx = await publishStoreFixture('rs-fixture-cas');
    svc = await publishMainFixture('rs-fixture-cas', fx);
  }, 120_000);

  it('stores what it stages; a package the previous release lacks is linked from the store, and the tree is npm’s', async () => {
    const root = await fixtureRoot(['--package', fx.app]);
    await install(root, '1.0.0');
    const { index } = await indexFor(root, '1.0.0', fx.a);
    expect(index && Object.keys(index.files).sort()).toEqual([
      'cli.js',
      'empty.txt',
      'index.js',
      'package.json',
      'same.js',
    ]);
    // The bin target as the release holds it (bin-links made it executable), not as it was packed.
    expect(index!.files['cli.js']!.mode).toBe(0o555);
    // Owned like releases/, private to the root's owner.
    for (const dir of [layoutOf(root).store, layoutOf(root).storeFiles, layoutOf(root).storeIndex]) {
      expect(statSync(dir).uid, dir).toBe(statSync(layoutOf(root).releases).uid);
      expect(statSync(dir).mode & 0o777, dir).toBe(0o700);
    }
    // Each stored file of the release is the store's inode (empty files are not stored: a link saves nothing).
    const layout = layoutOf(root);
    for (const [rel, ino] of inodesOf(root, '1.0.0', fx.a)) {
      const file = index!.files[rel]!;
      if (file.size > 0) expect(lstatSync(layout.storeFile(file.sha256, file.mode)).ino, rel).toBe(ino);
    }
    await install(root, '1.1.0');
    // 1.2.0 goes back to a@1.0.0, which its previous release (1.1.0) lacks: the store has it.
    const r = await install(root, '1.2.0');
    expect(r.json.result.reused.store).toMatchObject({ packages: 1, copied: 0 });
    expect(r.stderr).toMatch(/1 packages \(\d+ files, \d+ bytes\) linked from the store/);
    expect(inodesOf(root, '1.2.0', fx.a)).toEqual(
      inodesOf(root, '1.0.0', fx.a).map(([rel, ino]) => [rel, rel === 'empty.txt' ? expect.any(Number) : ino]),
    );
    expect(treeOf(join(root, 'releases', '1.2.0'))).toEqual(await npmTree('1.2.0'));
    // The store's inodes are 1.0.0's, unchanged since 1.0.0 recorded them: 1.2.0 records their fingerprints as
    // for any file it vouches for (nothing left to the first activation).
    expect(r.stderr).not.toMatch(/taken from the store that no earlier release vouches for/);
    const record = (await readFingerprints(layoutOf(root), '1.2.0'))!;
    for (const [rel] of inodesOf(root, '1.2.0', fx.a))
      expect(record.entries[`node_modules/${fx.a}/${rel}`], rel).not.toBe('');
    const sw = await rs(root, ['switch', '1.2.0']);
    expect(sw.exitCode, sw.stdout + sw.stderr).toBe(0);
    await expectConsistentStore(root);
  });

  it('a version re-staged after a prune links from the store; prune removes only what no release links', async () => {
    const root = await fixtureRoot(['--package', fx.app]);
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await install(root, v);
    expect((await rs(root, ['switch', '1.1.0'])).exitCode).toBe(0);
    // 1.0.0 goes; 1.2.0 (the newest other) stays, and with it a@1.0.0's files in the store.
    const pruned = await rs(root, ['prune', '--keep', '1']);
    expect(pruned.json.result.removed).toEqual(['1.0.0']);
    const { integrity: a100, index } = await indexFor(root, '1.2.0', fx.a);
    expect(index).toBeDefined();
    const again = await install(root, '1.0.0');
    expect(again.json.result.reused.store).toMatchObject({ packages: 1 });
    expect(treeOf(join(root, 'releases', '1.0.0'))).toEqual(await npmTree('1.0.0'));
    // Now only 1.1.0 (current) keeps its files: a@1.0.0 is linked by no release any more.
    const all = await rs(root, ['prune', '--keep', '0']);
    expect(all.json.result.removed.sort()).toEqual(['1.0.0', '1.2.0']);
    expect(all.stderr).toMatch(
      /store: removed [1-9]\d* file\(s\) \(\d+ bytes\) no release links any more, and [1-9]\d* package index/,
    );
    const layout = layoutOf(root);
    expect(await readIndex(layout, a100)).toBeUndefined();
    for (const [rel, file] of Object.entries(index!.files)) {
      // same.js is byte-identical in a@1.1.0, which current links: kept; the rest is gone.
      const kept = rel === 'same.js' || rel === 'empty.txt';
      if (file.size > 0) expect(existsSync(layout.storeFile(file.sha256, file.mode)), rel).toBe(kept);
    }
    const { index: a110 } = await indexFor(root, '1.1.0', fx.a);
    expect(a110).toBeDefined();
    // Nothing left that no release links.
    for (const shard of readdirSync(layout.storeFiles))
      for (const name of readdirSync(join(layout.storeFiles, shard)))
        expect(lstatSync(join(layout.storeFiles, shard, name)).nlink, name).toBeGreaterThan(1);
    await expectConsistentStore(root);
    expect((await rs(root, ['switch', '1.1.0'])).exitCode).toBe(0);
  });

  /** `svc@version` staged and sealed, its install killed before it became a release (recovered): the store has its tarball. */
  async function leaveInStore(root: string, version: string): Promise<void> {
    const killed = await rs(root, ['install', `${svc}@${version}`], {
      env: { RELEASE_SWITCHER_CRASH_AT: 'install:sealed' },
    });
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    expect((await rs(root, ['recover'])).exitCode).toBe(0);
    expect(existsSync(join(root, 'releases', version))).toBe(false);
  }

  /** The store's index of a release's main package (its tarball whole), by the integrity the release records. */
  async function mainIndexOf(root: string, version: string) {
    const marker = JSON.parse(readFileSync(join(root, 'releases', version, '.release-switcher.json'), 'utf8'));
    return readIndex(layoutOf(root), marker.integrity, true);
  }

  it('the main package is linked whole from the store: nothing fetched or unpacked, its own postinstall runs on the links, and the tree is npm’s', async () => {
    const root = await fixtureRoot(['--package', svc]);
    await installApp(root, `${svc}@1.0.0`);
    await leaveInStore(root, '1.1.0');
    const r = await installApp(root, `${svc}@1.1.0`);
    expect(r.stderr).toMatch(/linked from the store \(\d+ files, \d+ bytes\): nothing downloaded or unpacked/);
    expect(r.stderr).not.toMatch(/download: fetching/);
    expect(r.json.result.fallback).toBeNull();
    const release = join(root, 'releases', '1.1.0');
    // Its postinstall ran on the links: the marker it ships is gone, the file it writes is there.
    expect(existsSync(join(release, '.pending'))).toBe(false);
    expect(readFileSync(join(release, 'built.txt'), 'utf8')).toBe('built\n');
    // The index is the tarball's (the marker in it, the script's file not), and the release's files are its inodes.
    const index = (await mainIndexOf(root, '1.1.0'))!;
    const tool = `node_modules/${svc.replace(/-svc$/, '-tool')}`;
    expect(Object.keys(index.files).sort()).toEqual([
      '.pending',
      'empty.txt',
      'lib.js',
      `${tool}/built.js`,
      `${tool}/cli.js`,
      `${tool}/package.json`,
      'package.json',
      'post.js',
      'server.js',
    ]);
    // The bundled package's bin: linked to its target, executable as bin-links left it when the store took it, and its
    // own postinstall ran.
    expect(readlinkSync(join(release, 'node_modules/.bin', tool.slice('node_modules/'.length)))).toBe(
      `../${tool.slice('node_modules/'.length)}/cli.js`,
    );
    expect(statSync(join(release, tool, 'cli.js')).mode & 0o777).toBe(0o555);
    expect(readFileSync(join(release, tool, 'built.txt'), 'utf8')).toBe('built\n');
    const layout = layoutOf(root);
    for (const rel of ['server.js', 'lib.js', 'package.json', 'post.js']) {
      const file = index.files[rel]!;
      expect(lstatSync(join(release, rel)).ino, rel).toBe(lstatSync(layout.storeFile(file.sha256, file.mode)).ino);
    }
    // Those the same in 1.0.0 (lib.js, post.js, the bundled package's), whose inodes 1.0.0 shares with the store,
    // were private copies while the scripts ran (one could chmod or write them), linked to 1.0.0's once sealed.
    expect(r.stderr).toMatch(/; [1-9]\d* files copied from it instead/);
    expect(treeOf(release)).toEqual(await npmTreeOf(svc, '1.1.0', npmCache));
    // On the store's word: its first activation re-hashes those files against the manifest, and they hold.
    const sw = await rs(root, ['switch', '1.1.0']);
    expect(sw.exitCode, sw.stdout + sw.stderr).toBe(0);
    await expectConsistentStore(root);
  });

  it('a main package whose own script writes through a store link: that file leaves the store, and the release is npm’s', async () => {
    const root = await fixtureRoot(['--package', svc]);
    await installApp(root, `${svc}@1.0.0`);
    // 1.2.0's postinstall rewrote its server.js in the killed staging too: the store took the tarball's own.
    await leaveInStore(root, '1.2.0');
    const r = await installApp(root, `${svc}@1.2.0`);
    expect(r.stderr).toMatch(/linked from the store/);
    expect(r.json.result.fallback).toMatch(
      /a lifecycle script wrote into 1 file\(s\) shared with an earlier release or the store/,
    );
    const release = join(root, 'releases', '1.2.0');
    expect(readFileSync(join(release, 'server.js'), 'utf8')).toBe("console.log('rewritten');\n");
    expect(treeOf(release)).toEqual(await npmTreeOf(svc, '1.2.0', npmCache));
    // The store's name for what the script wrote through is gone; the index naming it is incomplete (never linked from).
    const index = (await mainIndexOf(root, '1.2.0'))!;
    const server = index.files['server.js']!;
    expect(existsSync(layoutOf(root).storeFile(server.sha256, server.mode))).toBe(false);
    const lib = index.files['lib.js']!;
    expect(existsSync(layoutOf(root).storeFile(lib.sha256, lib.mode))).toBe(true);
    const sw = await rs(root, ['switch', '1.2.0']);
    expect(sw.exitCode, sw.stdout + sw.stderr).toBe(0);
    await expectConsistentStore(root);
  });

  it('a main package whose own script writes a shipped file as npm extracted it (writable) runs again on private files: the release is npm’s', async () => {
    const root = await fixtureRoot(['--package', svc]);
    await installApp(root, `${svc}@1.0.0`);
    await leaveInStore(root, '1.3.0');
    const r = await installApp(root, `${svc}@1.3.0`);
    expect(r.stderr).toMatch(/linked from the store/);
    // The store's files have no write bits (npm's extracted ones have): its postinstall failed on the link.
    expect(r.json.result.fallback).toMatch(/a lifecycle script failed while files were shared with the store/);
    const release = join(root, 'releases', '1.3.0');
    expect(readFileSync(join(release, 'server.js'), 'utf8')).toBe("console.log('rewritten');\n");
    expect(treeOf(release)).toEqual(await npmTreeOf(svc, '1.3.0', npmCache));
    // Nothing was written through: the store's server.js is the tarball's.
    const server = (await mainIndexOf(root, '1.3.0'))!.files['server.js']!;
    expect(readFileSync(layoutOf(root).storeFile(server.sha256, server.mode), 'utf8')).toBe('console.log("1.3.0");\n');
    await expectConsistentStore(root);
  });

  it('a main package whose own script chmods a file an earlier release holds byte for byte: the script has a private copy, the earlier release is untouched', async () => {
    const root = await fixtureRoot(['--package', svc]);
    await installApp(root, `${svc}@1.0.0`);
    const lib100 = join(root, 'releases/1.0.0/lib.js');
    const before = lstatSync(lib100);
    await leaveInStore(root, '1.5.0');
    const r = await installApp(root, `${svc}@1.5.0`);
    expect(r.stderr).toMatch(/linked from the store/);
    expect(r.json.result.fallback).toBeNull();
    // Its lib.js, 1.0.0's inode in the store, was copied for the script to chmod: no write through a shared inode
    // (which would have given the fast path up), and 1.0.0's lib.js never changed.
    expect(r.stderr).toMatch(/; [1-9]\d* files copied from it instead/);
    const release = join(root, 'releases', '1.5.0');
    expect(treeOf(release)).toEqual(await npmTreeOf(svc, '1.5.0', npmCache));
    // 1.0.0's lib.js: its mode as sealed, its content, its inode.
    const after = lstatSync(lib100);
    expect(after.mode & 0o7777).toBe(before.mode & 0o7777);
    expect(after.ino).toBe(before.ino);
    expect(readFileSync(lib100, 'utf8')).toBe('module.exports = "the same in every version";\n');
    const doctor = await rs(root, ['doctor', '--deep']);
    expect(doctor.json.result.checks.find((c: { name: string }) => c.name === 'manifests')).toMatchObject({ ok: true });
    await expectConsistentStore(root);
  });

  it('a tampered store file: doctor --deep names it, and a release that links it is refused at activation', async () => {
    const root = await fixtureRoot(['--package', fx.app]);
    await install(root, '1.0.0');
    await install(root, '1.1.0');
    const { index } = await indexFor(root, '1.0.0', fx.a);
    const file = index!.files['index.js']!;
    const stored = layoutOf(root).storeFile(file.sha256, file.mode);
    // As root (the test process): mode bits do not stop it; the account's root has no immutable attribute.
    // Same size (the store's own presence check looks at sizes), other bytes.
    const original = readFileSync(stored, 'utf8');
    writeFileSync(stored, original.replace('1.0.0', '6.6.6'));
    expect(readFileSync(stored).length).toBe(original.length);
    const doctor = await rs(root, ['doctor', '--deep']);
    const check = doctor.json.result.checks.find((c: { name: string }) => c.name === 'store');
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('content does not match its name');
    // 1.2.0 takes a@1.0.0 from the store, on its word: staging does not hash it…
    const r = await install(root, '1.2.0');
    expect(r.json.result.reused.store.packages).toBe(1);
    // …and its first activation does, against the manifest: refused.
    const sw = await rs(root, ['switch', '1.2.0']);
    expect(sw.exitCode).not.toBe(0);
    expect(sw.json.error.code).toBe('RELEASE_TAMPERED');
    expect(sw.stdout).toContain(`node_modules/${fx.a}/index.js`);
    // doctor --fix takes the changed file out of the store: a later staging extracts a@1.0.0 afresh.
    const fixed = await rs(root, ['doctor', '--deep', '--fix']);
    expect(fixed.json.result.checks.find((c: { name: string }) => c.name === 'store').fixed).toMatch(
      /removed 1 store file\(s\) that changed/,
    );
    expect(existsSync(stored)).toBe(false);
    const store = (await rs(root, ['doctor', '--deep'])).json.result.checks.find(
      (c: { name: string }) => c.name === 'store',
    );
    expect(store).toMatchObject({ ok: true, detail: expect.stringContaining('index(es) name files no longer stored') });
  });

  it('a store on another filesystem than staging: files are copied, and staging says so', async () => {
    const root = await fixtureRoot(['--package', fx.app]);
    // Another filesystem than the root's, so that link(2) between them is EXDEV: /dev/shm (a tmpfs) where the root is
    // on disk, the run's own folder (on disk) where the root is on tmpfs (the tiers' TMPDIR: vitest.config.ts).
    const elsewhere = ['/dev/shm', process.env.RS_RUN_TMP ?? '/var/tmp'].find(
      (dir) => lstatSync(dir).dev !== lstatSync(root).dev,
    );
    expect(elsewhere, "a filesystem other than the root's").toBeDefined();
    const store = join(elsewhere!, `rs-cas-store-${process.pid}-${Date.now()}`);
    mkdirSync(store, { mode: 0o700 });
    const owner = defaultTestAccount();
    if (owner) chownSync(store, owner.uid, owner.gid);
    expect(lstatSync(store).dev).not.toBe(lstatSync(root).dev);
    symlinkSync(store, join(root, 'store'));
    try {
      const first = await install(root, '1.0.0');
      expect(first.stderr).toMatch(/copied: the store is on another filesystem than staging/);
      await install(root, '1.1.0');
      const r = await install(root, '1.2.0');
      expect(r.json.result.reused.store.copied).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/copied from it instead \(the store is on another filesystem than staging/);
      expect(treeOf(join(root, 'releases', '1.2.0'))).toEqual(await npmTree('1.2.0'));
      expect((await rs(root, ['switch', '1.2.0'])).exitCode).toBe(0);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });

  describe('kill -9', () => {
    /** After the kill: recover, then the store is consistent, staging works from it, and prune leaves nothing unlinked. */
    async function expectSettles(root: string, version: string): Promise<void> {
      expect((await rs(root, ['recover'])).exitCode).toBe(0);
      await expectConsistentStore(root);
      await install(root, version);
      expect(treeOf(join(root, 'releases', version))).toEqual(await npmTree(version));
      expect((await rs(root, ['prune', '--keep', '0'])).exitCode).toBe(0);
      await expectConsistentStore(root);
      const layout = layoutOf(root);
      for (const shard of readdirSync(layout.storeFiles))
        for (const name of readdirSync(join(layout.storeFiles, shard)))
          expect(lstatSync(join(layout.storeFiles, shard, name)).nlink, name).toBeGreaterThan(1);
    }

    it.each(['store:file-added', 'store:index-written'])('at %s during install', async (point) => {
      const root = await fixtureRoot(['--package', fx.app]);
      await install(root, '1.1.0');
      const crashed = await rs(root, ['install', `${fx.app}@1.0.0`], { env: { RELEASE_SWITCHER_CRASH_AT: point } });
      expect(crashed.signal, `${point} was never reached: ${crashed.stdout}${crashed.stderr}`).toBe('SIGKILL');
      await expectSettles(root, '1.0.0');
    });

    it('killed once a package index was written: the next staging takes that package from the store, unvouched for, and its first activation checks it', async () => {
      const root = await fixtureRoot(['--package', fx.app]);
      await install(root, '1.1.0');
      const crashed = await rs(root, ['install', `${fx.app}@1.0.0`], {
        env: { RELEASE_SWITCHER_CRASH_AT: 'store:index-written' },
      });
      expect(crashed.signal).toBe('SIGKILL');
      expect((await rs(root, ['recover'])).exitCode).toBe(0);
      // Indexes are written a@1.0.0 first (b@1.0.0 was in the store already, from 1.1.0).
      const again = await install(root, '1.0.0');
      expect(again.json.result.reused.store).toMatchObject({ packages: 1 });
      // Its store files were linked by the killed staging only: no retained release's record vouches for them.
      expect(again.stderr).toMatch(/file\(s\) taken from the store that no earlier release vouches for/);
      const record = (await readFingerprints(layoutOf(root), '1.0.0'))!;
      expect(record.entries[`node_modules/${fx.a}/index.js`]).toBe('');
      expect(treeOf(join(root, 'releases', '1.0.0'))).toEqual(await npmTree('1.0.0'));
      const sw = await rs(root, ['switch', '1.0.0']);
      expect(sw.exitCode, sw.stdout + sw.stderr).toBe(0);
      // Checked in full once, then recorded: the next activation needs no re-hash.
      expect((await readFingerprints(layoutOf(root), '1.0.0'))!.entries[`node_modules/${fx.a}/index.js`]).not.toBe('');
    });

    it.each(['store-gc:file-removed', 'store-gc:index-removed'])('at %s during prune', async (point) => {
      const root = await fixtureRoot(['--package', fx.app]);
      for (const v of ['1.0.0', '1.1.0']) await install(root, v);
      expect((await rs(root, ['switch', '1.1.0'])).exitCode).toBe(0);
      const crashed = await rs(root, ['prune', '--keep', '0'], { env: { RELEASE_SWITCHER_CRASH_AT: point } });
      expect(crashed.signal, `${point} was never reached: ${crashed.stdout}${crashed.stderr}`).toBe('SIGKILL');
      // An index whose files were half collected is never used: a@1.0.0 is extracted again, whole.
      await expectSettles(root, '1.0.0');
    });
  });
});
