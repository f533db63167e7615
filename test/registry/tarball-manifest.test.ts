// A local tarball's manifest read without extracting it (tarball-manifest.ts) is the very manifest pacote gives
// from the extracted tarball; anything it cannot tell the same way is left to pacote (undefined).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pacote from 'pacote';
import { afterAll, describe, expect, it } from 'vitest';
import { fileTarballManifest } from '../../src/registry/tarball-manifest.ts';
import { type TarEntry, encodeTarball } from '../support/bad-tarballs.ts';

const work = mkdtempSync(join(tmpdir(), 'rs-tarball-manifest-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let count = 0;

function tarball(entries: TarEntry[]): string {
  const file = join(work, `t${count++}.tgz`);
  writeFileSync(file, encodeTarball(entries));
  return file;
}

const cache = () => mkdtempSync(join(work, 'cache-'));
const sorted = (manifest: object) => JSON.stringify(manifest, Object.keys(manifest).sort());

describe('fileTarballManifest', () => {
  it("gives pacote's manifest of the tarball: normalised the same, its integrity, where it lies", async () => {
    const pkg = {
      name: 'rs-manifest-app',
      version: '1.2.3',
      bin: 'cli.js',
      dependencies: { x: '^1.0.0' },
      optionalDependencies: { y: '1.0.0' },
      bundleDependencies: true,
      scripts: { postinstall: 'node cli.js' },
      _secret: 'an attribute pacote drops',
    };
    const file = tarball([
      { path: 'package/package.json', content: '{"name": "an earlier copy"}' },
      { path: 'package/cli.js', content: '#!/usr/bin/env node\n' },
      { path: 'package/binding.gyp', content: '{}' },
      { path: 'package/node_modules/x/package.json', content: '{"name":"x","version":"1.0.0"}' },
      // The last one, as an extraction leaves it.
      { path: 'package/package.json', content: JSON.stringify(pkg) },
    ]);
    const ours = await fileTarballManifest(file, `file:${file}`, { cache: cache() });
    const theirs = await pacote.manifest(`file:${file}`, { cache: cache() });
    expect(ours).toBeDefined();
    expect(sorted(ours!)).toEqual(sorted(theirs));
    expect(ours!._integrity).toMatch(/^sha512-/);
  });

  it.each([
    ['no package.json', [{ path: 'package/index.js', content: '1' }]],
    ['a package.json that is not an object', [{ path: 'package/package.json', content: '"a string"' }]],
    ['a package.json that is not JSON', [{ path: 'package/package.json', content: '{' }]],
    [
      'directories.bin (pacote lists the folder)',
      [
        {
          path: 'package/package.json',
          content: JSON.stringify({ name: 'a', version: '1.0.0', directories: { bin: 'b' } }),
        },
        { path: 'package/b/tool', content: '#!/bin/sh\n' },
      ],
    ],
  ] as const)('leaves a tarball with %s to pacote', async (_what, entries) => {
    expect(await fileTarballManifest(tarball([...entries]), 'file:x', { cache: cache() })).toBeUndefined();
  });

  it('leaves a file that is not a tarball to pacote', async () => {
    const file = join(work, 'not.tgz');
    writeFileSync(file, 'not gzip at all');
    expect(await fileTarballManifest(file, `file:${file}`, { cache: cache() })).toBeUndefined();
  });
});
