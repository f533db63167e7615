// Symlinks resolved through the tree, as the kernel follows them: chains, loops, absolute targets.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertLinksContained, resolvesInside } from '../../src/store/containment.ts';
import { tempDir } from '../support/cli.ts';

function release(): string {
  const dir = join(tempDir(), 'deep', 'er', 'release');
  mkdirSync(join(dir, 'x/y'), { recursive: true });
  writeFileSync(join(dir, 'file'), 'f');
  return dir;
}

describe('symlink containment', () => {
  it('a chain of links each lexically inside that climbs out is outside', async () => {
    const dir = release();
    symlinkSync('../..', join(dir, 'x/y/a'));
    symlinkSync('a/..', join(dir, 'x/y/b'));
    symlinkSync('b/etc', join(dir, 'x/y/etc'));
    expect(await resolvesInside(dir, 'x/y/a')).toEqual({ inside: true });
    expect((await resolvesInside(dir, 'x/y/b')).inside).toBe(false);
    expect((await resolvesInside(dir, 'x/y/etc')).inside).toBe(false);
    await expect(assertLinksContained(dir, ['x/y/a', 'x/y/etc'])).rejects.toMatchObject({ code: 'RELEASE_UNSAFE' });
  });

  it('links inside, dangling links and links to files are fine; absolute targets and loops are not', async () => {
    const dir = release();
    symlinkSync('../../file', join(dir, 'x/y/ok'));
    symlinkSync('missing/../../..', join(dir, 'x/y/dangling'));
    symlinkSync('/etc', join(dir, 'x/abs'));
    symlinkSync('loop2', join(dir, 'x/loop1'));
    symlinkSync('loop1', join(dir, 'x/loop2'));
    await assertLinksContained(dir, ['x/y/ok', 'x/y/dangling']);
    expect((await resolvesInside(dir, 'x/abs')).inside).toBe(false);
    expect(await resolvesInside(dir, 'x/loop1')).toEqual({ inside: false, why: 'a symlink loop' });
  });
});
