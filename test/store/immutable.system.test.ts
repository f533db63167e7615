// As root on a filesystem with the immutable attribute (ext4 here; /tmp is on it): a sealed release cannot be written
// even by root, prune still removes it, and dedupe still shares inodes with an immutable earlier release.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { canSetImmutable, describeWhere } from '../support/skip.ts';
import { probeImmutable, setImmutablePaths, withImmutableCleared } from '../../src/platform/immutable.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { rs, templateRoot, tempDir } from '../support/cli.ts';
import { releaseDirs, stagingEntries } from '../support/root.ts';

import { runThisFileAsRoot } from '../support/accounts.ts';
runThisFileAsRoot("the immutable attribute (chattr +i) needs CAP_LINUX_IMMUTABLE: root's releases are the subject");

const can = await canSetImmutable(() => tempDir());

const freshRoot = templateRoot(['1.0.0', '1.1.0', '1.2.0']);

/** The store's name for a release file's content (store/content-store.ts): `<sha256>-<sealed mode>`. */
function storeNameOf(root: string, file: string): string {
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  return layoutOf(root).storeFile(sha256, statSync(file).mode & 0o777);
}

function flags(path: string): string {
  return execFileSync('lsattr', ['-d', path], { encoding: 'utf8' }).split(' ')[0]!;
}

