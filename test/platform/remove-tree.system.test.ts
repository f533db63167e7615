// removeTree on a staging tree that holds hardlinks into an immutable release (dedupe does that):
// its first attempt fails on the immutable inode, and the retry must not race what the first one
// left in flight. CI found it: recover failed INTERNAL with ENOENT from a directory that a failed
// Node fs.rm went on deleting after it had rejected. A race: on the old code the first case failed
// in about one run of three here (ENOTDIR/ENOENT from the retry), never on the new one.
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { removeTree } from '../../src/platform/fs.ts';
import { canSetImmutable, describeWhere } from '../support/skip.ts';
import { tempDir } from '../support/cli.ts';

const can = await canSetImmutable(() => tempDir());

const cleanup: string[] = [];
afterEach(() => {
  for (const file of cleanup.splice(0)) execFileSync('chattr', ['-i', file]);
});

function flags(path: string): string {
  return execFileSync('lsattr', ['-d', path], { encoding: 'utf8' }).split(' ')[0]!;
}

/** A release file made immutable, linked into a staging tree among many ordinary folders and files. */
function stagingWithSharedInode(): { release: string; staging: string; kept: string[] } {
  const base = tempDir();
  const release = join(base, 'release');
  const staging = join(base, 'staging');
  mkdirSync(release);
  const kept: string[] = [];
  for (const where of ['a', 'm', 'z']) {
    const file = join(release, `${where}.js`);
    writeFileSync(file, `shared ${where}`);
    mkdirSync(join(staging, where), { recursive: true });
    linkSync(file, join(staging, where, 'shared.js'));
    execFileSync('chattr', ['+i', file]);
    cleanup.push(file);
    kept.push(file);
  }
  for (let d = 0; d < 30; d++) {
    const dir = join(staging, `pkg${String(d).padStart(2, '0')}`, 'lib');
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 40; f++) writeFileSync(join(dir, `f${f}.js`), `${d}/${f}`);
  }
  return { release, staging, kept };
}

describeWhere(can, 'removeTree with links into an immutable release (root, ext4)', () => {
  it('removes the whole tree, says it cleared shared inodes, and leaves the release files in place', async () => {
    for (let round = 0; round < 3; round++) {
      const { staging, kept } = stagingWithSharedInode();
      await expect(removeTree(staging)).resolves.toBe(true);
      expect(existsSync(staging)).toBe(false);
      for (const file of kept) {
        expect(statSync(file).nlink, file).toBe(1);
        expect(flags(file), file).not.toContain('i'); // cleared with its other name: the caller sets it again
      }
    }
  });

  it('a tree without shared inodes goes in one attempt and says nothing was shared', async () => {
    const { staging, kept } = stagingWithSharedInode();
    for (const file of kept) execFileSync('chattr', ['-i', file]);
    for (const where of ['a', 'm', 'z']) execFileSync('rm', ['-f', join(staging, where, 'shared.js')]);
    cleanup.length = 0;
    await expect(removeTree(staging)).resolves.toBe(false);
    expect(existsSync(staging)).toBe(false);
  });
});
