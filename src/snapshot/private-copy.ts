/**
 * A private copy of the service's state for a rehearsal: the candidate may migrate it, break it or
 * write to it freely, and the live state is never opened for writing. A SQLite database travels with
 * its `-wal`/`-shm`/`-journal` companions so the copy opens to what the live service last committed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../platform/fs.js';
import { copyFileDurably, copyTree } from './copy.js';
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

export async function removePrivateCopy(dir: string): Promise<void> {
  await removeTree(dir);
}
