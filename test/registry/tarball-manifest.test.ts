// A tarball's manifest (a file's, a URL's) read without extracting it (tarball-manifest.ts) is the very manifest pacote
// gives from the extracted tarball; anything it cannot tell the same way is left to pacote (undefined). A URL's
// tarball is fetched once, into npm's cache (where staging takes it from), by a real HTTP server in this process.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import cacache from 'cacache';
import pacote from 'pacote';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileTarballManifest, remoteTarballManifest } from '../../src/registry/tarball-manifest.ts';
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

/** A package.json with what pacote normalises (bin, optional and bundled dependencies, a script, an attribute it drops). */
const PKG = {
  name: 'rs-manifest-app',
  version: '1.2.3',
  bin: 'cli.js',
  dependencies: { x: '^1.0.0' },
  optionalDependencies: { y: '1.0.0' },
  bundleDependencies: true,
  scripts: { postinstall: 'node cli.js' },
  _secret: 'an attribute pacote drops',
};

/** A tarball whose first package.json is an earlier copy, with a bundled package, then the real one (PKG). */
function appTarball(): string {
  return tarball([
    { path: 'package/package.json', content: '{"name": "an earlier copy"}' },
    { path: 'package/cli.js', content: '#!/usr/bin/env node\n' },
    { path: 'package/binding.gyp', content: '{}' },
    { path: 'package/node_modules/x/package.json', content: '{"name":"x","version":"1.0.0"}' },
    // The last one, as an extraction leaves it.
    { path: 'package/package.json', content: JSON.stringify(PKG) },
  ]);
}

/** Every tarball extraction pacote makes (FileFetcher#manifest extracts; a URL's fetcher borrows it). */
const extractions = () => vi.spyOn(Object.getPrototypeOf(pacote.RemoteFetcher.prototype), 'extract');
afterEach(() => vi.restoreAllMocks());

describe('fileTarballManifest', () => {
  it("gives pacote's manifest of the tarball: normalised the same, its integrity, where it lies", async () => {
    const file = appTarball();
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

  it('leaves a truncated tarball to pacote (the listing fails at its end)', async () => {
    const whole = readFileSync(appTarball());
    const file = join(work, 'truncated.tgz');
    writeFileSync(file, whole.subarray(0, whole.length - 40));
    expect(await fileTarballManifest(file, `file:${file}`, { cache: cache() })).toBeUndefined();
  });
});

describe('remoteTarballManifest', () => {
  let server: Server;
  let base: string;
  const gets: string[] = [];

  beforeAll(async () => {
    // Serves the files of `work` by name; 404 for any other.
    server = createServer((req, res) => {
      gets.push(req.url ?? '');
      try {
        const body = readFileSync(join(work, basename(req.url ?? '')));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("gives pacote's manifest of a URL, fetched once into npm's cache and never extracted", async () => {
    const url = `${base}/${basename(appTarball())}`;
    const ourCache = cache();
    const extracted = extractions();
    gets.length = 0;
    const ours = await remoteTarballManifest(url, { cache: ourCache });
    expect(extracted).not.toHaveBeenCalled();
    expect(gets).toEqual([new URL(url).pathname]);
    // Where staging takes it from (fetch.ts downloadTarball: npm's cache, by integrity).
    expect(await cacache.get.hasContent(ourCache, ours!._integrity!)).toBeTruthy();
    const theirs = await pacote.manifest(url, { cache: cache() });
    expect(extracted).toHaveBeenCalledTimes(1); // pacote's own way extracts the whole tarball for its package.json
    expect(ours).toBeDefined();
    expect(sorted(ours!)).toEqual(sorted(theirs));
    expect(ours!._resolved).toBe(url);
  });

  it('leaves a tarball URL with no package.json to pacote, and a URL that fails is an error', async () => {
    const empty = basename(tarball([{ path: 'package/index.js', content: '1' }]));
    expect(await remoteTarballManifest(`${base}/${empty}`, { cache: cache() })).toBeUndefined();
    await expect(
      remoteTarballManifest(`${base}/missing.tgz`, { cache: cache(), retry: { retries: 0 } }),
    ).rejects.toMatchObject({ code: 'E404' });
  });
});
