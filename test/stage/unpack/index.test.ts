// The tar entry rules, one by one, through staging's one unpack entry point (unpack, over unpackTarball):
// each row is one entry next to a package.json; good rows are written, bad ones refuse the tarball.
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unpack } from '../../../src/stage/unpack/index.ts';
import { computeManifest } from '../../../src/store/manifest.ts';
import { type RawBlock, encodeRaw } from '../../support/bad-tarballs.ts';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'rs-extract-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const PKG: RawBlock = { flag: '0', path: 'package/package.json', body: '{"name":"x","version":"1.0.0"}\n' };

async function extract(entry: RawBlock) {
  const file = join(work, 'p.tgz');
  writeFileSync(file, encodeRaw([PKG, { flag: '0', path: 'package/index.js', body: '1' }, entry]));
  return unpack({ tarball: file, dest: join(work, 'package') });
}

describe('unpack entry rules', () => {
  it.each<[RawBlock, RegExp | undefined]>([
    [{ flag: '0', path: 'package/lib/a.js', mode: 0o644, body: 'a' }, undefined],
    [{ flag: '0', path: 'package/bin/cli', mode: 0o755, body: '#!' }, undefined],
    [{ flag: '5', path: 'package/lib', mode: 0o755 }, undefined],
    [{ flag: '2', path: 'package/lib/link', linkpath: '../index.js' }, undefined],
    [{ flag: '0', path: 'package/../evil', body: 'x' }, /climbs out/],
    [{ flag: '0', path: '/etc/passwd', body: 'x' }, /absolute path/],
    [{ flag: '2', path: 'package/link', linkpath: '/etc/passwd' }, /absolute path/],
    [{ flag: '2', path: 'package/a/link', linkpath: '../../../outside' }, /outside the package/],
    [{ flag: '2', path: 'package/link', linkpath: '..' }, /outside the package/],
    [{ flag: '1', path: 'package/hard', linkpath: 'package/index.js' }, /hard link entry/],
    [{ flag: '3', path: 'package/dev' }, /character device entry/],
    [{ flag: '6', path: 'package/fifo' }, /fifo entry/],
    [{ flag: '0', path: 'package/suid', mode: 0o4755, body: 'x' }, /setuid/],
    [{ flag: '0', path: 'package/sgid', mode: 0o2755, body: 'x' }, /setuid\/setgid/],
  ])('%j → %s', async (entry, expected) => {
    if (expected === undefined) {
      const result = await extract(entry);
      expect(result.entries.map((e) => e.path)).toContain(entry.path.replace(/^package\//, ''));
    } else {
      await expect(extract(entry)).rejects.toMatchObject({
        code: 'BAD_TARBALL',
        message: expect.stringMatching(expected),
      });
      expect(existsSync(join(work, 'package'))).toBe(false);
    }
  });

  it('hands on hashes the manifest reuses without reading the files, and skips what npm rewrites', async () => {
    const result = await unpack({
      tarball: await tarball(),
      dest: join(work, 'package'),
      skipKnown: (rel) => rel === 'package.json',
    });
    expect([...result.known.keys()].sort()).toEqual(['index.js', 'lib/a.js']);
    const manifest = await computeManifest(join(work, 'package'), result.known);
    const byPath = Object.fromEntries(manifest.map((entry) => [entry.path, entry]));
    expect(byPath['index.js']).toMatchObject({ type: 'file', sha256: result.known.get('index.js')!.sha256 });
    // A known hash is only trusted while the inode is unchanged: a rewrite is re-hashed.
    const stale = new Map(result.known);
    stale.set('index.js', { ...stale.get('index.js')!, sha256: '0'.repeat(64) });
    writeFileSync(join(work, 'package', 'index.js'), '2');
    const again = Object.fromEntries(
      (await computeManifest(join(work, 'package'), stale)).map((entry) => [entry.path, entry]),
    );
    expect(again['index.js']).toMatchObject({
      sha256: 'd4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35',
    });
    expect(statSync(join(work, 'package', 'lib')).isDirectory()).toBe(true);
  });
});

async function tarball(): Promise<string> {
  const file = join(work, 'good.tgz');
  writeFileSync(
    file,
    encodeRaw([
      PKG,
      { flag: '0', path: 'package/index.js', body: '1' },
      { flag: '0', path: 'package/lib/a.js', body: 'a' },
    ]),
  );
  return file;
}
