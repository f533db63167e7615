// The main package's unpack on a worker thread (off-thread.ts) gives what the unpack on our own thread
// gives: the same hashes, counts and progress; an unsafe tarball refused with the same error and
// nothing left; a cancel that ends it with CANCELLED once the thread has stopped writing. It imports
// the built package (dist/): the worker's script is a built module.
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isReleaseSwitcherError } from '../../../dist/model/errors.js';
import { unpack } from '../../../dist/stage/unpack/index.js';
import { unpackOffThread } from '../../../dist/stage/unpack/off-thread.js';
import { type TarEntry, encodeTarball } from '../../support/bad-tarballs.ts';
import { tempDir } from '../../support/cli.ts';

function tarball(entries: TarEntry[]): string {
  const file = join(tempDir('rs-offthread-tgz-'), 'p.tgz');
  writeFileSync(file, encodeTarball(entries));
  return file;
}

/** A package of `n` files with contents of their own (the unpacker refuses near-empty entries en masse). */
function many(n: number): TarEntry[] {
  return [
    { path: 'package/package.json', content: '{"name":"p","version":"1.0.0"}\n' },
    ...Array.from({ length: n }, (_, i) => ({
      path: `package/lib/f${i}.js`,
      content: `module.exports = ${JSON.stringify(createHash('sha512').update(String(i)).digest('hex'))};\n`,
    })),
  ];
}

const settle = (p: Promise<unknown>) =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

describe('unpackOffThread', () => {
  it('gives the hashes, counts and progress the unpack on this thread gives', async () => {
    const file = tarball(many(2500));
    const dest = join(tempDir('rs-offthread-'), 'a');
    const seen: number[] = [];
    const off = await unpackOffThread({
      tarball: file,
      dest,
      skipTop: ['package.json'],
      reportEvery: 1000,
      onEntry: (count) => seen.push(count),
    });
    const here = await unpack({
      tarball: file,
      dest: join(tempDir('rs-offthread-'), 'b'),
      skipKnown: (rel) => rel === 'package.json',
    });
    expect([off.count, off.bytes]).toEqual([here.count, here.bytes]);
    expect(off.count).toBe(2501);
    expect(seen).toEqual([1000, 2000]);
    const hashes = (known: typeof here.known) => new Map([...known].map(([rel, hash]) => [rel, hash.sha256]));
    expect(hashes(off.known)).toEqual(hashes(here.known));
    expect(off.known.has('package.json')).toBe(false);
    // Each hash is tied to the inode it was taken from, as on this thread.
    expect(typeof off.known.get('lib/f0.js')?.ctimeNs).toBe('bigint');
  });

  it('refuses an unsafe tarball with the error the unpack on this thread gives, leaving nothing', async () => {
    const file = tarball([...many(50), { path: 'package/../escape.txt', content: 'escaped\n' }]);
    const work = tempDir('rs-offthread-');
    const off = await settle(unpackOffThread({ tarball: file, dest: join(work, 'a'), skipTop: [] }));
    const here = await settle(unpack({ tarball: file, dest: join(work, 'b') }));
    expect('error' in off && isReleaseSwitcherError(off.error)).toBe(true);
    const [a, b] = [off, here].map((r) => (r as { error: { code: string; message: string; hint: string } }).error);
    expect([a!.code, a!.message, a!.hint]).toEqual([b!.code, b!.message, b!.hint]);
    expect(a!.code).toBe('BAD_TARBALL');
    expect(existsSync(join(work, 'a'))).toBe(false);
    expect(existsSync(join(work, 'escape.txt'))).toBe(false);
  });

  it('stops on cancel: CANCELLED once the thread is done, nothing kept', async () => {
    const file = tarball(many(20_000));
    const dest = join(tempDir('rs-offthread-'), 'a');
    const controller = new AbortController();
    const outcome = await settle(
      unpackOffThread({
        tarball: file,
        dest,
        skipTop: [],
        signal: controller.signal,
        reportEvery: 1000,
        onEntry: () => controller.abort(),
      }),
    );
    expect(outcome).toMatchObject({ error: { code: 'CANCELLED' } });
    expect(existsSync(dest)).toBe(false);
  });
});
