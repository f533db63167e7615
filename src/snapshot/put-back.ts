/**
 * Putting a checkpoint back into the live state (restoreSnapshot's part in the state folders): the folders made ready
 * swapped in by rename (swap-account.ts), the rest copied back, each file by temp + rename, SQLite files with their
 * companions, a path or companion that did not exist then deleted. Runs with the rights of the state's account (in a
 * worker of ours when root acts for it: account-worker.ts); `dataDir` is the checkpoint's `data/` folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../platform/fs.js';
import { placeFile, syncTree } from './copy.js';
import type { SnapshotEntry, SnapshotManifest } from './manifest.js';
import { ASIDE_PREFIX, READY_PREFIX, type SwapRecord } from './swap-record.js';
import { storedIn, swapIn } from './swap-account.js';

export interface PutBack {
  /** Paths written back (companions included). */
  restored: string[];
  /** Paths deleted because they did not exist when the checkpoint was taken. */
  removed: string[];
}

export async function putBack(
  dataDir: string,
  manifest: SnapshotManifest,
  options: { record?: SwapRecord | undefined; again: boolean },
): Promise<PutBack> {
  const result: PutBack = { restored: [], removed: [] };
  const keep = new Set(manifest.independent ?? []);
  // Folders made ready before the stop go in by rename; the rest is copied back.
  const swapped = options.record ? await swapIn(dataDir, manifest, options.record, keep) : new Set<number>();
  for (const [i, entry] of manifest.entries.entries()) {
    // A folder swapped in is the checkpoint's copy: compared with it only on a run again (after a cut).
    if (!swapped.has(i) || options.again) await restoreEntry(dataDir, entry, { result, keep });
    else result.restored.push(entry.path);
  }
  return result;
}

async function restoreEntry(
  dataDir: string,
  entry: SnapshotEntry,
  at: { result: PutBack; keep: ReadonlySet<string> },
): Promise<void> {
  const { result } = at;
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
  const stored = storedIn(dataDir, entry.stored);
  if (entry.type === 'dir') {
    // A swap's ready or aside folder in it (swap.ts) is not the state: never removed by a copy back.
    const ours = (await fs.readdir(target).catch(() => [] as string[]))
      .filter((name) => name.startsWith(READY_PREFIX) || name.startsWith(ASIDE_PREFIX))
      .map((name) => path.join(target, name));
    await syncTree(stored, target, new Set([...at.keep, ...ours]));
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
