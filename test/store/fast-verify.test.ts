// The fast activation check: stat fingerprints recorded after sealing, one lstat per entry, a re-hash
// only where an inode moved. Tampering that puts size and mtime back is still caught (ctime moved),
// on an inode shared by two releases too; our own dedupe links into an earlier release do not raise it.
import { execFileSync } from 'node:child_process';
import { chmodSync, renameSync, statSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { stageReleaseForTest } from '../support/sealed.ts';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { RECORD_VERSION, fingerprintOf, readFingerprints, readRecord } from '../../src/store/fingerprints.ts';
import { layoutOf } from '../../src/store/layout.ts';
import {
  ProvenInodes,
  checkReleaseFast,
  proveWayBack,
  verifyRelease,
  verifyReleaseFast,
} from '../../src/store/release.ts';
import { tempDir } from '../support/cli.ts';
import { unfreeze } from '../support/root.ts';

const FILES = {
  'package.json': '{"name":"app","version":"1.0.0"}',
  'index.js': 'console.log("one")\n',
  'lib/util.js': 'module.exports = 1;\n',
};

/** Rewrite a file with same-length content and put its mtime back to the nanosecond, as a careful tamperer would. */
function tamperKeepingSizeAndMtime(file: string, content: string): void {
  const before = statSync(file, { bigint: true });
  expect(BigInt(Buffer.byteLength(content))).toBe(before.size);
  const reference = join(tempDir(), 'times');
  writeFileSync(reference, '');
  execFileSync('touch', ['-r', file, reference]); // touch -r copies nanoseconds; utimes(2) from JS rounds them
  unfreeze(file, join(file, '..')); // as root, a tamperer clears the immutable attribute first
  chmodSync(join(file, '..'), 0o755);
  chmodSync(file, 0o644);
  writeFileSync(file, content);
  chmodSync(file, Number(before.mode) & 0o7777);
  chmodSync(join(file, '..'), 0o555);
  execFileSync('touch', ['-r', reference, file]);
  const after = statSync(file, { bigint: true });
  expect([after.size, after.mtimeNs, after.ino]).toEqual([before.size, before.mtimeNs, before.ino]);
}

async function expectTampered(check: Promise<unknown>, path: string): Promise<void> {
  const error = await check.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isReleaseSwitcherError(error) && error.code).toBe('RELEASE_TAMPERED');
  expect((error as { details: { problems: string[] } }).details.problems).toEqual([`${path}: content changed`]);
}

/** Replace 1.0.0's lib/util.js by another inode with the same size and mode, other content (a rename, as an editor saves). */
function replaceOldUtil(layout: ReturnType<typeof layoutOf>): void {
  const lib = join(layout.release('1.0.0'), 'lib');
  unfreeze(lib, join(lib, 'util.js'));
  chmodSync(lib, 0o755);
  writeFileSync(join(lib, '.swap'), 'module.exports = 3;\n'); // same size, other content, another inode
  chmodSync(join(lib, '.swap'), Number(statSync(join(lib, 'util.js')).mode) & 0o7777);
  renameSync(join(lib, '.swap'), join(lib, 'util.js'));
  chmodSync(lib, 0o555);
}

describe('fingerprintOf', () => {
  it('is dev:ino:size:mtimeNs:ctimeNs:mode of the stat it is given, whatever came before (it keeps the last decimal of each field)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a'), 'a');
    writeFileSync(join(dir, 'b'), 'bb');
    chmodSync(join(dir, 'b'), 0o600);
    const stats = ['a', 'b', '.', 'a', 'a', 'b', '.'].map((name) => statSync(join(dir, name), { bigint: true }));
    // a run of one value, then another, then back: each field follows its own stat
    const fake = (over: Partial<Record<'dev' | 'mtimeNs' | 'ctimeNs' | 'mode', bigint>>) =>
      ({ ...stats[0]!, ...over }) as (typeof stats)[0];
    stats.push(fake({ ctimeNs: 1n }), fake({}), fake({ mtimeNs: 2n, dev: 3n }), fake({ mode: 4n }), fake({}));
    for (const stat of stats)
      expect(fingerprintOf(stat)).toBe(
        `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.mode}`,
      );
  });
});