describeWhere(can, 'immutable releases (root, ext4)', () => {
  it('every file and directory of an installed release is immutable: a write fails with EPERM even for root', async () => {
    const root = freshRoot();
    const release = join(root, 'releases/1.1.0');
    for (const path of [release, join(release, 'server.js'), join(release, 'node_modules')])
      expect(flags(path), path).toContain('i');
    expect(() => appendFileSync(join(release, 'server.js'), 'owned')).toThrow(
      expect.objectContaining({ code: 'EPERM' }),
    );
    expect(() => appendFileSync(join(release, 'new-file'), 'owned')).toThrow(
      expect.objectContaining({ code: 'EPERM' }),
    );
    const marker = JSON.parse(execFileSync('cat', [join(release, '.release-switcher.json')], { encoding: 'utf8' }));
    expect(marker.immutable).toBe(true);
    const doctor = await rs(root, ['doctor']);
    expect(doctor.json.result.checks.find((c: any) => c.name === 'immutable')).toMatchObject({
      ok: true,
      detail: '3 release(s) immutable',
    });
  });

  it('dedupe shares inodes with the immutable earlier release, which stays immutable', async () => {
    const root = freshRoot();
    // Installed one after another: 1.1.0 was deduped against an already immutable 1.0.0, 1.2.0 against both.
    const [a, b, c] = ['1.0.0', '1.1.0', '1.2.0'].map((v) => join(root, `releases/${v}/scripts/preinstall.js`));
    expect(new Set([a, b, c].map((p) => statSync(p!).ino)).size).toBe(1);
    // Its names: the three releases', and the store's (the main package's tarball is in the store).
    expect(statSync(storeNameOf(root, a!)).ino).toBe(statSync(a!).ino);
    expect(statSync(a!).nlink).toBe(4);
    expect(flags(a!)).toContain('i');
  });

  it('prune clears the attribute and removes the release; what it shared stays immutable in the kept one', async () => {
    const root = freshRoot();
    expect((await rs(root, ['switch', '1.2.0'])).exitCode).toBe(0); // current 1.2.0, previous 1.0.0: 1.1.0 goes
    const r = await rs(root, ['prune', '--keep', '0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.removed).toEqual(['1.1.0']);
    expect(releaseDirs(root)).toEqual(['1.0.0', '1.2.0']);
    expect(existsSync(join(root, 'releases/1.1.0'))).toBe(false);
    for (const v of ['1.0.0', '1.2.0']) expect(flags(join(root, `releases/${v}/scripts/preinstall.js`))).toContain('i');
    const doctor = await rs(root, ['doctor']);
    expect(doctor.json.result.checks.find((c: any) => c.name === 'immutable')).toMatchObject({ ok: true });
  });

  it('killed after dedupe linked into immutable releases: recover removes the staging and the releases stay immutable', async () => {
    const root = freshRoot();
    expect((await rs(root, ['prune', '--keep', '0'])).exitCode).toBe(0); // current 1.0.0: 1.1.0 and 1.2.0 go
    const crashed = await rs(root, ['install', 'rs-fixture-gateway@1.2.0'], {
      env: { RELEASE_SWITCHER_CRASH_AT: 'install:sealed' },
    });
    expect(crashed.signal).toBe('SIGKILL');
    // Shared with the staged copy, besides the store's name for it.
    const preinstall = join(root, 'releases/1.0.0/scripts/preinstall.js');
    expect(statSync(storeNameOf(root, preinstall)).ino).toBe(statSync(preinstall).ino);
    expect(statSync(preinstall).nlink).toBe(3);
    const recovered = await rs(root, ['recover']);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    expect(stagingEntries(root)).toEqual([]);
    expect(flags(join(root, 'releases/1.0.0/scripts/preinstall.js'))).toContain('i');
    const doctor = await rs(root, ['doctor']);
    expect(doctor.json.result.checks.find((c: any) => c.name === 'immutable')).toMatchObject({ ok: true });
  });

  it('doctor reports a release that lost the attribute', async () => {
    const root = freshRoot();
    execFileSync('chattr', ['-i', join(root, 'releases/1.1.0/server.js')]);
    const doctor = await rs(root, ['doctor']);
    expect(doctor.json.result.checks.find((c: any) => c.name === 'immutable')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('1.1.0: 1 entry without the immutable attribute (server.js)'),
    });
  });

  it('the probe answers from an attribute this process has set on the same filesystem, without writing a probe file', async () => {
    const dir = tempDir();
    const file = join(dir, 'proof');
    appendFileSync(file, '');
    expect(await setImmutablePaths([file], true)).toBeUndefined();
    const closed = join(dir, 'closed');
    mkdirSync(closed);
    execFileSync('chattr', ['+i', closed]); // no file can be made in it: a probe that writes one fails
    try {
      expect(await probeImmutable(closed)).toEqual({ supported: true });
    } finally {
      execFileSync('chattr', ['-i', closed, file]);
    }
  });

  it('lifting windows take turns: a second one on the same inode starts once the first has set it again', async () => {
    const dir = tempDir();
    const file = join(dir, 'shared.js');
    appendFileSync(file, 'shared');
    expect(await setImmutablePaths([file], true)).toBeUndefined();
    const seen: string[] = [];
    const flagsInside: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = withImmutableCleared([file], async () => {
      seen.push('first in');
      flagsInside.push(flags(file));
      await held;
      seen.push('first out');
    });
    const second = withImmutableCleared([file], async () => {
      seen.push('second in');
      flagsInside.push(flags(file));
    });
    // The first window holds the inode lifted while it waits: the second has not started.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(seen).toEqual(['first in', 'first out', 'second in']);
    // Each ran with the attribute lifted, and it is set again after both.
    for (const inside of flagsInside) expect(inside).not.toContain('i');
    expect(flags(file)).toContain('i');
    expect(await setImmutablePaths([file], false)).toBeUndefined();
  });

  it('sets and clears it on thousands of long paths: chattr gets its argument lists whole, none too long for exec', async () => {
    const dir = join(tempDir(), 'd'.repeat(200));
    mkdirSync(dir);
    // 6,000 paths of ~400 bytes: 2.4 MB of arguments, more than the kernel takes for one exec (2 MiB).
    const files = Array.from({ length: 6000 }, (_, i) => join(dir, `${String(i).padStart(5, '0')}-${'f'.repeat(150)}`));
    for (const file of files) appendFileSync(file, '');
    try {
      expect(await setImmutablePaths(files, true)).toBeUndefined();
      const listed = execFileSync('lsattr', [dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
        .trim()
        .split('\n');
      expect(listed).toHaveLength(files.length);
      expect(listed.filter((line) => line.split(' ')[0]!.includes('i'))).toHaveLength(files.length);
    } finally {
      expect(await setImmutablePaths(files, false)).toBeUndefined();
    }
    const after = execFileSync('lsattr', [dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
      .trim()
      .split('\n');
    expect(after.filter((line) => line.split(' ')[0]!.includes('i'))).toEqual([]);
  });
});
