/**
 * `boot-check`, for ExecStartPre=: counts starts of a `pending` release and, once its tries are
 * spent without a verification, flips `current` back before the start goes on, so a crash-looping
 * release recovers even when no runner is left to notice. It never blocks the start: it exits 0,
 * skips when a live runner holds the lock (that runner decides), and never restarts anything (it
 * runs inside the very start job a restart would wait for). Being the one moment the service is
 * stopped, it is also where state snapshots are taken and put back (boot-state.ts).
 */
import { defaultEnv } from '../model/runtime.js';
import { restoreForTransaction, prepareStateAtStart, type StateAtStart } from '../snapshot/boot-state.js';
import { type Config, readConfig } from '../store/config.js';
import { isReleaseSwitcherError } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { Journal, readState } from '../store/journal.js';
import type { Transaction } from '../model/state.js';
import { type Layout, layoutOf } from '../store/layout.js';
import { readLinkVersion } from '../store/links.js';
import { flipBack } from '../transaction/flip-back.js';
import { canTransition, openTransaction, setReleaseState, transition } from '../transaction/machine.js';
import { withLock } from '../store/lock.js';
import { planStateReturn } from '../transaction/state-return.js';

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
  const prepared = version ? await prepareStateAtStart({ layout, config, state, version, env: options.env ?? defaultEnv() }) : {};
  if (!version || state.releases[version]?.state !== 'pending') return { version, action: 'none', tries: 0, ...prepared };
  const counted = (await readJsonIfExists(layout.bootTries).catch(() => undefined)) as { version?: string; tries?: number } | undefined;
  const tries = (counted?.version === version ? (counted.tries ?? 0) : 0) + 1;
  await writeFileAtomic(layout.bootTries, `${JSON.stringify({ version, tries })}\n`);
  const maxTries = options.maxTries ?? DEFAULT_BOOT_TRIES;
  if (tries <= maxTries) return { version, action: 'counted', tries, ...prepared };
  try {
    return { ...prepared, ...(await crashLoopFlipBack(layout, config, { version, tries, maxTries })) };
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'BUSY') return { version, action: 'busy', tries, ...prepared };
    throw error;
  }
}

/** Under the lock (no runner alive): mark the release bad and point `current` back, state included. */
async function crashLoopFlipBack(layout: Layout, config: Config, spent: { version: string; tries: number; maxTries: number }): Promise<BootCheckResult> {
  const { version, tries, maxTries } = spent;
  return withLock(layout.root, { command: 'boot-check' }, async () => {
    const journal = await Journal.open(layout.root);
    const previous = await readLinkVersion(layout, 'previous');
    const target = previous && journal.state.releases[previous]?.state !== 'bad' ? previous : undefined;
    const record = journal.state.releases[version];
    if (!target || !record) return { version, action: 'none' as const, tries };
    const plan = await planStateReturn({ layout, config, state: journal.state, leaving: version, target });
    if (plan.action === 'refuse') return { version, action: 'refused' as const, tries, detail: plan.detail };
    setReleaseState(record, 'bad', `crash_loop: ${maxTries} starts without a verification`);
    const tx = rollingBack(journal, version, target);
    tx.steps.push({ name: 'boot-check', status: 'ok', ms: 0, detail: `${version} started ${tries - 1} times without a verification; current -> releases/${target}` });
    if (plan.action === 'restore') tx.restore = { snapshot: plan.snapshot, version: target };
    await journal.commit();
    await flipBack(layout, { current: target, previous: version });
    if (plan.action !== 'restore') return { version, action: 'flipped-back' as const, tries, now: target };
    // The service is stopped right now: the one safe moment to put the state back.
    await restoreForTransaction(layout, plan.snapshot, tx.id);
    tx.steps.push({ name: 'restore-state', status: 'ok', ms: 0, detail: `${plan.detail}; put back by boot-check` });
    await journal.commit();
    return { version, action: 'flipped-back' as const, tries, now: target, restored: plan.snapshot };
  });
}

/** The transaction left rolling back, for `recover` to verify the previous release later. */
function rollingBack(journal: Journal, version: string, target: string): Transaction {
  const tx = journal.state.transaction;
  if (tx && tx.to === version && canTransition(tx.status, 'rolling_back')) {
    transition(tx, 'rolling_back', { reason: 'crash_loop' });
    return tx;
  }
  const rolling = openTransaction({ kind: 'recover', status: 'rolling_back', from: target, to: version, reason: 'crash_loop' });
  journal.state.transaction = rolling;
  return rolling;
}
