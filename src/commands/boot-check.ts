/**
 * `boot-check`, for ExecStartPre=: counts starts of a `pending` release and, once its tries are
 * spent without a verification, flips `current` back before the start goes on, so a crash-looping
 * release recovers even when no runner is left to notice. It never blocks the start: it exits 0,
 * skips when a live runner holds the lock (that runner decides), and never restarts anything (it
 * runs inside the very start job a restart would wait for). Being the one moment the service is
 * stopped, it is also where state snapshots are taken and put back (boot-state.ts).
 *
 * It acts only where it knows the service is stopped: the supervisor is asked first. A unit that runs
 * (a main process) means somebody ran it by hand: it does nothing at all (`live`). Snapshots are taken
 * and put back only when systemd reports the unit in its ExecStartPre (`activating/start-pre`, no main
 * process); anywhere else (another supervisor, systemctl unreachable) it may still count and flip back,
 * never touch the state. The release it would go back to is verified before anything changes.
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
import { verifyReleaseFast } from '../store/release.js';
import { systemdSupervisor } from '../service/supervisors/systemd.js';
import type { CommandRunner } from '../service/supervisors/types.js';

export interface BootCheckOptions {
  root: string;
  /** Starts a pending release gets before it is flipped back. @default 3 */
  maxTries?: number;
  /** The service's environment: `~` and `${NAME}` in state paths mean what they mean to it. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Stands in for systemctl (asking the unit's state) in tests. */
  runner?: CommandRunner;
}

export interface BootCheckResult extends StateAtStart {
  version: string | null;
  /**
   * `refused`: the tries are spent, but going back would start a release on state it cannot read and there
   * is no snapshot (or it could not be put back here), or the release to go back to fails its check.
   * `live`: the supervisor reports the service running, so this is not its start: nothing was done.
   */
  action: 'none' | 'counted' | 'flipped-back' | 'busy' | 'refused' | 'live';
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
  if (!version) return { version, action: 'none', tries: 0 };
  const env = options.env ?? defaultEnv();
  const moment = await startMoment(config, env, options.runner);
  if (moment.at === 'live') return { version, action: 'live', tries: 0, detail: `${moment.detail}; boot-check acts only in the unit's ExecStartPre, nothing done` };
  const prepared = moment.at === 'start' ? await prepareStateAtStart({ layout, config, state, version, env }) : stateLeftAlone(config, state, moment.detail);
  if (state.releases[version]?.state !== 'pending') return { version, action: 'none', tries: 0, ...prepared };
  const counted = (await readJsonIfExists(layout.bootTries).catch(() => undefined)) as { version?: string; tries?: number } | undefined;
  const tries = (counted?.version === version ? (counted.tries ?? 0) : 0) + 1;
  await writeFileAtomic(layout.bootTries, `${JSON.stringify({ version, tries })}\n`);
  const maxTries = options.maxTries ?? DEFAULT_BOOT_TRIES;
  if (tries <= maxTries) return { version, action: 'counted', tries, ...prepared };
  try {
    return { ...prepared, ...(await crashLoopFlipBack(layout, config, { version, tries, maxTries }, moment)) };
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'BUSY') return { version, action: 'busy', tries, ...prepared };
    throw error;
  }
}

/** Where this boot-check runs, as the supervisor sees the unit. */
type Moment = { at: 'start' } | { at: 'live' | 'unknown'; detail: string };

/**
 * Ask systemd whether this is the unit's start: `activating/start-pre` with no main process is
 * ExecStartPre; a main process means the service runs (a boot-check run by hand). Anything else, or
 * no systemd unit to ask about, is unknown: never a moment to write the service's state.
 */
async function startMoment(config: Config, env: NodeJS.ProcessEnv, runner: CommandRunner | undefined): Promise<Moment> {
  if ((config.supervisor !== 'systemd' && config.supervisor !== 'systemd-system') || !config.unit) {
    return { at: 'unknown', detail: `supervisor ${config.supervisor}: no systemd unit whose start can be confirmed` };
  }
  try {
    const scope = config.supervisor === 'systemd' ? 'user' : 'system';
    const unit = await systemdSupervisor({ unit: config.unit, scope, env, timeoutMs: 15_000, ...(runner ? { runner } : {}) }).state();
    if (unit.mainPid !== null) return { at: 'live', detail: `${config.unit} is ${unit.state} with main process ${unit.mainPid}` };
    if (unit.state === 'activating/start-pre') return { at: 'start' };
    return { at: 'unknown', detail: `${config.unit} is ${unit.state}, not in its ExecStartPre` };
  } catch (error) {
    return { at: 'unknown', detail: `systemd could not be asked about ${config.unit} (${(error as Error).message})` };
  }
}

/** Outside the unit's start: say so when there was state to snapshot or put back. */
function stateLeftAlone(config: Config, state: Awaited<ReturnType<typeof readState>>, why: string): StateAtStart {
  if (config.statePaths.length === 0 && !state.transaction?.restore) return {};
  return { stateError: `state neither snapshotted nor put back: ${why}` };
}

/** Under the lock (no runner alive): mark the release bad and point `current` back, state included. */
async function crashLoopFlipBack(layout: Layout, config: Config, spent: { version: string; tries: number; maxTries: number }, moment: Moment): Promise<BootCheckResult> {
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
      return { version, action: 'refused' as const, tries, detail: `going back to ${target} needs snapshot ${plan.snapshot} put back, and ${'detail' in moment ? moment.detail : 'this'} is no moment to write the service's state` };
    }
    // Before anything changes: a release that fails its check is no way back (flipBack checks again).
    try {
      await verifyReleaseFast(layout, target);
    } catch (error) {
      if (!isReleaseSwitcherError(error)) throw error;
      return { version, action: 'refused' as const, tries, detail: `${target} fails its check (${error.code}: ${error.message}); ${version} left in place` };
    }
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
