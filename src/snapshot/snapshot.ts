/**
 * State snapshots: the service's state paths, copied into `<root>/snapshots/<transaction id>/` by the
 * boot-check before a release first starts (the old process has stopped, the new one has not started,
 * so a plain copy of a SQLite file with its `-wal`/`-shm` is consistent), and put back exactly on the
 * way back, again while the service is stopped. A snapshot is complete once its folder has its name:
 * it is built under a temp name and renamed into place.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, asDiskFull, errnoOf } from '../model/errors.js';
import { defaultEnv } from '../model/runtime.js';
import { fsyncDir, readJsonIfExists, removeTree, tempName, writeFileAtomic } from '../platform/fs.js';
import { type Layout, layoutOf } from '../store/layout.js';
import { isAlive } from '../platform/subprocess.js';
import { copyFileDurably, copyTree, placeFile, syncTree } from './copy.js';
import { SQLITE_COMPANIONS, isSqliteFile, assertStatePathsApart, resolveStatePaths } from './state-paths.js';

export const SNAPSHOT_MANIFEST = 'snapshot.json';
/** Written beside the manifest once a restore is complete: which transaction restored it, and who did. */
export const RESTORE_MARKER = 'restored.json';

export interface SnapshotEntry {
  /** Absolute path of the state, as resolved when the snapshot was taken. */
  path: string;
  /** `absent`: it did not exist then, so a restore deletes it. A symlinked path is followed. */
  type: 'file' | 'dir' | 'absent';
  /** Bytes (of every file below, for a directory). */
  size?: number;
  /** Where the copy is, relative to the snapshot folder: `data/<n>`. */
  stored?: string;
  /** A SQLite file's `-wal`, `-shm` and `-journal`, taken with it: present (copied) or absent (deleted on restore). */
  companions?: Array<{ suffix: string; present: boolean; size?: number }>;
}

export interface SnapshotManifest {
  /** The transaction whose target first started after it was taken. */
  id: string;
  takenAt: string;
  /** The release that ran on this state; the one it is restored for. */
  fromVersion: string | null;
  /** The release about to start on it. */
  toVersion: string;
  /** The configured state paths, unexpanded. */
  statePaths: string[];
  entries: SnapshotEntry[];
  /** Bytes copied. */
  size: number;
}

export interface TakeSnapshotOptions {
  root: string;
  /** The transaction id; names the folder. */
  id: string;
  statePaths: readonly string[];
  /** For `~` and `${NAME}` in the state paths: the service's environment. @default process.env */
  env?: NodeJS.ProcessEnv;
  fromVersion: string | null;
  toVersion: string;
}

export interface RestoreResult {
  id: string;
  /** Paths written back (companions included). */
  restored: string[];
  /** Paths deleted because they did not exist when the snapshot was taken. */
  removed: string[];
}

/** Copy the state paths into `snapshots/<id>/`. Taking one that exists already returns it unchanged. */
export async function takeSnapshot(options: TakeSnapshotOptions): Promise<SnapshotManifest> {
  const layout = layoutOf(options.root);
  const existing = await readSnapshot(layout, options.id);
  if (existing) return existing;
  // A root configured before init checked this (or a service environment that expands differently) fails here,
  // clearly, instead of copying the root into itself until the names are too long.
  await assertStatePathsApart(options.statePaths, layout.root, options.env ?? defaultEnv());
  await fs.mkdir(layout.snapshots, { recursive: true });
  await sweepSnapshotLeftovers(layout);
  const final = layout.snapshot(options.id);
  const work = tempName(final);
  try {
    await fs.mkdir(path.join(work, 'data'), { recursive: true });
    const paths = await resolveStatePaths(options.statePaths, options.env ?? defaultEnv());
    const entries: SnapshotEntry[] = [];
    for (const [i, source] of paths.entries()) entries.push(await captureEntry(source, work, `data/${i}`));
    const size = entries.reduce(
      (sum, e) => sum + (e.size ?? 0) + (e.companions ?? []).reduce((s, c) => s + (c.size ?? 0), 0),
      0,
    );
    const { id, fromVersion, toVersion } = options;
    const manifest: SnapshotManifest = {
      id,
      takenAt: new Date().toISOString(),
      fromVersion,
      toVersion,
      statePaths: [...options.statePaths],
      entries,
      size,
    };
    await writeFileAtomic(path.join(work, SNAPSHOT_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await fs.rename(work, final);
    await fsyncDir(layout.snapshots);
    return manifest;
  } catch (error) {
    await removeTree(work).catch(() => undefined);
    throw asDiskFull(error, 'taking the state snapshot');
  }
}

async function captureEntry(source: string, dir: string, stored: string): Promise<SnapshotEntry> {
  const real = await fs.realpath(source).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    throw error;
  });
  if (!real) return { path: source, type: 'absent' };
  const stat = await fs.stat(real);
  const to = path.join(dir, stored);
  if (stat.isDirectory()) return { path: source, type: 'dir', size: await copyTree(real, to), stored };
  if (!stat.isFile())
    throw new ReleaseSwitcherError('INVALID_CONFIG', `The state path ${source} is neither a file nor a directory.`, {
      hint: 'Name files or folders: release-switcher init --state-path PATH',
    });
  const entry: SnapshotEntry = { path: source, type: 'file', size: await copyFileDurably(real, to), stored };
  if (await isSqliteFile(real)) {
    entry.companions = [];
    for (const suffix of SQLITE_COMPANIONS) {
      const size = await copyFileDurably(real + suffix, to + suffix).catch((error: unknown) => {
        if (errnoOf(error) === 'ENOENT') return undefined;
        throw error;
      });
      entry.companions.push(size === undefined ? { suffix, present: false } : { suffix, present: true, size });
    }
  }
  return entry;
}

