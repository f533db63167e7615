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
import { fsyncDir, makePrivateDir, readJsonIfExists, removeTree, tempName, writeFileAtomic } from '../platform/fs.js';
import { type Layout, layoutOf } from '../store/layout.js';
import { isAlive } from '../platform/subprocess.js';
import { crashPoint } from '../platform/crashpoint.js';
import { actsAsRootFor } from '../platform/as-account.js';
import type { RunAs } from '../platform/run-as.js';
import { fsNow } from './reconcile.js';
import { sqliteNode } from './sqlite-copy.js';
import { RESTORING_MARKER, type RestoringRecord, unfinishedRestore } from './restore-marker.js';
import { readSwapRecord } from './swap-record.js';
import { type CaptureArgs, assertStateApartAs, onStateSide } from './state-side.js';
import type { SnapshotEntry, SnapshotManifest } from './manifest.js';

export const SNAPSHOT_MANIFEST = 'snapshot.json';
/** Written beside the manifest once a restore is complete: which transaction restored it, and who did. */
export const RESTORE_MARKER = 'restored.json';
/** Written before a restore changes anything, removed once it is marked complete (restore-marker.ts). */
export { RESTORING_MARKER, unfinishedRestore } from './restore-marker.js';

export type { SnapshotEntry, SnapshotManifest } from './manifest.js';

export interface TakeSnapshotOptions {
  root: string;
  /** The transaction id; names the folder. */
  id: string;
  statePaths: readonly string[];
  /** For `~` and `${NAME}` in the state paths: the service's environment. @default process.env */
  env?: NodeJS.ProcessEnv;
  fromVersion: string | null;
  toVersion: string;
  /** The service's residue patterns (config `residue`), left out of the copy. @default [] */
  residue?: readonly string[];
  /** Nodes to copy databases with, first with `node:sqlite` wins (the service's, then ours; sqlite-copy.ts). */
  sqliteNodes?: ReadonlyArray<string | null | undefined>;
  /** Independent-path patterns (config `independentPaths`): left out, and left alone on restore. @default [] */
  independentPaths?: readonly string[];
  /**
   * The account whose state it is, when not this process's: root then reads it only through a worker running as that
   * account (state-side.ts). @default this process's account
   */
  as?: RunAs | undefined;
}

export interface RestoreResult {
  id: string;
  /** Paths written back (companions included). */
  restored: string[];
  /** Paths deleted because they did not exist when the snapshot was taken. */
  removed: string[];
}

/**
 * Copy the state paths into `snapshots/<id>/`. Taking one that exists already returns it unchanged. With
 * a bulk copy staged for `id` (stageCheckpoint, made while the old release served) of the same paths,
 * only what changed since is copied (the stop window's share); otherwise all of it.
 */
