// copyFileDurably's two paths (snapshot/copy.ts): a small file copied with synchronous calls, a large one with
// asynchronous ones. Both keep the bytes, the mode (never setuid or setgid on a copy that ends up root's), the times
// and, as root, the owner; both refuse a destination that exists and, as root, a source that is a link.
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyFileDurably, copyTree } from '../../src/snapshot/copy.ts';
import { tempDir } from '../support/cli.ts';

const asRoot = process.getuid?.() === 0;
const SMALL = 'a small file\n';
const LARGE = Buffer.alloc(3 * 2 ** 20 + 17, 'x'); // past the synchronous path's 1 MiB

describe('copyFileDurably', () => {
  for (const [size, content] of [
    ['small', Buffer.from(SMALL)],
    ['large', LARGE],
  ] as const) {
    it(`a ${size} file: its bytes, mode and times${asRoot ? ', its owner, and no setuid bit once root’s' : ''}`, async () => {
      const dir = tempDir(`rs-copy-${size}-`, null);
      const from = join(dir, 'from');
      writeFileSync(from, content);
      if (asRoot) chownSync(from, 0, 0);
      chmodSync(from, 0o4750);
      utimesSync(from, new Date('2026-01-02T03:04:05Z'), new Date('2026-02-03T04:05:06Z'));
      const returned = await copyFileDurably(from, join(dir, 'to'));
      const copy = lstatSync(join(dir, 'to'));
      expect(returned).toBe(content.length);
      expect(readFileSync(join(dir, 'to')).equals(content)).toBe(true);
      expect((copy.mode & 0o7777).toString(8)).toBe(asRoot ? '750' : '4750');
      expect(copy.mtime.toISOString()).toBe('2026-02-03T04:05:06.000Z');
      if (asRoot) {
        const other = join(dir, 'other');
        writeFileSync(other, content);
        chownSync(other, 4242, 4343); // before the mode: a chown clears setuid
        chmodSync(other, 0o4750);
        await copyFileDurably(other, join(dir, 'other-copy'));
        const copied = lstatSync(join(dir, 'other-copy'));
        expect([copied.uid, copied.gid, (copied.mode & 0o7777).toString(8)]).toEqual([4242, 4343, '4750']);
      }
    });

    it(`a ${size} file is never copied over what exists${asRoot ? ', nor read through a link' : ''}`, async () => {
      const dir = tempDir(`rs-copy-refuse-${size}-`, null);
      writeFileSync(join(dir, 'from'), content);
      writeFileSync(join(dir, 'to'), 'kept');
      await expect(copyFileDurably(join(dir, 'from'), join(dir, 'to'))).rejects.toMatchObject({ code: 'EEXIST' });
      expect(readFileSync(join(dir, 'to'), 'utf8')).toBe('kept');
      if (asRoot) {
        symlinkSync(join(dir, 'from'), join(dir, 'link'));
        await expect(copyFileDurably(join(dir, 'link'), join(dir, 'via-link'))).rejects.toMatchObject({
          code: 'ELOOP',
        });
      }
    });
  }

  it('a tree of many small files, with a file naming this live process left out as residue', async () => {
    const dir = tempDir('rs-copy-tree-', null);
    const from = join(dir, 'from');
    mkdirSync(join(from, 'npm', 'projects', 'p', 'node_modules', 'a'), { recursive: true });
    for (let i = 0; i < 200; i++)
      writeFileSync(join(from, 'npm', 'projects', 'p', 'node_modules', 'a', `f${i}.js`), `module.exports = ${i};\n`);
    writeFileSync(join(from, 'gateway.lock'), JSON.stringify({ pid: process.pid }));
    writeFileSync(join(from, 'openclaw.json'), '{ "pid": 1 }'); // init is not a process it could name
    const bytes = await copyTree(from, join(dir, 'to'));
    const copied = (name: string) => join(dir, 'to', 'npm', 'projects', 'p', 'node_modules', 'a', name);
    expect(readFileSync(copied('f199.js'), 'utf8')).toBe('module.exports = 199;\n');
    expect(() => lstatSync(join(dir, 'to', 'gateway.lock'))).toThrow();
    expect(readFileSync(join(dir, 'to', 'openclaw.json'), 'utf8')).toBe('{ "pid": 1 }');
    expect(bytes).toBeGreaterThan(200 * 20);
  });
});
