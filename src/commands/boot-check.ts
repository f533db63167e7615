/**
 * `boot-check`, for ExecStartPre=: counts starts of a `pending` release and, once its tries are
 * spent without a verification, flips `current` back before the start goes on, so a crash-looping
 * release recovers even when no runner is left to notice. It never blocks the start: it exits 0,
 * skips when a live runner holds the lock (that runner decides), and never restarts anything (it
 * runs inside the very start job a restart would wait for).
 */
import { readConfig } from '../config.js';
import { isReleaseSwitcherError } from '../errors.js';
import { readJsonIfExists, writeFileAtomic } from '../fsutil.js';
import { Journal, newId, readState } from '../journal.js';
import { layoutOf } from '../layout.js';
import { pointLink, readLinkVersion } from '../links.js';
import { withLock } from '../lock.js';

export interface BootCheckOptions {
  root: string;
  /** Starts a pending release gets before it is flipped back. @default 3 */
  maxTries?: number;
}

export interface BootCheckResult {
  version: string | null;
  action: 'none' | 'counted' | 'flipped-back' | 'busy';
  tries: number;
  /** The release `current` names now, when flipped back. */
  now?: string;
}

export const DEFAULT_BOOT_TRIES = 3;

export async function bootCheck(options: BootCheckOptions): Promise<BootCheckResult> {
  const layout = layoutOf(options.root);
  await readConfig(layout.root); // a root that is not one is an error worth seeing in the unit's log
  const version = await readLinkVersion(layout, 'current');
  const state = await readState(layout.root);
  if (!version || state.releases[version]?.state !== 'pending') return { version, action: 'none', tries: 0 };
  const counted = (await readJsonIfExists(layout.bootTries).catch(() => undefined)) as { version?: string; tries?: number } | undefined;
  const tries = (counted?.version === version ? (counted.tries ?? 0) : 0) + 1;
  await writeFileAtomic(layout.bootTries, JSON.stringify({ version, tries }) + '\n');
  const maxTries = options.maxTries ?? DEFAULT_BOOT_TRIES;
  if (tries <= maxTries) return { version, action: 'counted', tries };
  try {
    return await withLock(layout.root, { command: 'boot-check' }, async () => {
      const journal = await Journal.open(layout.root);
      const previous = await readLinkVersion(layout, 'previous');
      const target = previous && journal.state.releases[previous]?.state !== 'bad' ? previous : undefined;
      const record = journal.state.releases[version];
      if (!target || !record) return { version, action: 'none' as const, tries };
      Object.assign(record, { state: 'bad', reason: `crash_loop: ${maxTries} starts without a verification` });
      // Leave a transaction rolling back, for `recover` to verify the previous release later.
      const tx = journal.state.transaction?.to === version ? journal.state.transaction : undefined;
      const now = new Date().toISOString();
      journal.state.transaction = tx ?? { id: newId(), kind: 'recover', status: 'rolling_back', from: target, to: version, reason: 'crash_loop', startedAt: now, finishedAt: null, steps: [] };
      Object.assign(journal.state.transaction, { status: 'rolling_back', reason: 'crash_loop' });
      journal.state.transaction.steps.push({ name: 'boot-check', status: 'ok', ms: 0, detail: `${version} started ${tries - 1} times without a verification; current -> releases/${target}` });
      await journal.commit();
      await pointLink(layout, 'current', target);
      await pointLink(layout, 'previous', version);
      return { version, action: 'flipped-back' as const, tries, now: target };
    });
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'BUSY') return { version, action: 'busy', tries };
    throw error;
  }
}
