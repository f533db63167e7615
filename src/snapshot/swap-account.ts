/**
 * The part of a restore by rename (swap.ts) that happens in the service's state folders: the ready copies made, the
 * live entries moved aside and the ready ones in, the aside handed to the root's checkpoints, a ready copy never used
 * removed. All of it runs with the rights of the state's account: in this process when that is ours, else in a worker
 * of ours running as that account (account-worker.ts), which reaches the checkpoint's folders only through the
 * descriptors root hands it (`dataDir`: a checkpoint's `data/`).
 */
import { lstatSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { crashPoint } from '../platform/crashpoint.js';
import { fsyncDir, pathExists, removeTree, writeFileAtomic } from '../platform/fs.js';
import { copyMeta, copyTree } from './copy.js';
import type { SnapshotManifest } from './manifest.js';
import { ResidueFilter } from './residue.js';
import { ASIDE_PREFIX, MOVED_OUT, READY_PREFIX, type SwapEntry, type SwapRecord } from './swap-record.js';

/** Where a manifest's `stored` (`data/<n>`, a companion suffix allowed) is inside the checkpoint folder `dataDir`. */
export function storedIn(dataDir: string, stored: string): string {
  const rel = /^data\/(\d+(?:-wal|-shm|-journal)?)$/.exec(stored)?.[1];
  if (rel === undefined)
    throw new ReleaseSwitcherError('STATE_PATH_UNSAFE', `A checkpoint names its copy ${stored}, not data/<n>.`, {
      hint: 'The checkpoint is damaged: remove it (release-switcher prune) and take a new one.',
    });
  return path.join(dataDir, rel);
}

/**
 * A folder of ours inside a state folder (a ready or aside one): made 0700, or, when the name is taken, taken only if
 * it is a real folder of this account. A link planted under the name is refused, never followed.
 */
export async function ownFolder(dir: string): Promise<void> {
  await fs.mkdir(dir, { mode: 0o700 }).catch((error: unknown) => {
    if (errnoOf(error) !== 'EEXIST') throw error;
  });
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.())
    throw new ReleaseSwitcherError(
      'STATE_PATH_UNSAFE',
      `${dir} is ${stat.isSymbolicLink() ? 'a symbolic link' : stat.isDirectory() ? `a folder of uid ${stat.uid}` : 'not a folder'}, where release-switcher keeps a folder of its own: not used, nothing moved.`,
      { hint: `Remove ${dir} (it is not the service's state), then switch again.` },
    );
}

/** The live folder of each state path (links resolved, with the account's rights), or null when it is none. */
export async function liveDirs(paths: readonly string[]): Promise<Array<string | null>> {
  const out: Array<string | null> = [];
  for (const p of paths) {
    const dir = await fs.realpath(p).catch(() => undefined);
    out.push(dir && (await fs.stat(dir)).isDirectory() ? dir : null);
  }
  return out;
}

/** The checkpoint's copy of each folder made ready inside the live one; returns the bytes. Removes them on failure. */
export async function makeReady(
  dataDir: string,
  entries: ReadonlyArray<{ stored: string; ready: string }>,
  residuePatterns: readonly string[],
): Promise<number> {
  const residue = new ResidueFilter({ patterns: residuePatterns });
  let bytes = 0;
  try {
    for (const entry of entries) {
      await removeReady([entry.ready]);
      bytes += await copyTree(storedIn(dataDir, entry.stored), entry.ready, { residue });
    }
  } catch (error) {
    await removeReady(entries.map((e) => e.ready)).catch(() => undefined);
    throw error;
  }
  return bytes;
}

/** Ready copies removed (their names checked: only ever a folder of ours). */
export async function removeReady(readies: readonly string[]): Promise<void> {
  for (const ready of readies) {
    if (!path.basename(ready).startsWith(READY_PREFIX)) continue;
    await removeTree(ready);
  }
}

/**
 * In the window (the service stopped): each prepared folder swapped in. Returns the manifest indexes it put back;
 * the caller copies the rest. `keep`: independent folders, left where they are (moved back from the aside when below a
 * top-level entry). Run again after a cut, it goes on from where it stood.
 */
