// Dedupe and sealing on real files: links only where content and mode match, never into an earlier inode's bits.
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeManifest } from '../../src/store/manifest.ts';
import { dedupeAgainst, sealTree } from '../../src/store/seal.ts';
import { tempDir } from '../support/cli.ts';
import { writablePaths } from '../support/root.ts';

function tree(dir: string, files: Record<string, string>): string {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

describe('dedupe and seal', () => {
  it('links files identical to an earlier sealed release, and duplicates within the new one', async () => {
    const base = tempDir();
    const old = tree(join(base, 'old'), { 'same.js': 'same', 'moved/here.js': 'moved', 'changed.js': 'v1' });
    const oldFiles = await computeManifest(old);
    await sealTree(old);
    const oldMode = statSync(join(old, 'same.js')).mode;
    const staged = tree(join(base, 'new'), {
      'same.js': 'same',
      'elsewhere.js': 'moved',
      'changed.js': 'v2',
      'a/dup.txt': 'dup!',
      'b/dup.txt': 'dup!',
    });
    const files = await computeManifest(staged);
    const result = await dedupeAgainst({ stagedDir: staged, files, earlier: [{ dir: old, files: oldFiles }] });
    expect([...result.linked].sort()).toEqual(['elsewhere.js', 'same.js']);
    expect(result.linkedBytes).toBe('same'.length + 'moved'.length);
    expect(result.internalBytes).toBe('dup!'.length);
    expect(statSync(join(staged, 'same.js')).ino).toBe(statSync(join(old, 'same.js')).ino);
    expect(statSync(join(staged, 'elsewhere.js')).ino).toBe(statSync(join(old, 'moved/here.js')).ino);
    expect(statSync(join(staged, 'changed.js')).ino).not.toBe(statSync(join(old, 'changed.js')).ino);
    expect(statSync(join(staged, 'a/dup.txt')).ino).toBe(statSync(join(staged, 'b/dup.txt')).ino);
    await sealTree(staged, result.linked);
    expect(writablePaths(staged)).toEqual([]);
    expect(statSync(join(old, 'same.js')).mode).toBe(oldMode);
  });

  it('does not link a file whose mode differs (an executable is not the same file as a plain one)', async () => {
    const base = tempDir();
    const old = tree(join(base, 'old'), { 'bin.js': '#!/usr/bin/env node' });
    chmodSync(join(old, 'bin.js'), 0o755);
    const oldFiles = await computeManifest(old);
    await sealTree(old);
    const staged = tree(join(base, 'new'), { 'bin.js': '#!/usr/bin/env node' });
    const result = await dedupeAgainst({
      stagedDir: staged,
      files: await computeManifest(staged),
      earlier: [{ dir: old, files: oldFiles }],
    });
    expect(result.linked.size).toBe(0);
  });
});

describe('dedupe with names an install script already linked', () => {
  it('two names on one inode are left as they are, and no temp name survives', async () => {
    const { linkSync, readdirSync } = await import('node:fs');
    const staged = tree(join(tempDir(), 'new'), { 'lib/binary': 'bin', 'other/copy': 'bin' });
    mkdirSync(join(staged, 'bin'));
    linkSync(join(staged, 'lib/binary'), join(staged, 'bin/tool')); // as esbuild's install: link(a, tmp); rename(tmp, b)
    const files = await computeManifest(staged);
    await dedupeAgainst({ stagedDir: staged, files, earlier: [] });
    expect(readdirSync(join(staged, 'bin'))).toEqual(['tool']);
    expect(readdirSync(join(staged, 'lib'))).toEqual(['binary']);
    expect(statSync(join(staged, 'other/copy')).ino).toBe(statSync(join(staged, 'lib/binary')).ino);
    expect(await computeManifest(staged)).toEqual(files);
  });
});
