/**
 * `boot-check`, for ExecStartPre=: counts starts of a `pending` release and, once its tries are
 * spent without a verification, flips `current` back before the start goes on, so a crash-looping
 * release recovers even when no runner is left to notice. It never blocks the start: it exits 0,
 * skips when a live runner holds the lock (that runner decides), and never restarts anything (it
 * runs inside the very start job a restart would wait for). Being the one moment the service is
 * stopped, it is also where state snapshots are taken and put back (boot-state.ts).
 */
import { defaultEnv } from '../model/runtime.js';
import type { StateAtStart } from '../snapshot/boot-state.js';
import { readConfig } from '../store/config.js';
import { isReleaseSwitcherError } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { readState } from '../store/journal.js';
import { layoutOf } from '../store/layout.js';
import { readLinkVersion } from '../store/links.js';

export interface BootCheckOptions {
  root: string;
  /** Starts a pending release gets before it is flipped back. @default 3 */
  maxTries?: number;
  /** The service's environment: `~` and `${NAME}` in state paths mean what they mean to it. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface BootCheckResult extends StateAtStart {
  version: string | null;
  /** `refused`: the tries are spent, but going back would start a release on state it cannot read and there is no snapshot. */
  action: 'none' | 'counted' | 'flipped-back' | 'busy' | 'refused';
  tries: number;
  /** The release `current` names now, when flipped back. */
  now?: string;
  /** Why it refused. */
  detail?: string;
}

export const DEFAULT_BOOT_TRIES = 3;

export async function bootCheck(options: BootCheckOptions): Promise<BootCheckResult> {
  const layout = layoutOf(options.root);
  const config = await readConfig(layout.root); // a root that is not one is an error worth seeing in the unit's log
  const version = await readLinkVersion(layout, 'current');
  const state = await readState(layout.root);
  // With no transaction in flight there is no snapshot to take or put back (boot-state.ts): the
  // common start, which then loads nothing more than it reads.
  const prepared = version && state.transaction ? await (await import('../snapshot/boot-state.js')).prepareStateAtStart({ layout, config, state, version, env: options.env ?? defaultEnv() }) : {};
  if (!version || state.releases[version]?.state !== 'pending') return { version, action: 'none', tries: 0, ...prepared };
  const counted = (await readJsonIfExists(layout.bootTries).catch(() => undefined)) as { version?: string; tries?: number } | undefined;
  const tries = (counted?.version === version ? (counted.tries ?? 0) : 0) + 1;
  await writeFileAtomic(layout.bootTries, `${JSON.stringify({ version, tries })}\n`);
  const maxTries = options.maxTries ?? DEFAULT_BOOT_TRIES;
  if (tries <= maxTries) return { version, action: 'counted', tries, ...prepared };
  try {
    const { crashLoopFlipBack } = await import('../transaction/crash-loop.js');
    return { ...prepared, ...(await crashLoopFlipBack(layout, config, { version, tries, maxTries })) };
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'BUSY') return { version, action: 'busy', tries, ...prepared };
    throw error;
  }
}