export async function swapIn(
  dataDir: string,
  snapshot: SnapshotManifest,
  record: SwapRecord,
  keep: ReadonlySet<string>,
): Promise<Set<number>> {
  const done = new Set<number>();
  for (const entry of record.entries) {
    if (await pathExists(entry.ready))
      await swapFolder(storedIn(dataDir, snapshot.entries[entry.index]!.stored!), entry, keep);
    done.add(entry.index);
  }
  return done;
}

async function swapFolder(stored: string, entry: SwapEntry, keep: ReadonlySet<string>): Promise<void> {
  const { dir, ready, aside } = entry;
  const ours = (name: string) => name.startsWith(READY_PREFIX) || name.startsWith(ASIDE_PREFIX);
  await ownFolder(ready);
  await ownFolder(aside);
  if (!(await pathExists(path.join(aside, MOVED_OUT)))) {
    for (const name of await fs.readdir(dir)) {
      if (ours(name) || keep.has(path.join(dir, name))) continue;
      const into = path.join(aside, name);
      // Already there: moved before a cut, and what is live now was written since by a start on the half-moved
      // state (the start does not wait for a boot-check that died). The leaving release's own entry is the one kept.
      if (await pathExists(into)) await removeTree(path.join(dir, name));
      else await fs.rename(path.join(dir, name), into);
      crashPoint('restore:swap-out');
    }
    await fsyncDir(aside);
    await writeFileAtomic(path.join(aside, MOVED_OUT), '');
    await fsyncDir(dir);
  }
  for (const name of await fs.readdir(ready)) {
    const to = path.join(dir, name);
    // Taken already: an independent entry (left in place; the checkpoint holds it only if taken before it was
    // declared), or, in a run again after a cut, one a start on the half-swapped state wrote meanwhile, which the
    // comparison with the checkpoint that follows such a run puts right (snapshot.ts restoreSnapshot).
    if (await pathExists(to)) await removeTree(path.join(ready, name));
    else await fs.rename(path.join(ready, name), to);
    crashPoint('restore:swap-in');
  }
  // Independent folders deeper down were moved out with their top-level entry: back into the new tree.
  for (const kept of keep) {
    const rel = path.relative(dir, kept);
    if (rel.startsWith('..') || path.isAbsolute(rel) || !rel.includes(path.sep)) continue;
    const from = path.join(aside, rel);
    if (!(await pathExists(from)) || (await pathExists(kept))) continue;
    await fs.mkdir(path.dirname(kept), { recursive: true });
    await fs.rename(from, kept);
  }
  await copyMeta(stored, dir);
  await fsyncDir(dir);
  await fs.rmdir(ready);
  await fsyncDir(dir);
}

/**
 * After the start: what the swap moved aside moved (or copied, across filesystems) into `dataDir/<index>`, the folder
 * of the checkpoint it becomes. Undefined while a ready copy is still there (the swap is not done); else each index
 * kept with its size.
 */
export async function adoptAside(
  dataDir: string,
  entries: readonly SwapEntry[],
): Promise<Array<{ index: number; size: number }> | undefined> {
  for (const entry of entries) if (await pathExists(entry.ready)) return undefined;
  const kept: Array<{ index: number; size: number }> = [];
  for (const entry of entries) {
    const stored = path.join(dataDir, String(entry.index));
    const aside = await fs.lstat(entry.aside).catch(() => undefined);
    if (aside?.isDirectory() && aside.uid === process.getuid?.()) {
      await fs.rm(path.join(entry.aside, MOVED_OUT), { force: true });
      await moveOrCopy(entry.aside, stored);
    }
    if (await pathExists(stored)) kept.push({ index: entry.index, size: treeSize(stored) });
  }
  return kept;
}

async function moveOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (error) {
    if (errnoOf(error) !== 'EXDEV') throw error;
    await removeTree(to);
    await copyTree(from, to);
    await removeTree(from);
  }
}

/** The bytes of the files under `dir`, synchronously (a stat each: as promises they cost more than the stats). */
function treeSize(dir: string): number {
  let size = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) size += treeSize(p);
    else if (entry.isFile()) size += lstatSync(p).size;
  }
  return size;
}
