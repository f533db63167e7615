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
import { actsAsRootFor } from '../platform/as-account.js';
import { fsyncDir, pathExists, writeFileAtomic } from '../platform/fs.js';
import type { RunAs } from '../platform/run-as.js';
import { type Layout, layoutOf } from '../store/layout.js';
import type { SnapshotEntry, SnapshotManifest } from './manifest.js';
import { onStateSide } from './state-side.js';
import {
  ASIDE_PREFIX,
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
  /** The account whose state it is, when not this process's (state-side.ts). @default this process's account */
  as?: RunAs | undefined;
}): Promise<PreparedSwap | undefined> {
  const layout = layoutOf(options.root);
  const { snapshot, tx } = options;
  const started = performance.now();
  const existing = await readSwapRecord(layout, snapshot.id, tx, { complete: false });
  if (existing?.complete) return { folders: existing.entries.length, bytes: existing.bytes, ms: 0 };
  // A copy cut halfway (its runner killed) is made again under the same id.
  const setAside = existing?.setAside ?? (await freeSetAsideId(layout, tx));
  const entries: SwapEntry[] = [];
  const folders = snapshot.entries.flatMap((entry, index) => (entry.type === 'dir' && entry.stored ? [index] : []));
  const live = await onStateSide(options.as, 'liveDirs', [], {
    paths: folders.map((index) => snapshot.entries[index]!.path),
  });
  for (const [i, index] of folders.entries()) {
    const entry = snapshot.entries[index]!;
    const dir = live[i];
    if (!dir) continue; // gone or replaced: the copy path puts it back
    entries.push({
      index,
      path: entry.path,
      dir,
      ready: path.join(dir, READY_PREFIX + setAside),
      aside: path.join(dir, ASIDE_PREFIX + setAside),
    });
  }
  if (entries.length === 0) return undefined;
  const file = swapRecordFile(layout, snapshot.id, tx);
  const write = (record: SwapRecord) => writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
  await write({ tx, snapshot: snapshot.id, setAside, entries, bytes: 0, complete: false });
  let bytes: number;
  try {
    bytes = await onStateSide(options.as, 'makeReady', [path.join(layout.snapshot(snapshot.id), 'data')], {
      entries: entries.map((e) => ({ stored: snapshot.entries[e.index]!.stored!, ready: e.ready })),
      residue: [...(options.residue ?? [])],
    });
  } catch (error) {
    await fs.rm(file, { force: true });
    throw error;
  }
  await write({ tx, snapshot: snapshot.id, setAside, entries, bytes, complete: true });
  return { folders: entries.length, bytes, ms: Math.round(performance.now() - started) };
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
  /** The account whose state it is, when not this process's (state-side.ts). @default this process's account */
  as?: RunAs | undefined;
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
  const work = path.join(layout.snapshots, `.adopt-${id}`);
  await fs.mkdir(work, { recursive: true, mode: 0o700 });
  const data = path.join(work, 'data');
  if (!actsAsRootFor(options.as)) await fs.mkdir(data, { recursive: true, mode: 0o700 });
  const kept = await onStateSide(options.as, 'adopt', [data], { entries: record.entries });
  if (!kept) return undefined; // the swap is not done
  const entries: SnapshotEntry[] = kept.map(({ index, size }) => ({
    path: record.entries.find((e) => e.index === index)!.path,
    type: 'dir',
    stored: `data/${index}`,
    size,
  }));
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

/**
 * A swap made ready (or cut while it was) and never begun: its transaction ended before the stop. The copies removed,
 * with the rights of `as`, the state's account, when it is not this process's (state-side.ts).
 */
export async function discardSwap(layout: Layout, record: SwapRecord, as?: RunAs): Promise<void> {
  await onStateSide(as, 'removeReady', [], { readies: record.entries.map((e) => e.ready) });
  await fs.rm(swapRecordFile(layout, record.snapshot, record.tx), { force: true });
}
