// Packages placed beside the package while it unpacks (place-beside.ts) are moved into it without
// ever replacing what its own tarball brought: one rename when it brought no node_modules/, package
// folders renamed in beside the bundled ones (scope folders and .bin/ merged a level down), and on a
// name both sides have, nothing moved at all, what was placed beside removed, and the name said (the
// caller falls back to npm, which lays the tree's package over the tarball's copy).
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Placed } from '../../src/stage/place-packages.ts';
import { type PlacingBeside, moveInto } from '../../src/stage/place-beside.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir } from '../support/cli.ts';

function write(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    if (text.startsWith('-> ')) symlinkSync(text.slice(3), join(root, rel));
    else writeFileSync(join(root, rel), text);
  }
}

/** What the placement handed over: only its identity matters here (moveInto passes it through). */
const PLACED = { reuse: [], fresh: [] } as unknown as Placed;

function setup(besideFiles: Record<string, string>, packageFiles: Record<string, string>, failure?: Error) {
  const work = tempDir('rs-beside-');
  const root = join(work, 'root');
  const besideRoot = join(work, 'staging/x/deps');
  const pkgDir = join(work, 'staging/x/package');
  mkdirSync(besideRoot, { recursive: true });
  mkdirSync(pkgDir, { recursive: true });
  mkdirSync(join(root, 'releases'), { recursive: true });
  write(besideRoot, besideFiles);
  write(pkgDir, packageFiles);
  let stopped = 0;
  // A failed placement is left for staging's own cleanup (the whole staging folder goes).
  const beside: PlacingBeside = {
    root: besideRoot,
    previous: undefined,
    placed: failure ? Promise.reject(failure) : Promise.resolve(PLACED),
    stop: async () => {
      stopped++;
    },
  };
  const move = () => moveInto(layoutOf(root), beside, pkgDir);
  return { besideRoot, pkgDir, move, stopped: () => stopped };
}

describe('moveInto', () => {
  it('moves node_modules/ in with one rename when the tarball brought none (the same inodes, the folder beside gone)', async () => {
    const { besideRoot, pkgDir, move } = setup(
      { 'node_modules/a/index.js': 'a', 'node_modules/.bin/a': '-> ../a/index.js' },
      { 'package.json': '{}' },
    );
    const ino = lstatSync(join(besideRoot, 'node_modules/a/index.js')).ino;
    await expect(move()).resolves.toBe(PLACED);
    expect(lstatSync(join(pkgDir, 'node_modules/a/index.js')).ino).toBe(ino);
    expect(readlinkSync(join(pkgDir, 'node_modules/.bin/a'))).toBe('../a/index.js');
    expect(existsSync(besideRoot)).toBe(false);
  });

  it('moves each package in beside the bundled ones, merging a scope folder and .bin/ both have', async () => {
    const { besideRoot, pkgDir, move } = setup(
      {
        'node_modules/a/index.js': 'a',
        'node_modules/@s/b/index.js': 'b',
        'node_modules/@t/c/index.js': 'c',
        'node_modules/.bin/a': '-> ../a/index.js',
      },
      {
        'node_modules/bundled/index.js': 'bundled',
        'node_modules/@s/bundled/index.js': 'scoped bundled',
        'node_modules/.bin/bundled': '-> ../bundled/index.js',
      },
    );
    await expect(move()).resolves.toBe(PLACED);
    const nm = join(pkgDir, 'node_modules');
    expect(readdirSync(nm).sort()).toEqual(['.bin', '@s', '@t', 'a', 'bundled']);
    expect(readdirSync(join(nm, '@s')).sort()).toEqual(['b', 'bundled']);
    expect(readdirSync(join(nm, '.bin')).sort()).toEqual(['a', 'bundled']);
    expect(readFileSync(join(nm, 'bundled/index.js'), 'utf8')).toBe('bundled');
    expect(readFileSync(join(nm, '@s/bundled/index.js'), 'utf8')).toBe('scoped bundled');
    expect(readFileSync(join(nm, '@t/c/index.js'), 'utf8')).toBe('c');
    expect(existsSync(besideRoot)).toBe(false);
  });

  it.each([
    ['a package', { 'node_modules/a/index.js': 'tarball a' }, 'node_modules/a'],
    ['a scoped package', { 'node_modules/@s/b/index.js': 'tarball b' }, 'node_modules/@s/b'],
    ['a bin', { 'node_modules/.bin/a': '-> ../x.js' }, 'node_modules/.bin/a'],
    // A rename through a link would land outside the package.
    ['a scope folder that is a link', { 'node_modules/@s': '-> ../lib' }, 'node_modules/@s'],
    ['a .bin that is a link', { 'node_modules/.bin': '-> ../bin' }, 'node_modules/.bin'],
  ])(
    'moves nothing when the tarball brought %s of the same name, and removes what was placed beside',
    async (_, tarball, name) => {
      const { besideRoot, pkgDir, move, stopped } = setup(
        {
          'node_modules/a/index.js': 'a',
          'node_modules/@s/b/index.js': 'b',
          'node_modules/.bin/a': '-> ../a/index.js',
          'node_modules/z/index.js': 'z',
        },
        tarball,
      );
      const before = readdirSync(join(pkgDir, 'node_modules'));
      await expect(move()).resolves.toEqual({ clash: name });
      // The tarball's own entries only: not one of the placed packages went in, not even those named after the clash.
      expect(readdirSync(join(pkgDir, 'node_modules'))).toEqual(before);
      expect(existsSync(join(pkgDir, 'node_modules/z'))).toBe(false);
      const [path, content] = Object.entries(tarball)[0]!;
      if (content.startsWith('-> ')) expect(readlinkSync(join(pkgDir, path))).toBe(content.slice(3));
      else expect(readFileSync(join(pkgDir, path), 'utf8')).toBe(content);
      expect(existsSync(besideRoot)).toBe(false);
      expect(stopped()).toBe(1);
    },
  );

  it('moves nothing through a node_modules/ that is a link (npm would replace it): the clash is node_modules', async () => {
    const { besideRoot, pkgDir, move } = setup(
      { 'node_modules/a/index.js': 'a' },
      { 'lib/x.js': 'x', node_modules: '-> lib' },
    );
    await expect(move()).resolves.toEqual({ clash: 'node_modules' });
    expect(readdirSync(join(pkgDir, 'lib'))).toEqual(['x.js']);
    expect(existsSync(besideRoot)).toBe(false);
  });

  it('throws the placement failure, moving nothing', async () => {
    const { pkgDir, move, besideRoot } = setup(
      { 'node_modules/a/index.js': 'a' },
      { 'package.json': '{}' },
      new Error('integrity mismatch'),
    );
    await expect(move()).rejects.toThrow('integrity mismatch');
    expect(existsSync(join(pkgDir, 'node_modules'))).toBe(false);
    expect(existsSync(join(besideRoot, 'node_modules/a/index.js'))).toBe(true);
  });
});
