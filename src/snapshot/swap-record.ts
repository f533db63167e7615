/**
 * The record of a restore by rename (swap.ts): `swap-<tx>.json` in the checkpoint's folder, what it names and where.
 * Kept apart from the swap itself, which loads the copier, so that recovery (run before every mutation) can look for
 * records and remove a copy that was never swapped in without loading it (as restore-marker.ts is for restores).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readJsonIfExists } from '../platform/fs.js';
import type { Layout } from '../store/layout.js';

export const READY_PREFIX = '.release-switcher-ready-';
export const ASIDE_PREFIX = '.release-switcher-aside-';
/** In an aside folder: every live entry has been moved into it. */
export const MOVED_OUT = '.release-switcher-moved-out';
export const swapRecordFile = (layout: Layout, id: string, tx: string) =>
  path.join(layout.snapshot(id), `swap-${tx}.json`);

export interface SwapEntry {
  /** The entry's index in the checkpoint's manifest. */
  index: number;
  /** The state path as the manifest names it. */
  path: string;
  /** The live folder (the path, symlinks resolved). */
  dir: string;
  ready: string;
  aside: string;
}

export interface SwapRecord {
  tx: string;
  snapshot: string;
  /** The checkpoint the replaced state becomes (chosen here, so a run again after a cut keeps the same). */
  setAside: string;
  entries: SwapEntry[];
  /** Bytes copied into the ready folders. */
  bytes: number;
  /** Every ready copy is made: the boot-check may swap. */
  complete: boolean;
}

/** The swap made ready for `tx` from checkpoint `id`: only a complete one unless `complete: false` is asked. */
export async function readSwapRecord(
  layout: Layout,
  id: string,
  tx: string,
  want: { complete: boolean } = { complete: true },
): Promise<SwapRecord | undefined> {
  const record = (await readJsonIfExists(swapRecordFile(layout, id, tx)).catch(() => undefined)) as
    | SwapRecord
    | undefined;
  const valid =
    record?.tx === tx && record.snapshot === id && typeof record.setAside === 'string' && Array.isArray(record.entries);
  return valid && (record.complete === true || !want.complete) ? record : undefined;
}

/** Every swap record in the root's checkpoints (a handful of folders: one readdir each). */
export async function listSwapRecords(layout: Layout): Promise<SwapRecord[]> {
  const found: SwapRecord[] = [];
  for (const id of await fs.readdir(layout.snapshots).catch(() => [] as string[])) {
    if (id.startsWith('.')) continue;
    for (const name of await fs.readdir(layout.snapshot(id)).catch(() => [] as string[])) {
      const tx = /^swap-(.+)\.json$/.exec(name)?.[1];
      const record = tx ? await readSwapRecord(layout, id, tx, { complete: false }) : undefined;
      if (record) found.push(record);
    }
  }
  return found;
}
