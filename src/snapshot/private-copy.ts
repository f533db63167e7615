/**
 * A private copy of the service's state for a rehearsal: the candidate may migrate it, break it or
 * write to it freely, and the live state is never opened for writing. A SQLite database travels with
 * its `-wal`/`-shm`/`-journal` companions so the copy opens to what the live service last committed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../platform/fs.js';
import { copyFileDurably, copyTree } from './copy.js';
import type { SnapshotManifest } from './snapshot.js';
import { SQLITE_COMPANIONS } from './state-paths.js';

/**
 * Copies each of `paths` (absolute, resolved) into `dir`. With exactly one path that is a directory,
 * the copy IS `dir` (so `{state}` stands for that directory); otherwise each path keeps its place
 * under `base` (the folder the configured paths share, see statePathsBase), so the copy is shaped like
 * the live state; a path outside `base` (or with no base) lands under `dir` by its base name. A path
 * that does not exist is simply absent. Returns the `{state}` value.
 */
export async function copyStatePrivately(paths: readonly string[], dir: string, base: string | null = null): Promise<string> {
  const existing: string[] = [];
  for (const p of paths) if (await fs.lstat(p).then(() => true, () => false)) existing.push(p);
  const only = existing.length === 1 ? existing[0] : undefined;
  if (only !== undefined && (await fs.stat(only)).isDirectory()) {
    await copyTree(only, dir);
    return dir;
  }
  await fs.mkdir(dir, { mode: 0o700 });
  for (const p of existing) {
    const rel = base === null ? '' : path.relative(base, p);
    const target = path.join(dir, rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.basename(p));
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    if ((await fs.stat(p)).isDirectory()) {
      await copyTree(p, target);
      continue;
    }
    await copyFileDurably(p, target);
    for (const suffix of SQLITE_COMPANIONS) {
      await copyFileDurably(p + suffix, target + suffix).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
  }
  return dir;
}

/**
 * The state a target will start on when its start puts a snapshot back (a way back across a schema
 * change): the snapshot's copies, placed in `dir` the way copyStatePrivately places the live paths
 * (a path that did not exist when it was taken is absent here too). The rehearsal of such a target
 * must run on this, not on the live state the newer release has migrated, which it would refuse.
 */
export async function copySnapshotPrivately(snapshotDir: string, manifest: SnapshotManifest, dir: string, base: string | null = null): Promise<string> {
  const present = manifest.entries.filter((entry) => entry.type !== 'absent' && entry.stored);
  const only = present.length === 1 ? present[0] : undefined;
  if (only?.type === 'dir') {
    await copyTree(path.join(snapshotDir, only.stored!), dir);
    return dir;
  }
  await fs.mkdir(dir, { mode: 0o700 });
  for (const entry of present) {
    const stored = path.join(snapshotDir, entry.stored!);
    const rel = base === null ? '' : path.relative(base, entry.path);
    const target = path.join(dir, rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.basename(entry.path));
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    if (entry.type === 'dir') {
      await copyTree(stored, target);
      continue;
    }
    await copyFileDurably(stored, target);
    for (const companion of entry.companions ?? []) if (companion.present) await copyFileDurably(stored + companion.suffix, target + companion.suffix);
  }
  return dir;
}

export async function removePrivateCopy(dir: string): Promise<void> {
  await removeTree(dir);
}
