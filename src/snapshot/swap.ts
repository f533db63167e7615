/**
 * Restoring a checkpoint by rename, so the stop window holds no copy whatever the state's size. Before the stop (the
 * old release still serves), the checkpoint's copy of each state folder is made ready inside that folder
 * (`.release-switcher-ready-<id>/`, a private copy: the checkpoint itself stays as it is; `<id>` is the set-aside's,
 * below). In the window the boot-check moves the live entries into `.release-switcher-aside-<id>/` and the ready ones
 * into their place: one rename per top-level entry. Inside the folder, not beside it: the state folder may be a mount
 * point (a hardened unit's `ReadWritePaths=`), which cannot be renamed, and a rename out of it would cross into another
 * mount.
 *
 * What was moved aside is the state the leaving release left (its sessions, credentials, plugin state): after the
 * start it becomes a checkpoint of its own, `<tx>-aside` in the root's snapshots (keepSetAside; `<tx>-aside-2` and on
 * when the transaction swaps again), so the way back of that rollback puts it back the same way (state-return.ts), and
 * `--checkpoint` does on purpose later. Nothing is lost by a rollback.
 *
 * Crash-safe at every step: `swap-<tx>.json` in the checkpoint's folder names the folders before they are copied (so
 * recovery finds a copy cut halfway) and says `complete` once every ready copy is (before that, nothing is swapped and a
 * restore copies as before); the aside holds `.release-switcher-moved-out` once
 * every live entry is in it; the ready folder is removed last. A restore run again (restoreSnapshot after a cut) reads
 * where it stood from those three and goes on; the adoption of the aside goes through `.adopt-<id>` in snapshots/,
 * which no sweep removes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { crashPoint } from '../platform/crashpoint.js';
import { fsyncDir, pathExists, removeTree, writeFileAtomic } from '../platform/fs.js';
import { type Layout, layoutOf } from '../store/layout.js';
import { copyMeta, copyTree } from './copy.js';
import { ResidueFilter } from './residue.js';
import type { SnapshotEntry, SnapshotManifest } from './manifest.js';
import {
  ASIDE_PREFIX,
  MOVED_OUT,
  READY_PREFIX,
  type SwapEntry,
  type SwapRecord,
  readSwapRecord,
  swapRecordFile,
} from './swap-record.js';

/**
 * The id of the checkpoint a restore for transaction `tx` keeps of the state it replaces: `<tx>-aside`, or `-aside-2`
 * and on when the transaction swaps again (the way back of a rollback whose release failed puts back the first one).
 */
async function freeSetAsideId(layout: Layout, tx: string): Promise<string> {
  for (let n = 1; ; n++) {
    const id = n === 1 ? `${tx}-aside` : `${tx}-aside-${n}`;
    if (!(await pathExists(layout.snapshot(id)))) return id;
  }
}

export interface PreparedSwap {
  folders: number;
  bytes: number;
  ms: number;
}

/**
 * Before the stop: a ready copy of checkpoint `id`'s folders inside the live ones, for transaction `tx`. Undefined
 * when the checkpoint has no folder to swap (its files are put back by copy, as before). Throws when a copy fails,
 * having removed what it made: the restore then copies, in the window, as it did before.
 */
export async function prepareSwap(options: {
  root: string;
  snapshot: SnapshotManifest;
  tx: string;
  /** The service's residue patterns: a process's leftovers in the checkpoint never come back with it. */
  residue?: readonly string[];
}): Promise<PreparedSwap | undefined> {
  const layout = layoutOf(options.root);
  const { snapshot, tx } = options;
  const started = performance.now();
  const existing = await readSwapRecord(layout, snapshot.id, tx, { complete: false });
  if (existing?.complete) return { folders: existing.entries.length, bytes: existing.bytes, ms: 0 };
  // A copy cut halfway (its runner killed) is made again under the same id.
  const setAside = existing?.setAside ?? (await freeSetAsideId(layout, tx));
  const entries: SwapEntry[] = [];
  for (const [index, entry] of snapshot.entries.entries()) {
    if (entry.type !== 'dir' || !entry.stored) continue;
    const dir = await fs.realpath(entry.path).catch(() => undefined);
    if (!dir || !(await fs.stat(dir)).isDirectory()) continue; // gone or replaced: the copy path puts it back
    entries.push({
      index,
      path: entry.path,
      dir,
      ready: path.join(dir, READY_PREFIX + setAside),
      aside: path.join(dir, ASIDE_PREFIX + setAside),
    });
  }
  if (entries.length === 0) return undefined;
  const residue = new ResidueFilter({ patterns: options.residue ?? [] });
  const file = swapRecordFile(layout, snapshot.id, tx);
  const write = (record: SwapRecord) => writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
  await write({ tx, snapshot: snapshot.id, setAside, entries, bytes: 0, complete: false });
  let bytes = 0;
  try {
    for (const entry of entries) {
      await removeTree(entry.ready);
      bytes += await copyTree(
        path.join(layout.snapshot(snapshot.id), snapshot.entries[entry.index]!.stored!),
        entry.ready,
        { residue },
      );
    }
  } catch (error) {
    for (const entry of entries) await removeTree(entry.ready).catch(() => undefined);
    await fs.rm(file, { force: true });
    throw error;
  }
  await write({ tx, snapshot: snapshot.id, setAside, entries, bytes, complete: true });
  return { folders: entries.length, bytes, ms: Math.round(performance.now() - started) };
}

