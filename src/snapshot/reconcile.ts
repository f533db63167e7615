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
import { removeTree } from '../platform/fs.js';
import { type ResidueFilter, namesLiveProcess } from './residue.js';

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
  return async (from, to, rel) => {
    const candidate = path.join(earlier, rel);
    const [live, old] = await Promise.all([fs.lstat(from), fs.lstat(candidate).catch(() => undefined)]);
    if (!old?.isFile() || old.size !== live.size || Math.trunc(old.mtimeMs) !== Math.trunc(live.mtimeMs)) return;
    if (live.ctimeMs >= since) return;
    await fs.link(candidate, to);
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

/** Make the bulk copy `copy` of the folder `live` what a full copy made now would be. Returns the files re-copied. */
export async function reconcileTree(live: string, copy: string, options: ReconcileOptions): Promise<number> {
  const databases: Array<{ from: string; to: string }> = [];
  const changed = await reconcileAt({ live, copy, rel: '', databases, ...options });
  if (options.sqliteNode) await copyDatabases(databases, { node: options.sqliteNode });
  for (const pair of databases) await copyMeta(pair.from, pair.to);
  return changed + databases.length;
}

interface At extends ReconcileOptions {
  live: string;
  copy: string;
  rel: string;
  databases: Array<{ from: string; to: string }>;
}

async function reconcileAt(at: At): Promise<number> {
  const entries = await fs.readdir(at.live, { withFileTypes: true });
  // Databases are copied again in the window, consolidated: their pages may sit in a -wal the copy never saw.
  const dbs = at.sqliteNode ? await databasesIn(at.live, entries) : new Set<string>();
  const wanted = new Map<string, (typeof entries)[number]>();
  for (const e of entries) {
    const rel = at.rel ? `${at.rel}/${e.name}` : e.name;
    const full = path.join(at.live, e.name);
    if (at.residue.matches(rel, e) || isCompanionOf(e.name, dbs) || at.skip.has(full)) continue;
    wanted.set(e.name, e);
  }
  for (const name of await fs.readdir(at.copy)) if (!wanted.has(name)) await removeTree(path.join(at.copy, name));
  let changed = 0;
  for (const [name, e] of wanted) {
    const [a, b] = [path.join(at.live, name), path.join(at.copy, name)];
    const rel = at.rel ? `${at.rel}/${name}` : name;
    const have = await fs.lstat(b).catch(() => undefined);
    if (e.isDirectory()) {
      if (have?.isDirectory()) changed += await reconcileAt({ ...at, live: a, copy: b, rel });
      else {
        if (have) await removeTree(b);
        await copyTree(a, b, { residue: at.residue, skip: at.skip, sqliteNode: at.sqliteNode });
        changed += 1;
      }
      continue;
    }
    const stat = await fs.lstat(a);
    if (have && !dbs.has(name) && !changedSince(stat, have, at.since) && have.isSymbolicLink() === e.isSymbolicLink())
      continue;
    if (have) await removeTree(b);
    changed += 1;
    if (e.isSymbolicLink()) await copyLink(a, b);
    else if (dbs.has(name)) at.databases.push({ from: a, to: b });
    else if (!(await namesLiveProcess(a, name, stat.size))) await copyFileDurably(a, b);
  }
  await copyMeta(at.live, at.copy);
  return changed;
}

const changedSince = (live: { ctimeMs: number; size: number }, copy: { size: number }, since: number) =>
  live.ctimeMs >= since || live.size !== copy.size;
