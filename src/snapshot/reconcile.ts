/**
 * The checkpoint taken where it costs nothing. The bulk copy is made while the old release still serves
 * (stageCheckpoint, before the restart); in the stop window the boot-check only reconciles it with the
 * live state (reconcileTree): a file whose inode changed (ctime) after the bulk copy began is copied
 * again, a new one is copied, one gone is removed; the rest is already right. ctime, not mtime: nothing
 * short of the kernel sets it, so no write after the copy began can look older.
 *
 * Unchanged files are shared between checkpoints: a file untouched since an earlier checkpoint's copy
 * began is a hard link to that copy. Only ever between checkpoints, whose files nothing writes in place
 * (a restore copies out of them); never to the live state, which the service may write in place.
 */
import { type Dirent, linkSync, lstatSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { copyDatabases } from './sqlite-copy.js';
import {
  type TreeCopyOptions,
  copyFileDurably,
  copyLink,
  copyMeta,
  copyTree,
  databasesIn,
  isCompanionOf,
} from './copy.js';
import { errnoOf } from '../model/errors.js';
import { removeTree } from '../platform/fs.js';
import { type ResidueFilter, namesLiveProcessSync } from './residue.js';

/**
 * "Now" on the clock the kernel stamps ctimes with (coarse: a tick), read off a file created in `dir`:
 * any change to a file from this moment on has a ctime at least this, so `ctime < now` proves a file
 * unchanged since, with no margin to guess. Wall-clock time would not: it runs ahead of the coarse stamp.
 */
export async function fsNow(dir: string): Promise<number> {
  const probe = path.join(dir, `.clock-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await fs.writeFile(probe, '');
  try {
    return (await fs.stat(probe)).ctimeMs;
  } finally {
    await fs.rm(probe, { force: true });
  }
}

/**
 * A `reuse` hook for copyTree: link `to` to the same file (by relative path) under `earlier` when the
 * live file has not changed since `since` (when that copy began) and the copy has its size and mtime.
 */
export function shareWith(earlier: string, since: number): TreeCopyOptions['reuse'] {
  // Synchronous, as the copy's small files are (copy.ts SYNC_COPY_MAX): two stats and a link per file of the state.
  return async (from, to, rel) => {
    const candidate = path.join(earlier, rel);
    const live = lstatSync(from);
    const old = lstatSync(candidate, { throwIfNoEntry: false });
    // utimes goes through a float of seconds: the copy's mtime may differ from the source's below a millisecond.
    if (!old?.isFile() || old.size !== live.size || Math.abs(old.mtimeMs - live.mtimeMs) >= 1) return;
    if (live.ctimeMs >= since) return;
    try {
      linkSync(candidate, to);
    } catch (error) {
      // A copy this account may not link to (an older checkpoint's file of another owner): copied instead.
      if (['EPERM', 'EACCES', 'EXDEV'].includes(errnoOf(error) ?? '')) return;
      throw error;
    }
    return live.size;
  };
}

export interface ReconcileOptions {
  residue: ResidueFilter;
  skip: ReadonlySet<string>;
  /** When the bulk copy began, on the ctime clock (fsNow). */
  since: number;
  sqliteNode?: string | undefined;
}

/**
 * Make the bulk copy `copy` of the folder `live` what a full copy made now would be. Returns the files
 * copied again and the bytes the copy holds.
 */
export async function reconcileTree(
  live: string,
  copy: string,
  options: ReconcileOptions,
): Promise<{ changed: number; size: number }> {
  const databases: Array<{ from: string; to: string }> = [];
  const tally = { changed: 0, size: 0 };
  await reconcileAt({ live, copy, rel: '', databases, tally, ...options });
  if (options.sqliteNode) await copyDatabases(databases, { node: options.sqliteNode });
  for (const pair of databases) {
    await copyMeta(pair.from, pair.to);
    tally.size += (await fs.stat(pair.to)).size;
  }
  return { changed: tally.changed + databases.length, size: tally.size };
}

interface At extends ReconcileOptions {
  live: string;
  copy: string;
  rel: string;
  databases: Array<{ from: string; to: string }>;
  tally: { changed: number; size: number };
}

async function reconcileAt(at: At): Promise<void> {
  const entries = await fs.readdir(at.live, { withFileTypes: true });
  // Databases are copied again in the window, consolidated: their pages may sit in a -wal the copy never saw.
  const dbs = at.sqliteNode ? await databasesIn(at.live, entries) : new Set<string>();
  const wanted = new Map<string, Dirent>();
  for (const e of entries) {
    const rel = at.rel ? `${at.rel}/${e.name}` : e.name;
    const full = path.join(at.live, e.name);
    if (at.residue.matches(rel, e) || isCompanionOf(e.name, dbs) || at.skip.has(full)) continue;
    wanted.set(e.name, e);
  }
  const have = new Map<string, Dirent>();
  for (const e of await fs.readdir(at.copy, { withFileTypes: true })) {
    if (wanted.has(e.name)) have.set(e.name, e);
    else await removeTree(path.join(at.copy, e.name));
  }
  for (const [name, e] of wanted) {
    if (e.isDirectory()) continue;
    // Unchanged, the common case by far, costs one stat of the live file: synchronous, as nothing else runs in the
    // stop window and 20,000 stats through the thread pool would cost several times as much.
    const stat = lstatSync(path.join(at.live, name));
    const copied = have.get(name);
    const unchanged =
      copied && !copied.isDirectory() && copied.isSymbolicLink() === e.isSymbolicLink() && stat.ctimeMs < at.since;
    if (unchanged && !dbs.has(name)) at.tally.size += stat.size;
    else await recopyFile(at, { name, e, isDb: dbs.has(name), stat, had: copied !== undefined });
  }
  for (const [name, e] of wanted) if (e.isDirectory()) await reconcileDir(at, { name, had: have.get(name) });
  await copyMeta(at.live, at.copy);
}

async function reconcileDir(at: At, dir: { name: string; had: Dirent | undefined }): Promise<void> {
  const [a, b] = [path.join(at.live, dir.name), path.join(at.copy, dir.name)];
  const rel = at.rel ? `${at.rel}/${dir.name}` : dir.name;
  if (dir.had?.isDirectory()) return reconcileAt({ ...at, live: a, copy: b, rel });
  if (dir.had) await removeTree(b);
  at.tally.size += await copyTree(a, b, { residue: at.residue, rel, skip: at.skip, sqliteNode: at.sqliteNode });
  at.tally.changed += 1;
}

/** A file new or changed since the bulk copy began (a ctime not older than its start), or a database: copied now. */
async function recopyFile(
  at: At,
  file: { name: string; e: Dirent; isDb: boolean; stat: { size: number }; had: boolean },
): Promise<void> {
  const [a, b] = [path.join(at.live, file.name), path.join(at.copy, file.name)];
  if (file.had) await removeTree(b);
  at.tally.changed += 1;
  if (file.e.isSymbolicLink()) await copyLink(a, b);
  else if (file.isDb) at.databases.push({ from: a, to: b });
  else if (!namesLiveProcessSync(a, file.name, file.stat.size)) at.tally.size += await copyFileDurably(a, b);
}