/**
 * In the window (the service stopped): each prepared folder swapped in. Returns the manifest indexes it put back;
 * the caller copies the rest. `keep`: independent folders, left where they are (moved back from the aside when below a
 * top-level entry). Run again after a cut, it goes on from where it stood.
 */
export async function swapIn(
  layout: Layout,
  snapshot: SnapshotManifest,
  record: SwapRecord,
  keep: ReadonlySet<string>,
): Promise<Set<number>> {
  const done = new Set<number>();
  for (const entry of record.entries) {
    if (await pathExists(entry.ready)) await swapFolder(layout, snapshot, entry, keep);
    done.add(entry.index);
  }
  return done;
}

async function swapFolder(
  layout: Layout,
  snapshot: SnapshotManifest,
  entry: SwapEntry,
  keep: ReadonlySet<string>,
): Promise<void> {
  const { dir, ready, aside } = entry;
  const ours = (name: string) => name.startsWith(READY_PREFIX) || name.startsWith(ASIDE_PREFIX);
  await fs.mkdir(aside, { mode: 0o700 }).catch((error: unknown) => {
    if (errnoOf(error) !== 'EEXIST') throw error;
  });
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
  await copyMeta(path.join(layout.snapshot(snapshot.id), snapshot.entries[entry.index]!.stored!), dir);
  await fsyncDir(dir);
  await fs.rmdir(ready);
  await fsyncDir(dir);
}

/**
 * After the start: what the swap moved aside becomes checkpoint `<tx>-aside` (by rename into snapshots/; by copy when
 * the state lives on another filesystem than the root). Nothing when the swap is not complete, or was never made (or
 * was kept already). Returns the checkpoint's id when it kept one.
 */
export async function keepSetAside(options: {
  root: string;
  snapshot: SnapshotManifest;
  tx: string;
  /** The release that left the state moved aside, and the one it was replaced for. */
  fromVersion: string | null;
  toVersion: string;
}): Promise<string | undefined> {
  const layout = layoutOf(options.root);
  const record = await readSwapRecord(layout, options.snapshot.id, options.tx);
  if (!record) return undefined;
  const id = record.setAside;
  if (await pathExists(path.join(layout.snapshot(id), 'snapshot.json'))) {
    // Kept by a run cut before it removed the record.
    await fs.rm(swapRecordFile(layout, options.snapshot.id, options.tx), { force: true });
    return id;
  }
  for (const entry of record.entries) if (await pathExists(entry.ready)) return undefined; // the swap is not done
  const work = path.join(layout.snapshots, `.adopt-${id}`);
  await fs.mkdir(path.join(work, 'data'), { recursive: true, mode: 0o700 });
  const entries: SnapshotEntry[] = [];
  for (const entry of record.entries) {
    const stored = path.join(work, 'data', String(entry.index));
    if (await pathExists(entry.aside)) {
      await fs.rm(path.join(entry.aside, MOVED_OUT), { force: true });
      await moveOrCopy(entry.aside, stored);
    }
    if (await pathExists(stored))
      entries.push({ path: entry.path, type: 'dir', stored: `data/${entry.index}`, size: await treeSize(stored) });
  }
  const manifest: SnapshotManifest = {
    id,
    takenAt: new Date().toISOString(),
    fromVersion: options.fromVersion,
    toVersion: options.toVersion,
    statePaths: options.snapshot.statePaths,
    entries,
    size: entries.reduce((sum, e) => sum + (e.size ?? 0), 0),
    ...(options.snapshot.independent && { independent: options.snapshot.independent }),
    setAsideBy: options.tx,
  };
  await writeFileAtomic(path.join(work, 'snapshot.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await fs.rename(work, layout.snapshot(id));
  await fsyncDir(layout.snapshots);
  await fs.rm(swapRecordFile(layout, options.snapshot.id, options.tx), { force: true });
  return id;
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

async function treeSize(dir: string): Promise<number> {
  let size = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) size += await treeSize(p);
    else if (entry.isFile()) size += (await fs.lstat(p)).size;
  }
  return size;
}
