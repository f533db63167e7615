// A folder only this account can write, and every folder on the way (platform/owned-path.ts): what the compile cache
// lives in. The rule on one component (pure), then the walk on real folders: made 0700, a folder on the way that is
// another's or writable by others refused, a sticky one passed through, a link refused, an existing folder of ours
// made private, one writable by others refused as it is. The compile-cache decision (cli/compile-cache.ts) on top.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheHome, compileCacheDecision } from '../../src/cli/compile-cache.ts';
import { componentsOf, ownedDir, unsafeComponent } from '../../src/platform/owned-path.ts';

const ME = process.getuid!();
const OTHER = ME + 4242;
const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});
/** A 0700 folder of ours under the temp folder (itself root's and sticky, or ours). */
function home(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rs-owned-'));
  dirs.push(dir);
  return dir;
}
const dir = (mode: number, uid = ME) => ({ uid, mode: 0o40000 | mode, isDirectory: true, isSymbolicLink: false });

describe('unsafeComponent', () => {
  it('takes a folder of ours or root’s that only its owner writes, on the way or at the end', () => {
    expect(unsafeComponent(dir(0o700), { uid: ME, last: true })).toBeUndefined();
    expect(unsafeComponent(dir(0o755), { uid: ME, last: true })).toBeUndefined();
    expect(unsafeComponent(dir(0o755, 0), { uid: ME, last: false })).toBeUndefined();
  });

  it('refuses another account’s folder anywhere, and root’s as the folder itself (unless we are root)', () => {
    expect(unsafeComponent(dir(0o755, OTHER), { uid: ME, last: false })).toBe(`belongs to uid ${OTHER}`);
    expect(unsafeComponent(dir(0o700, OTHER), { uid: ME, last: true })).toBe(`belongs to uid ${OTHER}`);
    expect(unsafeComponent(dir(0o700, 0), { uid: 1000, last: true })).toBe('belongs to uid 0');
    expect(unsafeComponent(dir(0o700, 0), { uid: 0, last: true })).toBeUndefined();
  });

  it('refuses a folder others or its group may write; a sticky one (/tmp) only on the way', () => {
    expect(unsafeComponent(dir(0o777), { uid: ME, last: true })).toBe('is writable by others');
    expect(unsafeComponent(dir(0o775), { uid: ME, last: false })).toBe('is writable by its group');
    expect(unsafeComponent(dir(0o1777, 0), { uid: ME, last: false })).toBeUndefined();
    expect(unsafeComponent(dir(0o1777), { uid: ME, last: true })).toBe('is writable by others');
  });

  it('refuses a link and anything not a folder', () => {
    expect(unsafeComponent({ ...dir(0o777), isSymbolicLink: true }, { uid: ME, last: false })).toBe(
      'is a symbolic link',
    );
    expect(unsafeComponent({ ...dir(0o600), isDirectory: false }, { uid: ME, last: true })).toBe('is not a folder');
  });
});