export async function takeSnapshot(options: TakeSnapshotOptions): Promise<SnapshotManifest> {
  const layout = layoutOf(options.root);
  const existing = await readSnapshot(layout, options.id);
  if (existing) return existing;
  // A root configured before init checked this (or a service environment that expands differently) fails here,
  // clearly, instead of copying the root into itself until the names are too long.
  await assertStateApartAs(options.as, {
    statePaths: options.statePaths,
    root: layout.root,
    env: options.env ?? defaultEnv(),
  });
  await makePrivateDir(layout.snapshots);
  const final = layout.snapshot(options.id);
  const work = tempName(final);
  try {
    const ctx = await captureContext(layout, options);
    const staged = await readStaged(layout, options.id);
    await sweepSnapshotLeftovers(layout, options.id);
    const reuse = staged && JSON.stringify(staged.paths) === JSON.stringify(ctx.paths);
    const startedAt = reuse ? staged.since : await fsNow(layout.snapshots);
    if (reuse) await fs.rename(stagedDir(layout, options.id), work);
    else await fs.mkdir(work, { mode: 0o700 });
    await removeTree(stagedDir(layout, options.id));
    const entries: SnapshotEntry[] = await capture(work, ctx, {
      as: options.as,
      since: reuse ? staged.since : undefined,
    });
    await fs.rm(path.join(work, STAGED_MANIFEST), { force: true });
    const size = entries.reduce(
      (sum, e) => sum + (e.size ?? 0) + (e.companions ?? []).reduce((s, c) => s + (c.size ?? 0), 0),
      0,
    );
    const { id, fromVersion, toVersion } = options;
    const manifest: SnapshotManifest = {
      id,
      takenAt: new Date().toISOString(),
      startedAt,
      fromVersion,
      toVersion,
      statePaths: [...options.statePaths],
      entries,
      size,
      ...(ctx.skip.size > 0 && { independent: [...ctx.skip] }),
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

/** Written in a staged bulk copy: what it holds and when its copy began. */
const STAGED_MANIFEST = 'staged.json';
const stagedDir = (layout: Layout, id: string) => path.join(layout.snapshots, `.staged-${id}`);

/** A staged bulk copy (stageCheckpoint) no checkpoint will take: its transaction ended before anything stopped. */
export async function discardStagedCheckpoint(layout: Layout, id: string): Promise<void> {
  await removeTree(stagedDir(layout, id));
}

async function readStaged(layout: Layout, id: string): Promise<{ since: number; paths: string[] } | undefined> {
  const staged = (await readJsonIfExists(path.join(stagedDir(layout, id), STAGED_MANIFEST)).catch(() => undefined)) as
    | { id?: string; since?: number; paths?: string[] }
    | undefined;
  return staged?.id === id && typeof staged.since === 'number' && Array.isArray(staged.paths)
    ? { since: staged.since, paths: staged.paths }
    : undefined;
}

/**
 * The bulk copy of the state for the checkpoint `options.id`, made while the old release still serves
 * (before the restart): the boot-check then only reconciles it in the stop window. A staged copy is not a
 * checkpoint (nothing restores from it) until takeSnapshot has reconciled it; one left behind by a
 * transaction that never got there is swept by the next take. Returns the bytes copied.
 */
export async function stageCheckpoint(options: TakeSnapshotOptions): Promise<number> {
  const layout = layoutOf(options.root);
  if (await readSnapshot(layout, options.id)) return 0;
  await makePrivateDir(layout.snapshots);
  await assertStateApartAs(options.as, {
    statePaths: options.statePaths,
    root: layout.root,
    env: options.env ?? defaultEnv(),
  });
  const dir = stagedDir(layout, options.id);
  await removeTree(dir);
  await fs.mkdir(dir, { mode: 0o700 });
  const since = await fsNow(layout.snapshots);
  const ctx = await captureContext(layout, options);
  const size = (await capture(dir, ctx, { as: options.as })).reduce((sum, e) => sum + (e.size ?? 0), 0);
  await writeFileAtomic(
    path.join(dir, STAGED_MANIFEST),
    `${JSON.stringify({ id: options.id, since, paths: ctx.paths })}\n`,
  );
  return size;
}

/** The resolved paths, the copy rules, and where each path's copy in the latest checkpoint is (for sharing). */
async function captureContext(layout: Layout, options: TakeSnapshotOptions) {
  const { paths, skip } = await onStateSide(options.as, 'resolve', [], {
    statePaths: [...options.statePaths],
    independentPaths: [...(options.independentPaths ?? [])],
    env: options.env ?? defaultEnv(),
  });
  // For another account the copy is its worker's, which never runs another program holding the checkpoint's folder:
  // databases travel with their companions, consistent as the checkpoint is finished with the service stopped.
  const node = actsAsRootFor(options.as) ? undefined : await sqliteNode(options.sqliteNodes ?? [process.execPath]);
  const latest = (await listSnapshots(layout)).filter((s) => s.startedAt !== undefined).at(-1);
  const earlier = paths.map((source) => {
    const entry = latest?.entries.find((e) => e.path === source && e.type === 'dir' && e.stored);
    return entry?.stored && latest?.startedAt !== undefined ? { stored: entry.stored, since: latest.startedAt } : null;
  });
  const request: CaptureArgs = { paths, residue: [...(options.residue ?? [])], skip, node, earlier };
  return { paths, skip: new Set(skip), request, earlierData: latest && path.join(layout.snapshot(latest.id), 'data') };
}

/** The state copied into `work/data/` (or the copy staged there reconciled, `since`), by the state's account. */
async function capture(
  work: string,
  ctx: Awaited<ReturnType<typeof captureContext>>,
  options: { as: RunAs | undefined; since?: number | undefined },
): Promise<SnapshotEntry[]> {
  const dirs = [path.join(work, 'data'), ...(ctx.earlierData ? [ctx.earlierData] : [])];
  if (!actsAsRootFor(options.as)) await fs.mkdir(dirs[0]!, { recursive: true, mode: 0o700 });
  return onStateSide(options.as, 'capture', dirs, { ...ctx.request, since: options.since });
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
export async function restoreSnapshot(options: {
  root: string;
  id: string;
  tx?: string;
  /** The release the state is put back for: whoever finds this restore cut finishes it before that one starts. */
  version?: string;
  /** The account whose state it is, when not this process's (state-side.ts). @default this process's account */
  as?: RunAs | undefined;
}): Promise<RestoreResult> {
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
  const record: RestoringRecord = {
    tx: options.tx ?? null,
    ...(options.version !== undefined && { version: options.version }),
    pid: process.pid,
    at: new Date().toISOString(),
  };
  // Run again after a cut: a folder swapped in may have been written by a start on the half-restored state since.
  const again = (await unfinishedRestore(layout, options.id)) !== undefined;
  await writeFileAtomic(path.join(layout.snapshot(options.id), RESTORING_MARKER), `${JSON.stringify(record)}\n`);
  crashPoint('restore:begin');
  // Folders made ready before the stop go in by rename (swap.ts); the rest is copied back (put-back.ts).
  const prepared = options.tx ? await readSwapRecord(layout, options.id, options.tx) : undefined;
  const data = path.join(layout.snapshot(options.id), 'data');
  try {
    const done = await onStateSide(options.as, 'putBack', [data], { manifest, record: prepared, again });
    return { id: options.id, ...done };
  } catch (error) {
    // The boot-check cannot write the journal: what refused the restore is left here for the runner to report.
    const { code = 'INTERNAL', message } = error as { code?: string; message: string };
    const failure = { tx: options.tx ?? null, code, message, at: new Date().toISOString() };
    await writeFileAtomic(path.join(layout.snapshot(options.id), RESTORE_FAILED), `${JSON.stringify(failure)}\n`);
    throw error;
  }
}

/** Written when a restore fails (a link refused, the account's rights): its code and message, for the runner. */
const RESTORE_FAILED = 'restore-failed.json';

/** Why the restore of snapshot `id` for transaction `tx` failed, when it did (and was not done since). */
export async function restoreFailure(
  layout: Layout,
  id: string,
  tx: string,
): Promise<{ code: string; message: string } | undefined> {
  const failed = (await readJsonIfExists(path.join(layout.snapshot(id), RESTORE_FAILED)).catch(() => undefined)) as
    | { tx?: string; code: string; message: string }
    | undefined;
  return failed?.tx === tx ? failed : undefined;
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
  await fs.rm(path.join(layout.snapshot(id), RESTORING_MARKER), { force: true });
  await fs.rm(path.join(layout.snapshot(id), RESTORE_FAILED), { force: true });
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

/** Trash of a killed delete, temp folders of a take whose process is gone, bulk copies staged for another take. */
async function sweepSnapshotLeftovers(layout: Layout, taking?: string): Promise<void> {
  for (const name of await fs.readdir(layout.snapshots).catch(() => [] as string[])) {
    const pid = /^\..+\.tmp-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    const staleStage = name.startsWith('.staged-') && name !== `.staged-${taking}`;
    if (!staleStage && !name.startsWith('.trash-') && (pid === undefined || isAlive(Number(pid)))) continue;
    await removeTree(path.join(layout.snapshots, name));
  }
}
