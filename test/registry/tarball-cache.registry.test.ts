// A registry tarball npm's cache holds is taken from there by a copy checked against its integrity,
// without asking the registry (npm's tarballs are immutable by integrity) and without holding it in
// memory; a cache entry that does not match is never handed on: pacote's way then runs (here, to a
// registry that cannot be reached) and what it says is the outcome.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pacote from 'pacote';
import { describe, expect, inject, it } from 'vitest';
import { downloadTarball, strongestHashes } from '../../dist/registry/fetch.js';
import { tempDir } from '../support/cli.ts';

/** rs-fixture-dep 1.1.0's tarball put into a fresh npm cache, and its integrity and bytes. */
async function cached() {
  const npmCache = tempDir('rs-tarball-cache-');
  const cache = join(npmCache, '_cacache');
  const data = await pacote.tarball('rs-fixture-dep@1.1.0', { cache, registry: inject('registryUrl') });
  return { npmCache, cache, integrity: data.integrity as string, bytes: Buffer.from(data) };
}

/** A download whose registry URL cannot answer: only the cache can give the tarball. */
function download(npmCache: string, integrity: string, dest: string) {
  const pkg = {
    spec: 'rs-fixture-dep@1.1.0',
    name: 'rs-fixture-dep',
    version: '1.1.0',
    resolved: 'http://127.0.0.1:9/rs-fixture-dep/-/rs-fixture-dep-1.1.0.tgz',
    integrity,
  };
  const runtime = { npmConfig: { 'fetch-retries': '0', 'fetch-timeout': '3000' }, npmCache, signal: undefined };
  return downloadTarball(pkg as never, dest, {
    config: { registry: null } as never,
    runtime: runtime as never,
    where: npmCache,
  });
}

describe("the main tarball from npm's cache", () => {
  it('copies it from the cache without the registry, byte for byte', async () => {
    const { npmCache, integrity, bytes } = await cached();
    const dest = join(tempDir('rs-tarball-dest-'), 'package.tgz');
    await expect(download(npmCache, integrity, dest)).resolves.toBe(integrity);
    expect(readFileSync(dest).equals(bytes)).toBe(true);
  });

  it('never hands on a cache entry that does not match its integrity', async () => {
    const { npmCache, cache, integrity } = await cached();
    const { digests } = strongestHashes(integrity)!;
    const hex = Buffer.from(digests[0]!, 'base64').toString('hex');
    const content = join(cache, 'content-v2', 'sha512', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
    writeFileSync(content, 'not the tarball');
    const dest = join(tempDir('rs-tarball-dest-'), 'package.tgz');
    // pacote's way: the registry cannot be reached, and that is what is reported; the bad entry's bytes were not kept.
    await expect(download(npmCache, integrity, dest)).rejects.toMatchObject({
      code: 'FETCH_FAILED',
    });
    expect(existsSync(dest) ? readFileSync(dest, 'utf8') : '').not.toContain('not the tarball');
  });
});

describe('strongestHashes', () => {
  it('takes the strongest algorithm an SRI string names, every digest of it, ignoring options', () => {
    const a = createHash('sha512').update('a').digest('base64');
    const b = createHash('sha512').update('b').digest('base64');
    const s1 = createHash('sha1').update('a').digest('base64');
    expect(strongestHashes(`sha1-${s1} sha512-${a}?foo sha512-${b}`)).toEqual({ algorithm: 'sha512', digests: [a, b] });
    expect(strongestHashes(`sha1-${s1}`)).toEqual({ algorithm: 'sha1', digests: [s1] });
    expect(strongestHashes('md5-abc')).toBeUndefined();
    expect(strongestHashes('')).toBeUndefined();
  });
});
