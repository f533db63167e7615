/**
 * Pausing the auto-updater: `<root>/auto-update-paused.json` while paused (`timer --pause`), gone once resumed. A tick
 * that finds it does nothing and says so (skipped `paused`, exit 0); `status` shows it. A file of its own, written
 * without the lock: a pause must land while a tick holds the lock, and takes effect at that tick's next check (a tick
 * that has already begun its update or rollback carries it to its end, verification and way back included).
 */
import fs from 'node:fs/promises';
import { errnoOf } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import type { Layout } from './layout.js';

/** What `status` and a tick say of the auto-updater's pause. */
export interface AutoUpdatePause {
  paused: boolean;
  /** When it was paused (ISO-8601), while it is. */
  since?: string;
  /** The account that paused it, when known. */
  user?: string;
  /** Why, in the words given with `--reason`. */
  reason?: string;
}

export const NOT_PAUSED: AutoUpdatePause = { paused: false };

/** The pause as the file records it; a file that cannot be parsed still pauses (whoever wrote it meant to pause). */
export async function readPause(layout: Pick<Layout, 'autoUpdatePause'>): Promise<AutoUpdatePause> {
  let record: unknown;
  try {
    record = await readJsonIfExists(layout.autoUpdatePause);
  } catch {
    return { paused: true, reason: `${layout.autoUpdatePause} is unreadable` };
  }
  if (record === undefined) return NOT_PAUSED;
  const fields = (record && typeof record === 'object' ? record : {}) as Record<string, unknown>;
  const text = (key: string) => (typeof fields[key] === 'string' ? { [key]: fields[key] as string } : {});
  return { paused: true, ...text('since'), ...text('user'), ...text('reason') };
}

/**
 * Pause: the file, written by the root's owner (a root has one owner: root never writes in another account's root,
 * store/root-trust.ts refuses it before this runs). Pausing again keeps the first `since`, with the new reason.
 */
export async function writePause(
  layout: Pick<Layout, 'root' | 'autoUpdatePause'>,
  who: { user?: string | undefined; reason?: string | undefined },
): Promise<AutoUpdatePause> {
  const before = await readPause(layout);
  const pause: AutoUpdatePause = {
    paused: true,
    since: before.since ?? new Date().toISOString(),
    ...(who.user ? { user: who.user } : {}),
    ...(who.reason ? { reason: who.reason } : {}),
  };
  const { paused: _paused, ...record } = pause;
  await writeFileAtomic(layout.autoUpdatePause, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
  return pause;
}

/** Resume: the file removed; resuming what was not paused changes nothing. */
export async function removePause(layout: Pick<Layout, 'autoUpdatePause'>): Promise<AutoUpdatePause> {
  // Not ours to remove (EACCES): the CLI reports it as PERMISSION_DENIED, naming the owner.
  await fs.unlink(layout.autoUpdatePause).catch((error: unknown) => {
    if (errnoOf(error) !== 'ENOENT') throw error;
  });
  return NOT_PAUSED;
}
