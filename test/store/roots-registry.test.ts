// The host's list of roots (store/roots-registry.ts): written whole by temp file and rename, so a reader sees the
// old list or the new one, never half; two writers at once both land; the file matches layout/roots.schema.json.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { compileLayoutSchema } from '../../src/store/layout-schema.ts';
import {
  SYSTEM_ROOTS_FILE,
  forgetRootsIn,
  notListedBecause,
  readRootsFile,
  recordRoot,
  rootsFileFor,
  rootsFilesOf,
} from '../../src/store/roots-registry.ts';

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rs-roots-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
const entry = (root: string) => ({ root, package: 'p', addedAt: '2026-11-26T00:00:00.000Z' });

describe('the list of roots', () => {
  it('lives under XDG_STATE_HOME (else ~/.local/state) for an account, under /var/lib for the host', () => {
    expect(rootsFilesOf({ HOME: '/home/a' })).toEqual({
      own: '/home/a/.local/state/release-switcher/roots.json',
      system: '/var/lib/release-switcher/roots.json',
    });
    const files = rootsFilesOf({ HOME: '/home/a', XDG_STATE_HOME: '/s', RELEASE_SWITCHER_SYSTEM_ROOTS: '/t/r.json' });
    expect(files).toEqual({ own: '/s/release-switcher/roots.json', system: '/t/r.json' });
    expect(rootsFileFor(files, 0)).toBe('/t/r.json');
    expect(rootsFileFor(files, 1000)).toBe('/s/release-switcher/roots.json');
  });

  it("keeps roots under a temporary folder off the machine's list only: /tmp, /var/tmp, /dev/shm, $TMPDIR, through a link too", () => {
    const env = { TMPDIR: '/scratch/t' };
    for (const root of ['/tmp/x/root', '/var/tmp/root', '/dev/shm/r', '/scratch/t/a/root'])
      expect(notListedBecause(root, SYSTEM_ROOTS_FILE, env), root).toMatch(
        /is under the temporary folder .*roots\.json/,
      );
    for (const root of ['/srv/gw/root', '/tmpfoo/root', '/var/tmpx/r', '/home/a/.local/share/release-switcher'])
      expect(notListedBecause(root, SYSTEM_ROOTS_FILE, env), root).toBeUndefined();
    // A link whose target is under /tmp: judged by where it leads.
    const dir = scratch();
    // The link itself outside every temporary folder: in the checkout's own cache folder.
    const cache = join(import.meta.dirname, '..', '..', 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    const link = join(mkdtempSync(join(cache, 'rs-roots-link-')), 'root');
    onTestFinished(() => rmSync(join(link, '..'), { recursive: true, force: true }));
    symlinkSync(dir, link);
    expect(notListedBecause(link, SYSTEM_ROOTS_FILE, {})).toMatch(/temporary folder/);
    // A list named on purpose (RELEASE_SWITCHER_SYSTEM_ROOTS) and an account's own list record what they are told.
    expect(notListedBecause('/tmp/x/root', '/t/roots.json', env)).toBeUndefined();
    expect(notListedBecause('/tmp/x/root', rootsFilesOf({ HOME: '/home/a' }).own, env)).toBeUndefined();
  });

  it('records in order, once each, forgets, and matches its schema', async () => {
    const file = join(scratch(), 'a', 'roots.json');
    expect(await readRootsFile(file)).toEqual([]);
    await recordRoot(file, entry('/r/1'));
    await recordRoot(file, entry('/r/2'));
    await recordRoot(file, { ...entry('/r/1'), package: 'q', addedAt: 'later' });
    expect(await readRootsFile(file)).toEqual([{ ...entry('/r/1'), package: 'q' }, entry('/r/2')]);
    const { validate } = compileLayoutSchema('roots');
    expect(validate(JSON.parse(readFileSync(file, 'utf8'))), JSON.stringify(validate.errors)).toBe(true);
    expect(await forgetRootsIn(file, ['/r/1', '/r/9'])).toEqual(['/r/1']);
    expect(await forgetRootsIn(file, ['/r/9'])).toEqual([]);
    expect((await readRootsFile(file)).map((r) => r.root)).toEqual(['/r/2']);
    expect(readdirSync(join(file, '..'))).toEqual(['roots.json']); // no temp file left
  });

  it('many writers at once: every root lands, and a reader never sees half a file', async () => {
    const file = join(scratch(), 'roots.json');
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        await readRootsFile(file); // throws CORRUPT_STATE on a half-written file
        reads++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all(Array.from({ length: 20 }, (_, i) => recordRoot(file, entry(`/r/${i}`))));
    reading = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect((await readRootsFile(file)).map((r) => r.root).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `/r/${i}`).sort(),
    );
  });

  it('a file that is not a list of roots is CORRUPT_STATE naming it', async () => {
    const file = join(scratch(), 'roots.json');
    writeFileSync(file, '{"version":1,"roots":[{"root":"relative"}]}');
    await expect(readRootsFile(file)).rejects.toMatchObject({
      code: 'CORRUPT_STATE',
      message: expect.stringContaining(file),
    });
  });
});
