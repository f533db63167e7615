// What the store records of a package: its files and folders as the release's manifest lists them under its folder,
// without the packages nested inside it or the node_modules/ folder that holds them.
import { describe, expect, it } from 'vitest';
import type { ManifestEntry } from '../../../src/store/manifest.ts';
import { entriesByPackage } from '../../../src/stage/reuse/link-previous.ts';
import { packageIndexOf } from '../../../src/stage/reuse/to-store.ts';

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
