/**
 * The boot-check's flip back of a crash-looping release (verbs/boot-check.ts), in a module of its
 * own so that the boot-check, which runs before every start of the service, loads it only on the
 * rare start where a pending release has spent its tries. The release it goes back to is checked
 * before anything changes, and state is put back only at the unit's start (`moment`).
 */
import type { Config } from '../store/config.js';
import { Journal } from '../store/journal.js';
import type { Transaction } from '../model/state.js';
import { isReleaseSwitcherError } from '../model/errors.js';
import type { Layout } from '../store/layout.js';
import { readLinkVersion } from '../store/links.js';
import { withLock } from '../store/lock.js';
import { checkReleaseFast } from '../store/release.js';
import { restoreForTransaction, stateAccount } from '../snapshot/boot-state.js';
import { flipBack } from './flip-back.js';
import { canTransition } from './machine.js';
import { enterTransaction, noteStep, openTransaction, setFields, setReleaseState, transition } from './record.js';
import { planStateReturn } from './state-return.js';

/** Where this boot-check runs, as the supervisor sees the unit (verbs/boot-check.ts asks). */
export type Moment = { at: 'start' } | { at: 'live' | 'unknown'; detail: string };

export interface CrashLoopResult {
  version: string;
  action: 'none' | 'flipped-back' | 'refused';
  tries: number;
  now?: string;
  detail?: string;
  restored?: string;
}

/** Under the lock (no runner alive): mark the release bad and point `current` back, state included. */
export async function crashLoopFlipBack(
  layout: Layout,
  config: Config,
  spent: { version: string; tries: number; maxTries: number },
  moment: Moment,
): Promise<CrashLoopResult> {
  const { version, tries, maxTries } = spent;
  return withLock(layout.root, { command: 'boot-check' }, async () => {
    const journal = await Journal.open(layout.root);
    const previous = await readLinkVersion(layout, 'previous');
    const target = previous && journal.state.releases[previous]?.state !== 'bad' ? previous : undefined;
    const record = journal.state.releases[version];
    if (!target || !record) return { version, action: 'none' as const, tries };
    const plan = await planStateReturn({ layout, config, state: journal.state, leaving: version, target });
    if (plan.action === 'refuse') return { version, action: 'refused' as const, tries, detail: plan.detail };
    if (plan.action === 'restore' && moment.at !== 'start') {
      return {
        version,
        action: 'refused' as const,
        tries,
        detail: `going back to ${target} needs snapshot ${plan.snapshot} put back, and ${'detail' in moment ? moment.detail : 'this'} is no moment to write the service's state`,
      };
    }
    // Before anything changes: a release that fails its check is no way back (flipBack checks again).
    try {
      await checkReleaseFast(layout, target);
    } catch (error) {
      if (!isReleaseSwitcherError(error)) throw error;
      return {
        version,
        action: 'refused' as const,
        tries,
        detail: `${target} fails its check (${error.code}: ${error.message}); ${version} left in place`,
      };
    }
    setReleaseState(record, 'bad', `crash_loop: ${maxTries} starts without a verification`);
    const tx = rollingBack(journal, version, target);
    const detail = `${version} started ${tries - 1} times without a verification; current -> releases/${target}`;
    noteStep(tx, 'boot-check', 'ok', detail);
    if (plan.action === 'restore') setFields(tx, { restore: { snapshot: plan.snapshot, version: target } });
    await journal.commit();
    await flipBack(layout, { current: target, previous: version });
    if (plan.action !== 'restore') return { version, action: 'flipped-back' as const, tries, now: target };
    // The service is stopped right now: the one safe moment to put the state back.
    await restoreForTransaction(layout, plan.snapshot, {
      tx: tx.id,
      version: target,
      as: stateAccount(config, layout),
    });
    noteStep(tx, 'restore-state', 'ok', `${plan.detail}; put back by boot-check`);
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
  const rolling = openTransaction({
    kind: 'recover',
    status: 'rolling_back',
    from: target,
    to: version,
    reason: 'crash_loop',
    origin: {
      by: 'boot-check',
      why: 'failed_verification',
      detail: `${version} started without a verification until its tries were spent`,
    },
  });
  return enterTransaction(journal, rolling);
}