/** The complete snapshot `id`, or undefined. */
export async function readSnapshot(layout: Layout, id: string): Promise<SnapshotManifest | undefined> {
  const manifest = (await readJsonIfExists(path.join(layout.snapshot(id), SNAPSHOT_MANIFEST)).catch(() => undefined)) as
    | SnapshotManifest
    | undefined;
  return manifest?.id === id && Array.isArray(manifest.entries) ? manifest : undefined;
}

/**
 * Put every snapshotted path back as it was, each file by temp + rename: SQLite files with their
 * companions, and a companion or path that did not exist then is deleted (a `-wal` the newer release
 * left would otherwise be replayed into the older database). Only ever run while the service is stopped.
 */
export async function restoreSnapshot(options: { root: string; id: string }): Promise<RestoreResult> {
  const layout = layoutOf(options.root);
  const manifest = await readSnapshot(layout, options.id);
  if (!manifest) {
    throw new ReleaseSwitcherError(
      'STATE_SNAPSHOT_MISSING',
      `There is no complete state snapshot ${options.id} in ${layout.snapshots}.`,
      {
        hint: 'See release-switcher status for the transaction that took it.',
      },
    );
  }
  const result: RestoreResult = { id: options.id, restored: [], removed: [] };
  for (const entry of manifest.entries) await restoreEntry(layout.snapshot(options.id), entry, result);
  return result;
}

async function restoreEntry(dir: string, entry: SnapshotEntry, result: RestoreResult): Promise<void> {
  const remove = async (p: string) => {
    if (
      !(await fs.lstat(p).then(
        () => true,
        () => false,
      ))
    )
      return;
    await removeTree(p);
    result.removed.push(p);
  };
  if (entry.type === 'absent' || !entry.stored) return remove(entry.path);
  // Through a symlinked path to the file the service really uses, as the snapshot was taken.
  const target = await fs.realpath(entry.path).catch(() => entry.path);
  const stored = path.join(dir, entry.stored);
  if (entry.type === 'dir') {
    await syncTree(stored, target);
    result.restored.push(entry.path);
    return;
  }
  // Stale companions first: a database must never meet a WAL that is not its own.
  for (const c of entry.companions ?? []) if (!c.present) await remove(target + c.suffix);
  await placeFile(stored, target);
  result.restored.push(entry.path);
  for (const c of entry.companions ?? []) {
    if (!c.present) continue;
    await placeFile(stored + c.suffix, target + c.suffix);
    result.restored.push(entry.path + c.suffix);
  }
}

/** Record that transaction `tx` restored snapshot `id`, so the same restore is never done twice. */
export async function markRestored(
  layout: Layout,
  id: string,
  record: { tx: string; by: 'boot-check' | 'runner' } & Partial<RestoreResult>,
): Promise<void> {
  await writeFileAtomic(
    path.join(layout.snapshot(id), RESTORE_MARKER),
    `${JSON.stringify({ ...record, at: new Date().toISOString() })}\n`,
  );
}

/** Who restored snapshot `id` for transaction `tx`, if it was restored for it. */
export async function restoredFor(
  layout: Layout,
  id: string,
  tx: string,
): Promise<{ by: string; at: string; restored?: string[]; removed?: string[] } | undefined> {
  const marker = (await readJsonIfExists(path.join(layout.snapshot(id), RESTORE_MARKER)).catch(() => undefined)) as
    | { tx?: string; by: string; at: string }
    | undefined;
  return marker?.tx === tx ? marker : undefined;
}

/** Every complete snapshot, oldest first. */
export async function listSnapshots(layout: Layout): Promise<SnapshotManifest[]> {
  const names = await fs.readdir(layout.snapshots).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return [] as string[];
    throw error;
  });
  const found: SnapshotManifest[] = [];
  for (const name of names) {
    const manifest = name.startsWith('.') ? undefined : await readSnapshot(layout, name);
    if (manifest) found.push(manifest);
  }
  // Transaction ids start with their time too: they order snapshots taken in the same millisecond.
  return found.sort((a, b) => a.takenAt.localeCompare(b.takenAt) || a.id.localeCompare(b.id));
}

/** One rename out of sight first, so a kill mid-delete never leaves a manifest over half its files. */
export async function removeSnapshot(layout: Layout, id: string): Promise<void> {
  const trash = path.join(layout.snapshots, `.trash-${id}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fs.rename(layout.snapshot(id), trash);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  await fsyncDir(layout.snapshots);
  await removeTree(trash);
}

/**
 * Snapshots nothing can use any more: one whose releases are gone, or one superseded by a newer
 * snapshot for the same release (a rollback only ever restores the one taken when `current` came in).
 */
export async function pruneSnapshots(layout: Layout, installed: ReadonlySet<string>): Promise<string[]> {
  const all = await listSnapshots(layout);
  const newest = new Map(all.map((s) => [s.toVersion, s.id]));
  const removed: string[] = [];
  for (const s of all) {
    const gone = !installed.has(s.toVersion) || (s.fromVersion !== null && !installed.has(s.fromVersion));
    if (!gone && newest.get(s.toVersion) === s.id) continue;
    await removeSnapshot(layout, s.id);
    removed.push(s.id);
  }
  await sweepSnapshotLeftovers(layout);
  return removed;
}

/** Trash of a killed delete, and temp folders of a take whose process is gone. */
async function sweepSnapshotLeftovers(layout: Layout): Promise<void> {
  for (const name of await fs.readdir(layout.snapshots).catch(() => [] as string[])) {
    const pid = /^\..+\.tmp-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    if (!name.startsWith('.trash-') && (pid === undefined || isAlive(Number(pid)))) continue;
    await removeTree(path.join(layout.snapshots, name));
  }
}
