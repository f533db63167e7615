// The content-addressed store on its own (no registry, no CLI): a file goes in once and is never written again, an
// index reads back as written and anything else reads as absent, garbage collection removes exactly what nothing
// else links, and doctor's check finds a file whose content is not its name.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type StoreIndex,
  addBytes,
  addFile,
  holdsAll,
  indexKey,
  prepareStore,
  readIndex,
  writeIndex,
} from '../../src/store/content-store.ts';
import { collectStoreGarbage } from '../../src/store/store-gc.ts';
import { checkStore } from '../../src/store/store-verify.ts';
import { layoutOf } from '../../src/store/layout.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function freshLayout() {
  const dir = mkdtempSync(join(tmpdir(), 'rs-cas-unit-'));
  dirs.push(dir);
  return { layout: layoutOf(join(dir, 'root')), work: dir };
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A sealed file (mode 0444 unless said) holding `text`, as staging leaves one before the store takes it. */
function sealedFile(
  dir: string,
  name: string,
  text: string,
  mode = 0o444,
): { abs: string; sha256: string; mode: number; size: number } {
  const abs = join(dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(abs, text);
  chmodSync(abs, mode);
  return { abs, sha256: sha(text), mode, size: Buffer.byteLength(text) };
}

describe('store files', () => {
  it('are written once: a second add of the same content and mode finds it there, and the first inode stays', async () => {
    const { layout, work } = freshLayout();
    await prepareStore(layout);
    const one = sealedFile(join(work, 'r1'), 'a.js', 'same\n');
    const two = sealedFile(join(work, 'r2'), 'a.js', 'same\n');
    expect(addFile(layout, one.abs, one)).toBe('linked');
    const stored = layout.storeFile(one.sha256, one.mode);
    const before = lstatSync(stored, { bigint: true });
    expect(before.ino).toBe(lstatSync(one.abs, { bigint: true }).ino);
    expect(addFile(layout, two.abs, two)).toBe('present');
    const after = lstatSync(stored, { bigint: true });
    // Not replaced, not written: the same inode, content and ctime.
    expect(after.ino).toBe(before.ino);
    expect(after.ctimeNs).toBe(before.ctimeNs);
    expect(readFileSync(stored, 'utf8')).toBe('same\n');
    expect(after.mode & 0o777n).toBe(0o444n);
    expect(stored.endsWith(`/files/${one.sha256.slice(0, 2)}/${one.sha256}-444`)).toBe(true);
  });

  it('one name per content and mode: the same bytes executable are another store file', async () => {
    const { layout, work } = freshLayout();
    const plain = sealedFile(join(work, 'r1'), 'cli.js', '#!/bin/sh\n');
    const exec = sealedFile(join(work, 'r2'), 'cli.js', '#!/bin/sh\n', 0o555);
    expect(addFile(layout, plain.abs, plain)).toBe('linked');
    expect(addFile(layout, exec.abs, exec)).toBe('linked');
    expect(lstatSync(layout.storeFile(exec.sha256, 0o555)).mode & 0o777).toBe(0o555);
  });

  it('never takes a file still writable, or one whose mode or size is not what is claimed', async () => {
    const { layout, work } = freshLayout();
    const writable = sealedFile(join(work, 'r1'), 'w.js', 'w\n', 0o644);
    expect(addFile(layout, writable.abs, { ...writable, mode: 0o444 })).toBe('mismatch');
    expect(existsSync(layout.storeFile(writable.sha256, 0o444))).toBe(false);
    const sealed = sealedFile(join(work, 'r2'), 's.js', 's\n');
    expect(addFile(layout, sealed.abs, { ...sealed, size: 99 })).toBe('mismatch');
  });
});

describe('store files from bytes (a main package’s file its own script removed or rewrote, read back from its tarball)', () => {
  it('go in sealed, under a temp name first; bytes that are not what the name says go nowhere', async () => {
    const { layout } = freshLayout();
    await prepareStore(layout);
    const bytes = Buffer.from('marker\n');
    const file = { sha256: sha('marker\n'), mode: 0o444, size: bytes.length };
    expect(addBytes(layout, Buffer.from('other!\n'), file)).toBe('mismatch');
    expect(existsSync(layout.storeFile(file.sha256, file.mode))).toBe(false);
    expect(addBytes(layout, bytes, file)).toBe('copied');
    const stored = layout.storeFile(file.sha256, file.mode);
    expect(readFileSync(stored, 'utf8')).toBe('marker\n');
    expect(lstatSync(stored).mode & 0o777).toBe(0o444);
    expect(lstatSync(stored).nlink).toBe(1);
    expect(addBytes(layout, bytes, file)).toBe('present');
    expect(readdirSync(dirname(stored))).toEqual([basename(stored)]);
  });
});

describe('store indexes', () => {
  it('read back as written, by integrity; a broken or foreign one reads as absent', async () => {
    const { layout } = freshLayout();
    const index: StoreIndex = {
      integrity: 'sha512-abc+/=',
      files: {
        'index.js': { sha256: sha('x'), mode: 0o444, size: 1 },
        'lib/a.js': { sha256: sha('y'), mode: 0o555, size: 1 },
      },
      dirs: ['lib'],
    };
    await writeIndex(layout, index);
    expect(await readIndex(layout, index.integrity)).toEqual(index);
    expect(await readIndex(layout, 'sha512-other')).toBeUndefined();
    const file = layout.storeIndexFile(indexKey(index.integrity));
    expect(file.endsWith(`/index/${indexKey(index.integrity).slice(0, 2)}/${indexKey(index.integrity)}.json`)).toBe(
      true,
    );
    // Cut short, or naming a path outside the package, or a writable mode: ignored.
    writeFileSync(file, '{"integrity": "sha512-abc+/=", "fil');
    expect(await readIndex(layout, index.integrity)).toBeUndefined();
    writeFileSync(file, JSON.stringify({ ...index, files: { '../x': index.files['index.js'] } }));
    expect(await readIndex(layout, index.integrity)).toBeUndefined();
    writeFileSync(file, JSON.stringify({ ...index, files: { 'a.js': { ...index.files['index.js'], mode: 0o644 } } }));
    expect(await readIndex(layout, index.integrity)).toBeUndefined();
    // Another package's index under this one's name.
    writeFileSync(file, JSON.stringify({ ...index, integrity: 'sha512-other' }));
    expect(await readIndex(layout, index.integrity)).toBeUndefined();
  });

  it('a main package’s (its tarball whole) is kept apart from the same package’s as a dependency, and garbage-collected alike', async () => {
    const { layout, work } = freshLayout();
    await prepareStore(layout);
    const a = sealedFile(join(work, 'r'), 'a.js', 'a\n');
    expect(addFile(layout, a.abs, a)).toBe('linked');
    const dependency: StoreIndex = { integrity: 'sha512-p', files: { 'a.js': a }, dirs: [] };
    const main: StoreIndex = { ...dependency, files: { 'a.js': a, 'node_modules/b/x.js': a }, tarball: true };
    await writeIndex(layout, dependency);
    await writeIndex(layout, main);
    expect(indexKey('sha512-p', true)).not.toBe(indexKey('sha512-p'));
    expect(await readIndex(layout, 'sha512-p')).toEqual(dependency);
    expect(await readIndex(layout, 'sha512-p', true)).toEqual(main);
    // One under the other's name reads as absent.
    writeFileSync(layout.storeIndexFile(indexKey('sha512-p')), JSON.stringify(main));
    expect(await readIndex(layout, 'sha512-p')).toBeUndefined();
    await writeIndex(layout, dependency);
    // A collection keeps both while their file is stored (a second name: the staged one), and checks them alike.
    expect(await collectStoreGarbage(layout)).toEqual({ files: 0, bytes: 0, indexes: 0 });
    expect((await checkStore(layout, { all: true })).problems).toEqual([]);
    rmSync(a.abs);
    expect(await collectStoreGarbage(layout)).toMatchObject({ files: 1, indexes: 2 });
  });

  it('hold a package only while every file it names (empty ones aside) is in the store', async () => {
    const { layout, work } = freshLayout();
    const a = sealedFile(join(work, 'r'), 'a.js', 'a\n');
    const index: StoreIndex = {
      integrity: 'sha512-pkg',
      files: { 'a.js': a, 'empty.txt': { sha256: sha(''), mode: 0o444, size: 0 } },
      dirs: [],
    };
    expect(holdsAll(layout, index)).toBe(false);
    addFile(layout, a.abs, a);
    expect(holdsAll(layout, index)).toBe(true);
  });
});

describe('garbage collection', () => {
  it('removes the files nothing else links, then the indexes whose files are gone, and leftover temp names', async () => {
    const { layout, work } = freshLayout();
    const kept = sealedFile(join(work, 'release'), 'kept.js', 'kept\n');
    const gone = sealedFile(join(work, 'release'), 'gone.js', 'gone\n');
    addFile(layout, kept.abs, kept);
    addFile(layout, gone.abs, gone);
    const keptIndex: StoreIndex = { integrity: 'sha512-kept', files: { 'kept.js': kept }, dirs: [] };
    const goneIndex: StoreIndex = { integrity: 'sha512-gone', files: { 'kept.js': kept, 'gone.js': gone }, dirs: [] };
    await writeIndex(layout, keptIndex);
    await writeIndex(layout, goneIndex);
    // The release that linked gone.js is removed; a copy killed before its link left a temp name.
    rmSync(gone.abs);
    const leftover = join(layout.storeFiles, kept.sha256.slice(0, 2), `.${kept.sha256}-444.tmp-1-abcd`);
    writeFileSync(leftover, 'half');
    const removed = await collectStoreGarbage(layout);
    expect(removed).toEqual({ files: 1, bytes: gone.size, indexes: 1 });
    expect(existsSync(layout.storeFile(gone.sha256, gone.mode))).toBe(false);
    expect(existsSync(layout.storeFile(kept.sha256, kept.mode))).toBe(true);
    expect(existsSync(leftover)).toBe(false);
    expect(await readIndex(layout, 'sha512-kept')).toEqual(keptIndex);
    expect(await readIndex(layout, 'sha512-gone')).toBeUndefined();
    // Nothing more to do: a second pass removes nothing.
    expect(await collectStoreGarbage(layout)).toEqual({ files: 0, bytes: 0, indexes: 0 });
  });

  it('keeps a file any second name links (a staging killed midway, a second release)', async () => {
    const { layout, work } = freshLayout();
    const file = sealedFile(join(work, 'staging'), 'f.js', 'f\n');
    addFile(layout, file.abs, file);
    linkSync(file.abs, join(work, 'second-name'));
    rmSync(file.abs);
    expect((await collectStoreGarbage(layout)).files).toBe(0);
    expect(existsSync(layout.storeFile(file.sha256, file.mode))).toBe(true);
  });

  it('of a root without a store does nothing', async () => {
    const { layout } = freshLayout();
    expect(await collectStoreGarbage(layout)).toEqual({ files: 0, bytes: 0, indexes: 0 });
  });
});

describe("doctor's store check", () => {
  it('finds a file whose content is not its name, and an unreadable index; counts an incomplete one apart', async () => {
    const { layout, work } = freshLayout();
    const good = sealedFile(join(work, 'r'), 'good.js', 'good\n');
    const bad = sealedFile(join(work, 'r'), 'bad.js', 'bad!\n');
    addFile(layout, good.abs, good);
    addFile(layout, bad.abs, bad);
    await writeIndex(layout, { integrity: 'sha512-ok', files: { 'good.js': good }, dirs: [] });
    await writeIndex(layout, {
      integrity: 'sha512-partial',
      files: { 'x.js': { sha256: sha('x'), mode: 0o444, size: 1 } },
      dirs: [],
    });
    expect((await checkStore(layout, { all: true })).problems).toEqual([]);
    const stored = layout.storeFile(bad.sha256, bad.mode);
    chmodSync(stored, 0o644);
    writeFileSync(stored, 'evil\n');
    chmodSync(stored, 0o444);
    const broken = layout.storeIndexFile(indexKey('sha512-broken'));
    mkdirSync(dirname(broken), { recursive: true });
    writeFileSync(broken, '{');
    const report = await checkStore(layout, { all: true });
    expect(report.problems).toHaveLength(2);
    expect(report.problems).toContain(
      `files/${bad.sha256.slice(0, 2)}/${bad.sha256}-444: content does not match its name`,
    );
    expect(report.problems).toContain(`${relative(layout.store, broken)}: not a valid index`);
    expect(report).toMatchObject({ files: 2, checked: 2, indexes: 3, incomplete: 1 });
  });
});
