// What the store records of a package: its files and folders as the release's manifest lists them under its folder,
// without the packages nested inside it or the node_modules/ folder that holds them.
import { describe, expect, it } from 'vitest';
import type { ManifestEntry } from '../../../src/store/manifest.ts';
import { entriesByPackage } from '../../../src/stage/reuse/link-previous.ts';
import { packageIndexOf, tarballIndexOf } from '../../../src/stage/reuse/to-store.ts';
import type { UnpackedEntry } from '../../../src/stage/unpack/unpack.ts';

const file = (path: string, mode = 0o444): ManifestEntry => ({
  path,
  type: 'file',
  sha256: 'a'.repeat(64),
  size: 1,
  mode,
});
const dir = (path: string): ManifestEntry => ({ path, type: 'dir' });

describe('a package index from a release manifest', () => {
  it('holds the package’s files and folders, relative to it, and nothing of the packages nested inside it', () => {
    const manifest: ManifestEntry[] = [
      dir('node_modules'),
      dir('node_modules/c'),
      file('node_modules/c/package.json'),
      dir('node_modules/c/lib'),
      dir('node_modules/c/lib/empty'),
      file('node_modules/c/lib/cli.js', 0o555),
      dir('node_modules/c/node_modules'),
      dir('node_modules/c/node_modules/.bin'),
      dir('node_modules/c/node_modules/a'),
      file('node_modules/c/node_modules/a/package.json'),
      dir('node_modules/@s'),
      dir('node_modules/@s/p'),
      file('node_modules/@s/p/index.js'),
    ];
    const byPackage = entriesByPackage(
      manifest,
      new Set(['node_modules/c', 'node_modules/c/node_modules/a', 'node_modules/@s/p']),
    );
    expect(packageIndexOf('sha512-c', 'node_modules/c', byPackage.get('node_modules/c')!)).toEqual({
      integrity: 'sha512-c',
      files: {
        'package.json': { sha256: 'a'.repeat(64), mode: 0o444, size: 1 },
        'lib/cli.js': { sha256: 'a'.repeat(64), mode: 0o555, size: 1 },
      },
      dirs: ['lib', 'lib/empty'],
    });
    expect(
      packageIndexOf('sha512-a', 'node_modules/c/node_modules/a', byPackage.get('node_modules/c/node_modules/a')!),
    ).toEqual({
      integrity: 'sha512-a',
      files: { 'package.json': { sha256: 'a'.repeat(64), mode: 0o444, size: 1 } },
      dirs: [],
    });
    expect(
      Object.keys(packageIndexOf('sha512-p', 'node_modules/@s/p', byPackage.get('node_modules/@s/p')!).files),
    ).toEqual(['index.js']);
  });
});

describe('a main package’s index from its unpacked tarball', () => {
  const sha = (c: string) => c.repeat(64);
  const entries: UnpackedEntry[] = [
    { path: 'package.json', type: 'file', size: 2, mode: 0o644, sha256: sha('a') },
    { path: 'bin', type: 'dir', size: 0, mode: 0o755 },
    { path: 'bin/cli.js', type: 'file', size: 3, mode: 0o644, sha256: sha('b') },
    { path: 'run.sh', type: 'file', size: 4, mode: 0o755, sha256: sha('c') },
    { path: '.pending', type: 'file', size: 8, mode: 0o644, sha256: sha('d') },
    { path: 'node_modules', type: 'dir', size: 0, mode: 0o755 },
    { path: 'node_modules/bundled', type: 'dir', size: 0, mode: 0o755 },
    { path: 'node_modules/bundled/index.js', type: 'file', size: 1, mode: 0o644, sha256: sha('e') },
  ];

  it('is the tarball whole, bundled packages included, each file at its sealed mode (the staged one where it survived)', () => {
    // bin-links made cli.js executable in the release; .pending its postinstall removed (no staged mode).
    expect(tarballIndexOf('sha512-m', entries, new Map([['bin/cli.js', 0o555]]))).toEqual({
      integrity: 'sha512-m',
      tarball: true,
      files: {
        'package.json': { sha256: sha('a'), mode: 0o444, size: 2 },
        'bin/cli.js': { sha256: sha('b'), mode: 0o555, size: 3 },
        'run.sh': { sha256: sha('c'), mode: 0o555, size: 4 },
        '.pending': { sha256: sha('d'), mode: 0o444, size: 8 },
        'node_modules/bundled/index.js': { sha256: sha('e'), mode: 0o444, size: 1 },
      },
      dirs: ['bin', 'node_modules', 'node_modules/bundled'],
    });
  });

  it('is none for a tarball with a symlink (an index holds files and folders), or a file not hashed', () => {
    expect(
      tarballIndexOf('sha512-m', [
        ...entries,
        { path: 'link', type: 'symlink', size: 0, mode: 0o777, target: 'run.sh' },
      ]),
    ).toBeUndefined();
    expect(tarballIndexOf('sha512-m', [{ path: 'a.js', type: 'file', size: 1, mode: 0o644 }])).toBeUndefined();
  });
});
