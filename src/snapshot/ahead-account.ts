/**
 * The part of finalize-done-ahead (transaction/finalize-ahead-step.ts) that happens in the service's state folder,
 * with the rights of the state's account (state-side.ts runs it here or in a worker of ours as that account):
 * - `fingerprint`: what each entry of the live folder is now, by its metadata (type, size, mtime and ctime to the
 *   nanosecond, inode, mode, a link's target): taken when the copy is made and again after the stop, so any write in
 *   between (a rename, an append, a replaced file) shows; nothing is read, so it costs a walk.
 * - `digest`: what each entry of the ready copy holds, by content (sha256): before and after finalize ran on it, so
 *   its write set is what it changed, not what it touched.
 * - `swapIn`: the write set put in place by rename, one rename per entry, the live entry moved aside first.
 * - `removeAhead`: the ready copy and what was moved aside removed (their names checked: only ever ours).
 * A link is never followed: the walks use lstat, and a rename moves a link, not what it names.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { crashPoint } from '../platform/crashpoint.js';
import { fsyncDir, removeTree } from '../platform/fs.js';
import { ResidueFilter } from './residue.js';
import { ASIDE_PREFIX, READY_PREFIX } from './swap-record.js';
import { ownFolder } from './swap-account.js';

/** Entries by their path relative to the folder (`/`-separated; a folder's ends in `/`), each with what it is. */
export type Entries = Record<string, string>;

/** Walk `dir`: ours and residue left out; `describe` says what each file is. */
async function walk(
  dir: string,
  residuePatterns: readonly string[],
  describe: (file: string, stat: import('node:fs').BigIntStats) => Promise<string>,
): Promise<Entries> {
  const residue = new ResidueFilter({ patterns: residuePatterns });
  const out: Entries = {};
  const go = async (at: string, rel: string): Promise<void> => {
    const names = (await fs.readdir(at, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of names) {
      const relName = rel ? `${rel}/${entry.name}` : entry.name;
      if (!rel && (entry.name.startsWith(READY_PREFIX) || entry.name.startsWith(ASIDE_PREFIX))) continue;
      if (residue.matches(relName, entry)) continue;
      const file = path.join(at, entry.name);
      const stat = await fs.lstat(file, { bigint: true }).catch(() => undefined);
      if (!stat) continue; // gone while walked: absent
      if (stat.isDirectory()) {
        out[`${relName}/`] = `d:${stat.mode}`;
        await go(file, relName);
      } else if (stat.isSymbolicLink()) out[relName] = `l:${await fs.readlink(file)}`;
      else if (stat.isFile()) out[relName] = await describe(file, stat);
    }
  };
  await go(dir, '');
  return out;
}

/** The live folder's entries by metadata (nothing read). */
export function fingerprint(dir: string, residuePatterns: readonly string[]): Promise<Entries> {
  return walk(dir, residuePatterns, async (_file, s) => `f:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}:${s.mode}`);
}

/** The ready copy's entries by content. */
export function digest(dir: string, residuePatterns: readonly string[]): Promise<Entries> {
  return walk(dir, residuePatterns, async (file, s) => {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return `f:${hash.digest('hex')}:${s.mode}`;
  });
}

/** A created folder's name (`a/b/`) or a file's (`a/b`), as the rename works on it (no trailing `/`). */
const bare = (rel: string) => (rel.endsWith('/') ? rel.slice(0, -1) : rel);

/**
 * The entries put in place: for each (a file, a link, or a folder finalize created or replaced whole), the live one
 * (when there is one) renamed into `aside`, then the ready one (when there is one: finalize may have removed it)
 * renamed into its place; a missing parent folder is made with the ready one's mode. Returns the entries it moved (in,
 * or aside only: finalize removed them).
 */
export async function swapIn(
  live: string,
  ready: string,
  aside: string,
  entries: readonly string[],
): Promise<string[]> {
  for (const folder of [ready, aside]) {
    const base = path.basename(folder);
    if (path.dirname(folder) !== live || !(base.startsWith(READY_PREFIX) || base.startsWith(ASIDE_PREFIX)))
      throw new ReleaseSwitcherError(
        'STATE_PATH_UNSAFE',
        `${folder} is not a folder of release-switcher's in ${live}.`,
        {
          hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
        },
      );
  }
  await ownFolder(aside);
  const moved: string[] = [];
  for (const entry of entries.map(bare)) {
    const from = path.join(ready, entry);
    const to = path.join(live, entry);
    await parentsOf(live, entry, ready);
    await parentsOf(aside, entry, ready);
    const asideNow = await fs.rename(to, path.join(aside, entry)).then(
      () => true,
      (error: unknown) => {
        if (errnoOf(error) !== 'ENOENT') throw error;
        return false;
      },
    );
    crashPoint('ahead:swap-between');
    const there = await fs.lstat(from).catch(() => undefined);
    if (there) await fs.rename(from, to);
    if (there || asideNow) moved.push(entry);
    await fsyncDir(path.dirname(to));
  }
  return moved;
}

/** `entry`'s parent folders under `under`, made where missing (each with the mode the ready copy gives it). */
async function parentsOf(under: string, entry: string, ready: string): Promise<void> {
  const parts = entry.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    const at = path.join(under, rel);
    const stat = await fs.lstat(at).catch(() => undefined);
    if (stat?.isDirectory()) continue;
    if (stat)
      throw new ReleaseSwitcherError('STATE_PATH_UNSAFE', `${at} is not a folder: ${entry} is not put there.`, {
        hint: `Look at ${at}; the update ran its finalize in the window instead.`,
      });
    const mode = (await fs.lstat(path.join(ready, rel)).catch(() => undefined))?.mode ?? 0o700;
    await fs.mkdir(at, { mode: mode & 0o7777 });
  }
}

/** The ready copy and the aside folder removed (only folders of ours by their names, in `live`). */
export async function removeAhead(live: string, folders: readonly string[]): Promise<void> {
  for (const folder of folders) {
    const base = path.basename(folder);
    if (path.dirname(folder) !== live) continue;
    if (!base.startsWith(READY_PREFIX) && !base.startsWith(ASIDE_PREFIX)) continue;
    await removeTree(folder);
  }
}

/** The ready copy's folder, made by the account (refused when the name is a link or another's folder). */
export async function makeAheadFolder(ready: string): Promise<void> {
  await removeTree(ready).catch(() => undefined);
  await ownFolder(ready);
}
