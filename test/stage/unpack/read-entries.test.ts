// A main package's files read back from its tarball (the store takes those its own scripts removed or rewrote):
// by their path inside the package, npm's top folder dropped, only as far as the last one asked for; a repeated entry
// is read at its first (the store then refuses bytes that are not the unpacked later one's); an empty file is an empty
// buffer; directories, links and unasked files are not read.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readTarballFiles } from '../../../src/stage/unpack/read-entries.ts';
import { encodeRaw } from '../../support/bad-tarballs.ts';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'rs-read-entries-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

it('reads exactly the asked files of a tarball, by their path inside the package', async () => {
  const file = join(work, 'p.tgz');
  writeFileSync(
    file,
    encodeRaw([
      { flag: '0', path: 'package/package.json', body: '{"name":"x","version":"1.0.0"}\n' },
      { flag: '5', path: 'package/lib', mode: 0o755 },
      { flag: '0', path: 'package/lib/a.js', body: 'first' },
      { flag: '0', path: 'package/.pending', body: 'pending\n' },
      { flag: '0', path: 'package/empty.txt', body: '' },
      { flag: '2', path: 'package/link', linkpath: 'lib/a.js' },
      { flag: '0', path: 'package/lib/a.js', body: 'second' },
    ]),
  );
  const read = await readTarballFiles(file, new Set(['lib/a.js', '.pending', 'empty.txt', 'link', 'lib', 'absent']));
  expect(Object.fromEntries([...read].map(([rel, bytes]) => [rel, bytes.toString()]))).toEqual({
    'lib/a.js': 'first',
    '.pending': 'pending\n',
    'empty.txt': '',
  });
  expect((await readTarballFiles(file, new Set())).size).toBe(0);
});

it('stops reading once it has every asked file: the rest of the tarball is never read', async () => {
  const file = join(work, 'p.tgz');
  // The asked file first, then 8 MB that gzip cannot shrink, and the tarball cut off in the middle of them: read
  // through, gunzip would fail at the cut.
  const whole = encodeRaw([
    { flag: '0', path: 'package/.pending', body: 'pending\n' },
    { flag: '0', path: 'package/big.bin', body: randomBytes(8 * 1024 * 1024).toString('latin1') },
  ]);
  writeFileSync(file, whole.subarray(0, whole.length / 2));
  expect((await readTarballFiles(file, new Set(['.pending']))).get('.pending')?.toString()).toBe('pending\n');
  await expect(readTarballFiles(file, new Set(['.pending', 'absent']))).rejects.toThrow();
});
