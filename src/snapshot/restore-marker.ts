/**
 * The journal of a restore: `restoring.json` in the snapshot's folder, written before a restore changes anything and
 * removed once it is marked complete (snapshot.ts markRestored). A restore killed in between (kill -9 of the
 * boot-check, a power cut) left the state half put back, which no release may run on. The restore is idempotent
 * (each file by rename, folders synced to the snapshot), so finishing it means running it again, with the service
 * stopped: the boot-check of the next start of the release it was for does (boot-state.ts), and `recover` restarts
 * the service to get there. Kept apart from snapshot.ts so that recovery, which runs before every mutation, can look
 * for one without loading the copier.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readJsonIfExists } from '../platform/fs.js';
import type { Layout } from '../store/layout.js';

export const RESTORING_MARKER = 'restoring.json';

export interface RestoringRecord {
  /** The transaction the restore was for (null: a restore outside one). */
  tx: string | null;
  /** The release the state was being put back for; absent in markers of earlier versions. */
  version?: string;
  pid: number;
  at: string;
}

/** An interrupted restore: the snapshot it was putting back, and its record. */
export interface InterruptedRestore extends RestoringRecord {
  snapshot: string;
}

/** The restore of snapshot `id` that began and was never marked complete, if any. */
export async function unfinishedRestore(layout: Layout, id: string): Promise<RestoringRecord | undefined> {
  const record = (await readJsonIfExists(path.join(layout.snapshot(id), RESTORING_MARKER)).catch(() => undefined)) as
    | RestoringRecord
    | undefined;
  return record && typeof record === 'object' ? record : undefined;
}

/**
 * Every restore that began and was never marked complete, newest first. Cheap when there is none: one readdir
 * of snapshots/ and a stat per snapshot.
 */
export async function interruptedRestores(layout: Layout): Promise<InterruptedRestore[]> {
  const names = await fs.readdir(layout.snapshots).catch(() => [] as string[]);
  const found: InterruptedRestore[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const record = await unfinishedRestore(layout, name);
    if (record) found.push({ ...record, snapshot: name });
  }
  return found.sort((a, b) => String(b.at).localeCompare(String(a.at)));
}

/**
 * The interrupted restore to finish before `version` starts: one that was putting the state back for that very
 * release, for the latest transaction (the one in flight, else the last one closed). A marker of an older
 * transaction is stale: the state has moved on since, and putting that snapshot back would undo later work.
 */
export async function interruptedRestoreFor(
  layout: Layout,
  version: string,
  state: { transaction: LatestTransaction | null; history: readonly LatestTransaction[] },
): Promise<InterruptedRestore | undefined> {
  const latest = state.transaction ?? state.history.at(-1);
  if (!latest) return undefined;
  return (await interruptedRestores(layout)).find(
    (r) =>
      r.tx === latest.id &&
      (r.version ?? (latest.restore?.snapshot === r.snapshot ? latest.restore.version : undefined)) === version,
  );
}

interface LatestTransaction {
  id: string;
  restore?: { snapshot: string; version: string } | undefined;
}