describe('verifyReleaseFast', () => {
  it('passes an untouched release and records fingerprints for every entry', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    const record = await readFingerprints(layout, '1.0.0');
    expect(Object.keys(record!.entries).sort()).toEqual(['index.js', 'lib', 'lib/util.js', 'package.json']);
    const marker = await verifyReleaseFast(layout, '1.0.0');
    expect(marker).toEqual(await verifyRelease(layout, '1.0.0'));
  });

  it('catches content changed with size and mtime restored', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    tamperKeepingSizeAndMtime(join(layout.release('1.0.0'), 'index.js'), 'console.log("evil")');
    await expectTampered(verifyReleaseFast(layout, '1.0.0'), 'index.js');
    // and keeps catching it: a failed check refreshes nothing
    await expectTampered(verifyReleaseFast(layout, '1.0.0'), 'index.js');
  });

  it('catches tampering on an inode shared by two releases, in both', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    await stageReleaseForTest(layout, '1.1.0', { ...FILES, 'index.js': 'console.log("two")\n' }, ['1.0.0']);
    const shared = join(layout.release('1.1.0'), 'lib/util.js');
    expect(statSync(shared).ino).toBe(statSync(join(layout.release('1.0.0'), 'lib/util.js')).ino);
    tamperKeepingSizeAndMtime(shared, 'module.exports = 2;\n');
    await expectTampered(verifyReleaseFast(layout, '1.0.0'), 'lib/util.js');
    await expectTampered(verifyReleaseFast(layout, '1.1.0'), 'lib/util.js');
  });

  it('a second install that dedupes against the first leaves the first passing, without re-hashing', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    const ctimeBefore = statSync(join(layout.release('1.0.0'), 'lib/util.js'), { bigint: true }).ctimeNs;
    await stageReleaseForTest(layout, '1.1.0', { ...FILES, 'index.js': 'console.log("two")\n' }, ['1.0.0']);
    const ctimeAfter = statSync(join(layout.release('1.0.0'), 'lib/util.js'), { bigint: true }).ctimeNs;
    expect(ctimeAfter).not.toBe(ctimeBefore); // the link did move the shared inode's ctime
    const record = await readFingerprints(layout, '1.0.0');
    expect(record!.entries['lib/util.js']).toContain(`:${ctimeAfter}:`); // carried forward, not left stale
    await expect(verifyReleaseFast(layout, '1.0.0')).resolves.toMatchObject({ version: '1.0.0' });
    await expect(verifyReleaseFast(layout, '1.1.0')).resolves.toMatchObject({ version: '1.1.0' });
  });

  it('the way back looks once at the inodes it shares with the target, below an unchanged directory', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    await stageReleaseForTest(layout, '1.1.0', { ...FILES, 'index.js': 'console.log("two")\n' }, ['1.0.0']);
    const lstat = vi.spyOn(fs, 'lstatSync');
    onTestFinished(() => lstat.mockRestore());
    const proven = new ProvenInodes();
    await verifyReleaseFast(layout, '1.1.0', proven);
    expect(lstat).toHaveBeenCalledTimes(4); // lib, index.js, lib/util.js, package.json
    lstat.mockClear();
    await expect(proveWayBack(layout, '1.0.0', proven)).resolves.toMatchObject({ proven: true });
    // lib/util.js is the target's inode, just seen intact: only lib and the top-level entries are looked at
    expect(lstat.mock.calls.map(([p]) => String(p).slice(layout.release('1.0.0').length + 1)).sort()).toEqual([
      'index.js',
      'lib',
      'package.json',
    ]);
  });

  it('a shared name replaced in the way back is caught even though its old inode was proven through the target', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    await stageReleaseForTest(layout, '1.1.0', { ...FILES, 'index.js': 'console.log("two")\n' }, ['1.0.0']);
    replaceOldUtil(layout);
    const proven = new ProvenInodes();
    await expect(verifyReleaseFast(layout, '1.1.0', proven)).resolves.toMatchObject({ version: '1.1.0' });
    const back = await proveWayBack(layout, '1.0.0', proven);
    expect(back).toMatchObject({ version: '1.0.0', proven: false });
    expect((back as { error: { details: { problems: string[] } } }).error.details.problems).toEqual([
      'lib/util.js: content changed',
    ]);
  });

  it('the way back looks once at the shared inodes when its paths do not line up with the target (an added file shifts them), and still catches a name replaced', async () => {
    const layout = layoutOf(tempDir());
    // Enough entries out of line that the proof is looked up by fingerprint, not by index.
    const many = Object.fromEntries(
      Array.from({ length: ProvenInodes.MISSES_BEFORE_SET + 100 }, (_, i) => [
        `lib/f${i}.js`,
        `module.exports = ${i};\n`,
      ]),
    );
    await stageReleaseForTest(layout, '1.0.0', { ...FILES, ...many });
    await stageReleaseForTest(
      layout,
      '1.1.0',
      { ...FILES, ...many, 'lib/a.js': 'first in line\n', 'index.js': 'console.log("two")\n' },
      ['1.0.0'],
    );
    const lstat = vi.spyOn(fs, 'lstatSync');
    onTestFinished(() => lstat.mockRestore());
    let proven = new ProvenInodes();
    await verifyReleaseFast(layout, '1.1.0', proven);
    lstat.mockClear();
    await expect(proveWayBack(layout, '1.0.0', proven)).resolves.toMatchObject({ proven: true });
    // The first misses cost an lstat each (cheaper than building the set); past them, the shared inodes are not looked at again.
    const looked = lstat.mock.calls.map(([p]) => String(p).slice(layout.release('1.0.0').length + 1));
    expect(looked.filter((rel) => !rel.startsWith('lib/')).sort()).toEqual(['index.js', 'lib', 'package.json']);
    expect(looked).toHaveLength(3 + ProvenInodes.MISSES_BEFORE_SET);
    expect(looked).not.toContain('lib/util.js'); // last in manifest order

    replaceOldUtil(layout);
    proven = new ProvenInodes();
    await verifyReleaseFast(layout, '1.1.0', proven);
    const back = await proveWayBack(layout, '1.0.0', proven);
    expect(back).toMatchObject({ version: '1.0.0', proven: false });
    expect((back as { error: { details: { problems: string[] } } }).error.details.problems).toEqual([
      'lib/util.js: content changed',
    ]);
  });

  it('a target re-hashed in full (no usable record) proves its inodes for the way back too', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    await stageReleaseForTest(layout, '1.1.0', { ...FILES, 'index.js': 'console.log("two")\n' }, ['1.0.0']);
    writeFileSync(layout.fingerprints('1.1.0'), 'garbage\n');
    const lstat = vi.spyOn(fs, 'lstatSync');
    onTestFinished(() => lstat.mockRestore());
    const proven = new ProvenInodes();
    await verifyReleaseFast(layout, '1.1.0', proven);
    lstat.mockClear();
    await expect(proveWayBack(layout, '1.0.0', proven)).resolves.toMatchObject({ proven: true });
    expect(lstat.mock.calls.map(([p]) => String(p).slice(layout.release('1.0.0').length + 1)).sort()).toEqual([
      'index.js',
      'lib',
      'package.json',
    ]);
  });

  it('an extra file is caught through its directory', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    const lib = join(layout.release('1.0.0'), 'lib');
    unfreeze(lib);
    chmodSync(lib, 0o755);
    writeFileSync(join(lib, 'extra.js'), 'x');
    chmodSync(lib, 0o555);
    const error = await verifyReleaseFast(layout, '1.0.0').catch((e: unknown) => e);
    expect((error as { details: { problems: string[] } }).details.problems).toEqual([
      'lib/extra.js: not in the manifest',
    ]);
  });

  it('a release without fingerprints (sealed by an older version) is re-hashed in full, and still caught', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    renameSync(layout.fingerprints('1.0.0'), `${layout.fingerprints('1.0.0')}.gone`);
    await expect(verifyReleaseFast(layout, '1.0.0')).resolves.toMatchObject({ version: '1.0.0' });
    tamperKeepingSizeAndMtime(join(layout.release('1.0.0'), 'index.js'), 'console.log("evil")');
    await expectTampered(verifyReleaseFast(layout, '1.0.0'), 'index.js');
  });

  it('reads neither the manifest nor the marker while every fingerprint matches (the record holds the manifest order)', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    const readFile = vi.spyOn(fsp, 'readFile');
    onTestFinished(() => readFile.mockRestore());
    await expect(checkReleaseFast(layout, '1.0.0')).resolves.toEqual({ version: '1.0.0', entries: 4 });
    expect(readFile.mock.calls.map(([file]) => String(file))).toEqual([layout.fingerprints('1.0.0')]);
  });

  // A record that would bless the tampered file if it were believed: the tampered inode's fingerprint as it is now.
  const forged = (layout: ReturnType<typeof layoutOf>, rel: string) =>
    fingerprintOf(statSync(join(layout.release('1.0.0'), rel), { bigint: true }));
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  it.each([
    [
      'a body that fails its checksum',
      (file: string, fp: string) => {
        const text = fs.readFileSync(file, 'utf8');
        const { sha256, body } = JSON.parse(text) as {
          sha256: string;
          body: { paths: string[]; fingerprints: string[] };
        };
        body.fingerprints[body.paths.indexOf('index.js')] = fp;
        writeFileSync(
          file,
          `{"recordVersion":${RECORD_VERSION},"sha256":"${sha256}","body":${JSON.stringify(body)}}\n`,
        );
      },
    ],
    [
      'a record of another version',
      (file: string, fp: string) => {
        const text = fs.readFileSync(file, 'utf8');
        const body = JSON.parse(text).body as { paths: string[]; fingerprints: string[] };
        body.fingerprints[body.paths.indexOf('index.js')] = fp;
        const json = JSON.stringify(body);
        writeFileSync(file, `{"recordVersion":${RECORD_VERSION + 1},"sha256":"${sha(json)}","body":${json}}\n`);
      },
    ],
    [
      'the old format (version 1, a map of path to fingerprint)',
      (file: string, fp: string) => {
        const body = JSON.parse(fs.readFileSync(file, 'utf8')).body as {
          markerSha256: string;
          paths: string[];
          fingerprints: string[];
        };
        const entries = Object.fromEntries(
          body.paths.map((rel, i) => [rel, rel === 'index.js' ? fp : body.fingerprints[i]]),
        );
        writeFileSync(file, `${JSON.stringify({ recordVersion: 1, markerSha256: body.markerSha256, entries })}\n`);
      },
    ],
    ['a truncated record', (file: string) => writeFileSync(file, fs.readFileSync(file).subarray(0, 200))],
    ['a record that is not JSON', (file: string) => writeFileSync(file, 'garbage\n')],
  ])(
    '%s is not believed: the release is re-hashed in full (the tampering caught), never passed',
    async (_name, corrupt) => {
      const layout = layoutOf(tempDir());
      await stageReleaseForTest(layout, '1.0.0', FILES);
      tamperKeepingSizeAndMtime(join(layout.release('1.0.0'), 'index.js'), 'console.log("evil")');
      corrupt(layout.fingerprints('1.0.0'), forged(layout, 'index.js'));
      expect(await readRecord(layout, '1.0.0')).toBeUndefined();
      await expectTampered(verifyReleaseFast(layout, '1.0.0'), 'index.js');
      await expectTampered(checkReleaseFast(layout, '1.0.0'), 'index.js');
      expect((await proveWayBack(layout, '1.0.0'))?.proven).toBe(false);
    },
  );

  it('after a full re-hash of a release without a usable record, a new record is written and used', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    writeFileSync(layout.fingerprints('1.0.0'), 'garbage\n');
    await expect(checkReleaseFast(layout, '1.0.0')).resolves.toEqual({ version: '1.0.0', entries: 4 });
    const record = await readFingerprints(layout, '1.0.0');
    expect(Object.keys(record!.entries).sort()).toEqual(['index.js', 'lib', 'lib/util.js', 'package.json']);
    expect(record!.entries['index.js']).toBe(forged(layout, 'index.js'));
    tamperKeepingSizeAndMtime(join(layout.release('1.0.0'), 'index.js'), 'console.log("evil")');
    await expectTampered(checkReleaseFast(layout, '1.0.0'), 'index.js');
  });

  it('a marker rewritten with other content voids the record: re-hashed in full against the new marker', async () => {
    const layout = layoutOf(tempDir());
    await stageReleaseForTest(layout, '1.0.0', FILES);
    const markerFile = layout.marker('1.0.0');
    const marker = JSON.parse(fs.readFileSync(markerFile, 'utf8'));
    const entry = marker.files.find((e: { path: string }) => e.path === 'index.js');
    entry.sha256 = sha('something else');
    const dir = layout.release('1.0.0');
    unfreeze(markerFile, dir);
    chmodSync(dir, 0o755);
    chmodSync(markerFile, 0o644);
    writeFileSync(markerFile, JSON.stringify(marker));
    chmodSync(markerFile, 0o444);
    chmodSync(dir, 0o555);
    await expectTampered(checkReleaseFast(layout, '1.0.0'), 'index.js');
  });
});