describe('ownedDir', () => {
  it('lists every component from the root down', () => {
    expect(componentsOf('/a/b/c')).toEqual(['/', '/a', '/a/b', '/a/b/c']);
  });

  it('makes the missing folders 0700 whatever the umask, and gives the folder', () => {
    const base = home();
    const wanted = path.join(base, '.cache', 'release-switcher', 'compile-cache');
    const old = process.umask(0o002);
    try {
      expect(ownedDir(wanted, { uid: ME, create: true })).toEqual({ ok: true, dir: wanted });
    } finally {
      process.umask(old);
    }
    for (const made of ['.cache', '.cache/release-switcher', '.cache/release-switcher/compile-cache'])
      expect(statSync(path.join(base, made)).mode & 0o777).toBe(0o700);
  });

  it('makes an existing folder of ours that others could only read 0700', () => {
    const base = home();
    mkdirSync(path.join(base, 'c'), { mode: 0o755 });
    expect(ownedDir(path.join(base, 'c'), { uid: ME, create: true }).ok).toBe(true);
    expect(statSync(path.join(base, 'c')).mode & 0o777).toBe(0o700);
  });

  it('refuses, as it is, a folder others may write, or one on the way; makes nothing below it', () => {
    const base = home();
    const open = path.join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(ownedDir(open, { uid: ME, create: true })).toEqual({
      ok: false,
      dir: open,
      why: `${open} is writable by others`,
    });
    expect(statSync(open).mode & 0o777).toBe(0o777);
    const below = ownedDir(path.join(open, 'cache'), { uid: ME, create: true });
    expect(below).toMatchObject({ ok: false, why: `${open} is writable by others` });
    chmodSync(base, 0o775);
    expect(ownedDir(path.join(base, 'x'), { uid: ME, create: true })).toMatchObject({
      ok: false,
      why: `${base} is writable by its group`,
    });
  });

  it('follows links on the way to the real folders and checks those; a link as the last, dangling one refused', () => {
    const base = home();
    mkdirSync(path.join(base, 'real'), { mode: 0o700 });
    symlinkSync(path.join(base, 'real'), path.join(base, 'link'));
    expect(ownedDir(path.join(base, 'link', 'c'), { uid: ME, create: true })).toEqual({
      ok: true,
      dir: path.join(base, 'real', 'c'),
    });
    symlinkSync(path.join(base, 'nowhere'), path.join(base, 'dangling'));
    expect(ownedDir(path.join(base, 'dangling'), { uid: ME, create: true })).toMatchObject({
      ok: false,
      why: `${path.join(base, 'dangling')} is a symbolic link`,
    });
  });

  it('refuses folders of ours for another account (root acting with someone else’s HOME)', () => {
    const base = home();
    expect(ownedDir(path.join(base, 'c'), { uid: OTHER, create: false })).toMatchObject({ ok: false });
    expect(ownedDir(base, { uid: OTHER, create: false })).toMatchObject({
      ok: false,
      why: `${base} belongs to uid ${ME}`,
    });
  });
});

describe('the compile cache’s folder', () => {
  it('is XDG_CACHE_HOME’s when absolute, else HOME’s .cache, else none', () => {
    expect(cacheHome({ XDG_CACHE_HOME: '/x/cache', HOME: '/h' })).toBe('/x/cache');
    expect(cacheHome({ XDG_CACHE_HOME: 'relative', HOME: '/h' })).toBe('/h/.cache');
    expect(cacheHome({ HOME: 'relative' })).toBeUndefined();
    expect(cacheHome({})).toBeUndefined();
  });

  it('is our own, off without a home, off when disabled, refused when NODE_COMPILE_CACHE names an unsafe folder', () => {
    const base = home();
    expect(compileCacheDecision({ HOME: base }, ME)).toEqual({
      kind: 'enable',
      dir: path.join(base, '.cache', 'release-switcher', 'compile-cache'),
    });
    expect(compileCacheDecision({}, ME)).toEqual({ kind: 'off' });
    expect(compileCacheDecision({ HOME: base, NODE_DISABLE_COMPILE_CACHE: '1' }, ME)).toEqual({ kind: 'off' });
    const open = path.join(base, 'shared');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(compileCacheDecision({ HOME: base, NODE_COMPILE_CACHE: open }, ME)).toEqual({
      kind: 'refuse',
      warning: `NODE_COMPILE_CACHE ignored, its folder is not safe: ${open} is writable by others`,
    });
    chmodSync(open, 0o700);
    expect(compileCacheDecision({ HOME: base, NODE_COMPILE_CACHE: open }, ME)).toEqual({ kind: 'given' });
    // Node's own folder in it (what it really uses) is checked too.
    expect(compileCacheDecision({ HOME: base, NODE_COMPILE_CACHE: open }, ME, path.join(open, 'gone'))).toMatchObject({
      kind: 'refuse',
    });
    chmodSync(base, 0o777);
    expect(compileCacheDecision({ HOME: base }, ME)).toEqual({
      kind: 'off',
      warning: `compile cache off: ${base} is writable by others`,
    });
  });
});
