// The one-pass unpacker: hostile tarballs are refused whole with nothing written outside and nothing
// left inside; a good tarball comes out exactly as GNU tar writes it, with the same hashes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unpackTarball } from '../../../src/stage/unpack/unpack.ts';
import { FILE_WRITTEN_TWICE, HOSTILE, encodeRaw, paxBody } from '../../support/bad-tarballs.ts';

const PKG_JSON_BLOCK = { flag: '0', path: 'package/package.json', body: '{"name":"x","version":"1.0.0"}' } as const;

let work: string;
let dest: string;
let outside: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'rs-unpack-'));
  dest = join(work, 'dest');
  outside = join(work, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret\n');
  chmodSync(join(outside, 'secret'), 0o600);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** Nothing outside dest changed: same names, the secret's bytes and 0600 mode; nothing at the absolute target. */
function expectOutsideUntouched(): void {
  expect(readdirSync(outside)).toEqual(['secret']);
  expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret\n');
  expect(statSync(join(outside, 'secret')).mode & 0o7777).toBe(0o600);
  expect(readdirSync(work).sort()).toEqual(['bad.tgz', 'outside']);
  expect(existsSync('/tmp/release-switcher-absolute-escape')).toBe(false);
}

/** The reason each case must be refused for (so a case refused by accident for another fault fails). */
const WHY: Record<string, RegExp> = {
  'pax path + GNU long name on one entry': /named both/,
  'PAX linkpath + GNU long link disagree': /a link to both/,
  'two PAX headers before one entry': /two 'x' headers/,
  'global PAX linkpath': /global PAX header sets linkpath/,
  'global PAX path': /global PAX header sets path/,
  'PAX GNU.sparse keys on a regular file': /GNU\.sparse\.major/,
  'unknown type flag Z': /type 'Z' entry/,
  'GNU sparse S': /GNU sparse file entry/,
  'hard link': /hard link entry/,
  fifo: /fifo entry/,
  'symlink chain through links each lexically inside': /symlink d1\/d2\/b -> a\/\.\.\/\.\. leads outside/,
  'symlink that escapes only through a later link': /symlink d1\/d2\/b -> a\/\.\.\/\.\. leads outside/,
  'symlink then a file written through it': /lib\/x\.js would be written through the symlink lib/,
  'escaping symlink then a file through it': /symlink lib -> \.\.\/\.\.\/outside leads outside/,
  'absolute path': /absolute path/,
  'dot-dot path': /climbs out/,
  'setuid bit': /setuid/,
  'directory replaced by a symlink later': /lib appears twice \(?.*dir, then symlink/,
  'file replaced by a symlink': /a\.js appears twice.*file, then symlink/,
  'directory with a body': /dir entry with a body/,
  'file entry named like a directory': /file entry named like a directory/,
  'PAX type key': /does not honour: type/,
};

describe('unpackTarball refuses hostile tarballs whole', () => {
  it('has a reason for every hostile case', () => expect(Object.keys(WHY).sort()).toEqual(Object.keys(HOSTILE).sort()));

  it.each(Object.keys(HOSTILE))('%s → BAD_TARBALL, nothing written', async (name) => {
    const file = join(work, 'bad.tgz');
    writeFileSync(file, encodeRaw(HOSTILE[name]!));
    const error = await unpackTarball({ source: file, dest, strip: 1 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BAD_TARBALL', message: expect.stringMatching(/^The tarball is unsafe/) });
    expect((error as Error).message).toMatch(WHY[name]!);
    expect(existsSync(dest)).toBe(false);
    expectOutsideUntouched();
  });

  it('empties a dest that existed (and keeps the folder) when refusing', async () => {
    mkdirSync(dest);
    const file = join(work, 'bad.tgz');
    writeFileSync(file, encodeRaw(HOSTILE['file replaced by a symlink']!));
    await expect(unpackTarball({ source: file, dest, strip: 1 })).rejects.toMatchObject({ code: 'BAD_TARBALL' });
    expect(readdirSync(dest)).toEqual([]);
  });

  it("old npm's NODETAR.* PAX notes are read past (real dependencies of openclaw carry them); a real key beside them still counts", async () => {
    const file = join(work, 'nodetar.tgz');
    const notes = { 'NODETAR.depth': '1', 'NODETAR.type': 'File', 'NODETAR.package.name': 'old' };
    writeFileSync(
      file,
      encodeRaw([
        { flag: 'g', path: 'pax_global_header', body: paxBody(notes) },
        { flag: 'x', path: 'PaxHeader', body: paxBody({ ...notes, path: 'package/long-name.js' }) },
        { flag: '0', path: 'package/short', body: 'x' },
      ]),
    );
    await unpackTarball({ source: file, dest, strip: 1 });
    expect(readFileSync(join(dest, 'long-name.js'), 'utf8')).toBe('x');
    expect(existsSync(join(dest, 'short'))).toBe(false);
  });

  it('a file entry repeated is not hostile: the later one wins, as under npm (openclaw 2026.9.5 ships dist/index.js twice)', async () => {
    const file = join(work, 'twice.tgz');
    writeFileSync(file, encodeRaw(FILE_WRITTEN_TWICE));
    const result = await unpackTarball({ source: file, dest, strip: 1 });
    expect(readFileSync(join(dest, 'a.js'), 'utf8')).toBe('two');
    const entries = result.entries.filter((e) => e.path === 'a.js');
    expect(entries).toEqual([
      expect.objectContaining({ type: 'file', size: 3, sha256: createHash('sha256').update('two').digest('hex') }),
    ]);
  });

  it('refuses a truncated tarball as corrupt and removes what it wrote', async () => {
    const whole = encodeRaw([
      { flag: '0', path: 'package/package.json', body: '{}' },
      { flag: '0', path: 'package/big', body: 'x'.repeat(200_000) },
    ]);
    const file = join(work, 'bad.tgz');
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    await expect(unpackTarball({ source: file, dest, strip: 1 })).rejects.toMatchObject({
      code: 'BAD_TARBALL',
      message: /truncated or corrupt/,
    });
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses a lone zero block followed by more entries', async () => {
    const good = encodeRaw([{ flag: '0', path: 'package/a', body: 'a' }]);
    const raw = execFileSync('gzip', ['-dc'], { input: good });
    const tail = execFileSync('gzip', ['-dc'], { input: encodeRaw([{ flag: '0', path: 'package/b', body: 'b' }]) });
    const file = join(work, 'bad.tgz');
    writeFileSync(file, gzipSync(Buffer.concat([raw.subarray(0, 1024), Buffer.alloc(512), tail])));
    await expect(unpackTarball({ source: file, dest, strip: 1 })).rejects.toMatchObject({
      code: 'BAD_TARBALL',
      message: /lone zero block/,
    });
    expect(existsSync(dest)).toBe(false);
  });
});

describe('unpackTarball with files an earlier release holds (linkable)', () => {
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  it("does not write a file the callback names a source for: the entry says where to link it from, with the tarball's hash", async () => {
    const file = join(work, 'same.tgz');
    writeFileSync(
      file,
      encodeRaw([
        PKG_JSON_BLOCK,
        { flag: '0', path: 'package/same.js', body: 'same' },
        { flag: '0', path: 'package/new.js', body: 'new' },
        { flag: '0', path: 'package/empty.js', body: '' },
      ]),
    );
    const asked: string[] = [];
    const result = await unpackTarball({
      source: file,
      dest,
      strip: 1,
      linkable: (entry) => {
        asked.push(entry.path);
        return entry.sha256 === sha('same') || entry.size === 0 ? '/earlier/same.js' : undefined;
      },
    });
    expect(existsSync(join(dest, 'same.js'))).toBe(false);
    expect(readFileSync(join(dest, 'new.js'), 'utf8')).toBe('new');
    // An empty file is always written (a link saves nothing), without asking.
    expect(readFileSync(join(dest, 'empty.js'), 'utf8')).toBe('');
    expect(asked.sort()).toEqual(['new.js', 'package.json', 'same.js']);
    expect(result.entries.find((e) => e.path === 'same.js')).toEqual(
      expect.objectContaining({
        type: 'file',
        size: 4,
        mode: 0o644,
        sha256: sha('same'),
        linkFrom: '/earlier/same.js',
      }),
    );
    expect(result.entries.find((e) => e.path === 'new.js')?.linkFrom).toBeUndefined();
  });

  it('a repeated name: a later entry replaces a deferred one (written), and a written one is never replaced by a link', async () => {
    const file = join(work, 'twice.tgz');
    writeFileSync(
      file,
      encodeRaw([
        PKG_JSON_BLOCK,
        { flag: '0', path: 'package/a.js', body: 'same' },
        { flag: '0', path: 'package/a.js', body: 'two' },
        { flag: '0', path: 'package/b.js', body: 'one' },
        { flag: '0', path: 'package/b.js', body: 'same' },
      ]),
    );
    const result = await unpackTarball({
      source: file,
      dest,
      strip: 1,
      linkable: (entry) => (entry.sha256 === sha('same') ? '/earlier/same.js' : undefined),
    });
    expect(readFileSync(join(dest, 'a.js'), 'utf8')).toBe('two');
    expect(result.entries.filter((e) => e.path === 'a.js')).toEqual([expect.objectContaining({ sha256: sha('two') })]);
    expect(result.entries.find((e) => e.path === 'a.js')?.linkFrom).toBeUndefined();
    // b.js was written first: its later entry is written over it, not deferred to a link.
    expect(readFileSync(join(dest, 'b.js'), 'utf8')).toBe('same');
    expect(result.entries.filter((e) => e.path === 'b.js')).toEqual([expect.objectContaining({ sha256: sha('same') })]);
    expect(result.entries.find((e) => e.path === 'b.js')?.linkFrom).toBeUndefined();
  });
});

describe('unpackTarball on a good tarball', () => {
  it('writes what GNU tar writes, with sha256 equal to sha256sum, npm modes, and the package/ prefix stripped', async () => {
    const src = join(work, 'src', 'package');
    const long = `lib/${'deep-name-'.repeat(12)}/file.js`; // > 100 bytes: a PAX or GNU long name
    mkdirSync(join(src, long, '..'), { recursive: true });
    writeFileSync(join(src, 'package.json'), '{"name":"good","version":"1.0.0"}\n');
    writeFileSync(join(src, long), 'module.exports = 1;\n');
    writeFileSync(join(src, 'cli.js'), '#!/usr/bin/env node\n');
    chmodSync(join(src, 'cli.js'), 0o700); // npm: ((mode | 0o666) & ~0o022) | 0o600 → 0744 (the x bits it had, no more)
    writeFileSync(join(src, 'private.txt'), 'p');
    chmodSync(join(src, 'private.txt'), 0o600); // → 0644
    symlinkSync('cli.js', join(src, 'alias.js'));
    const file = join(work, 'good.tgz');
    await tar.c({ gzip: true, file, cwd: join(work, 'src'), portable: true }, ['package']);

    const result = await unpackTarball({ source: file, dest, strip: 1 });
    const gnu = join(work, 'gnu');
    mkdirSync(gnu);
    execFileSync('tar', ['-xzf', file, '-C', gnu, '--strip-components=1']);
    const sums = execFileSync('sh', ['-c', 'find . -type f -print0 | xargs -0 sha256sum'], {
      cwd: gnu,
      encoding: 'utf8',
    });
    const expected = Object.fromEntries(
      sums
        .trim()
        .split('\n')
        .map((line) => [line.slice(66).replace(/^\.\//, ''), line.slice(0, 64)]),
    );
    const ours = Object.fromEntries(
      result.entries.filter((entry) => entry.type === 'file').map((entry) => [entry.path, entry.sha256]),
    );
    expect(ours).toEqual(expected);
    expect(result.files).toBe(4);
    expect(result.bytes).toBe(Object.keys(expected).reduce((sum, rel) => sum + statSync(join(gnu, rel)).size, 0));
    const listing = (root: string) =>
      execFileSync('sh', ['-c', "find . -printf '%y %p %l\\n' | sort"], { cwd: root, encoding: 'utf8' });
    expect(listing(dest)).toBe(listing(gnu));
    expect(statSync(join(dest, 'cli.js')).mode & 0o7777).toBe(0o744);
    expect(statSync(join(dest, 'private.txt')).mode & 0o7777).toBe(0o644);
    expect(statSync(join(dest, 'lib')).mode & 0o7777).toBe(0o755);
    expect(result.entries.find((entry) => entry.path === 'alias.js')).toMatchObject({
      type: 'symlink',
      target: 'cli.js',
    });
    expect(lstatSync(join(dest, 'alias.js')).isSymbolicLink()).toBe(true);
  });

  it('accepts a stream, a PAX path equal to the GNU long name, and a global header with only a comment', async () => {
    const tgz = encodeRaw([
      { flag: 'g', path: 'pax_global_header', body: paxBody({ comment: 'git commit 0123' }) },
      { flag: 'x', path: 'PaxHeader', body: paxBody({ path: 'package/same.txt' }) },
      { flag: 'L', path: '././@LongLink', body: 'package/same.txt\0' },
      { flag: '0', path: 'package/ignored', body: 'same' },
      { flag: '0', path: 'top-level-file', body: 'skipped: nothing left after strip 1' },
    ]);
    const result = await unpackTarball({ source: Readable.from([tgz]), dest, strip: 1 });
    expect(result.entries.map((entry) => entry.path)).toEqual(['same.txt']);
    expect(readFileSync(join(dest, 'same.txt'), 'utf8')).toBe('same');
  });

  it('writes a file larger than what it holds in memory (written as it arrives) with the right hash', async () => {
    const big = Buffer.alloc(40 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i); // not all zeros, still compressible
    const file = join(work, 'big.tgz');
    writeFileSync(file, encodeRaw([{ flag: '0', path: 'package/big.bin', body: big }]));
    const result = await unpackTarball({ source: file, dest, strip: 1 });
    expect(result.entries[0]).toMatchObject({
      path: 'big.bin',
      size: big.length,
      sha256: createHash('sha256').update(big).digest('hex'),
    });
    expect(readFileSync(join(dest, 'big.bin')).equals(big)).toBe(true);
  });

  it("with symlinks: 'skip' writes no link (as npm's extract) but still refuses one that climbs out", async () => {
    const file = join(work, 'links.tgz');
    writeFileSync(
      file,
      encodeRaw([
        { flag: '0', path: 'package/a.js', body: 'a' },
        { flag: '2', path: 'package/b.js', linkpath: 'a.js' },
      ]),
    );
    const result = await unpackTarball({ source: file, dest, strip: 1, symlinks: 'skip' });
    expect(result.entries.map((entry) => entry.path)).toEqual(['a.js']);
    expect(readdirSync(dest)).toEqual(['a.js']);
    rmSync(dest, { recursive: true });
    writeFileSync(
      file,
      encodeRaw([
        { flag: '0', path: 'package/a.js', body: 'a' },
        { flag: '2', path: 'package/b.js', linkpath: '../../outside/secret' },
      ]),
    );
    await expect(unpackTarball({ source: file, dest, strip: 1, symlinks: 'skip' })).rejects.toMatchObject({
      code: 'BAD_TARBALL',
      message: /leads outside/,
    });
    expect(existsSync(dest)).toBe(false);
  });

  it('stops on abort mid-way, removes everything and says CANCELLED', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({
      flag: '0',
      path: `package/d${i % 30}/f${i}.js`,
      body: `module.exports = ${i};\n`,
    }));
    const file = join(work, 'many.tgz');
    writeFileSync(file, encodeRaw(many));
    const controller = new AbortController();
    let seen = 0;
    const run = unpackTarball({
      source: file,
      dest,
      strip: 1,
      signal: controller.signal,
      onEntry: (count) => {
        seen = count;
        if (count === 500) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toBeGreaterThanOrEqual(500);
    expect(seen).toBeLessThan(3000);
    expect(existsSync(dest)).toBe(false);
  });
});
