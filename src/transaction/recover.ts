/**
 * Finishing or undoing whatever a killed process left: run under the lock before every mutation,
 * and by `recover`. An interrupted transaction is not settled here: `planResume` decides where it
 * stopped (data: the driver's entry point) and the driver (activate.ts `drive`) carries it on from
 * there. Then leftovers are swept and the release records reconciled with the disk.
 */
import fs from 'node:fs/promises';
import { makeReleaseImmutable, removeTreeKeepingReleases } from '../store/immutable-release.js';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { fsyncDir } from '../platform/fs.js';
import { type Journal, RUNNER_GRACE_MS, runnerGone } from '../store/journal.js';
import type { Transaction } from '../model/state.js';
import type { Layout } from '../store/layout.js';
import { readLinkVersion } from '../store/links.js';
import { removeStaleHold } from '../store/restart-hold.js';
import { scanReleaseDirs } from '../store/release.js';
import { sealReleaseTop } from '../store/seal.js';
import { setAsideReleaseLinks } from '../store/set-aside.js';
import type { JournalSession } from '../store/session.js';
import { type Entry, drive } from './activate.js';
import { configuredSupervisor } from './configured-supervisor.js';
import { interruptedFinalize } from './finalize-interrupted.js';
import { endOperation, forgetRelease, recordRelease } from './record.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { finishInterruptedRestore, settleSwaps } from './state-return.js';

export interface RecoveryReport {
  /** The interrupted transaction, closed. */
  transaction: Transaction | null;
  /** What recovery did, one line each. */
  actions: string[];
}

export interface RecoverOptions {
  /** A runner recovering before it carries out its own scheduled transaction leaves that one alone. */
  ownTransaction?: string;
  /** The supervisor to drive instead of the configured one's adapter (tests drive a fake). */
  supervisor?: Supervisor | null;
}

export async function recoverRoot(session: JournalSession, options: RecoverOptions = {}): Promise<RecoveryReport> {
  const { journal, layout } = session;
  const actions: string[] = [];
  // Under the lock nobody else can be holding the service's restarts: a hold here was left by a holder that died.
  if (await removeStaleHold(layout)) actions.push('removed a restart hold left by a killed transaction');
  // A restore cut halfway is finished first (a restart whose boot-check puts the snapshot back), so that whatever
  // the interrupted transaction does next (verify, the way back) runs on the state as the checkpoint holds it.
  const restarted =
    journal.state.transaction?.status !== 'scheduled' &&
    (await finishInterruptedRestore(session, () => supervisorFor(session, options), actions));
  const transaction = await settleTransaction(session, actions, { ...options, restarted });
  await settleSwaps(session, actions);
  const operation = journal.state.operation;
  if (operation) {
    actions.push(`closed the interrupted ${operation.kind} ${operation.id}`);
    endOperation(journal);
  }
  await sweepStaging(layout, actions);
  await sweepTempFiles(layout, actions);
  // Said on every command's progress too, not only by `recover`: a link that vanishes unannounced is a puzzle.
  for (const line of (await setAsideReleaseLinks(layout)).moved) {
    actions.push(line);
    session.runtime.onProgress({ phase: 'recover', message: line });
  }
  await reconcileReleases(journal, layout, actions);
  if (actions.length > 0) await journal.commit('recover:begin');
  return { transaction, actions };
}

async function settleTransaction(
  session: JournalSession,
  actions: string[],
  options: RecoverOptions & { restarted: boolean },
): Promise<Transaction | null> {
  const { journal, layout, runtime } = session;
  const tx = journal.state.transaction;
  if (!tx || tx.id === options.ownTransaction) return null;
  // A scheduled transaction's runner never touched the service: no supervisor is needed to close it.
  const supervisor = tx.status === 'scheduled' ? null : await supervisorFor(session, options);
  const entry = planResume(tx, {
    current: await readLinkVersion(layout, 'current'),
    supervised: supervisor !== null,
    restarted: options.restarted,
  });
  if (
    entry.at === 'undo' &&
    // lazy: the rehearsal's code only to end one a killed run left (recovery runs before every mutation)
    (await (await import('./preflight-step.js')).recoverPreflight(tx, runtime.env, layout.preflight))
  )
    actions.push(`stopped the interrupted rehearsal of ${tx.to} and removed its private state`);
  // lazy: the finalize code only to end a review or finalize a killed run left
  if (entry.at === 'undo' && (await (await import('./finalize-step.js')).recoverFinalize(tx)))
    actions.push(
      tx.steps.some((s) => s.name === 'finalize-ahead' && s.status === 'running')
        ? `ended the finalize of ${tx.to} the interrupted run left running ahead, on a copy (the copy is removed)`
        : `ended the capability review of ${tx.to} the interrupted run left (its copy of the state goes with staging)`,
    );
  // lazy: as above
  if (entry.at === 'roll-back' && (await (await import('./finalize-step.js')).recoverFinalize(tx)))
    actions.push(`ended the update finalize of ${tx.to} the interrupted run left`);
  actions.push(entry.note);
  await drive({ session, tx, supervisor }, entry);
  return tx;
}

function supervisorFor(session: JournalSession, options: RecoverOptions): Promise<Supervisor | null> {
  if (options.supervisor !== undefined) return Promise.resolve(options.supervisor);
  return configuredSupervisor(session.config, session.runtime.env, session.runtime.signal);
}

export interface FoundRoot {
  /** What `current` names now. */
  current: string | null;
  /** Whether a supervisor restarts the service (false: `none`). */
  supervised: boolean;
  /**
   * Recovery restarted the service already, finishing a restore that was cut, and `current` serves on the state put
   * back (state-return.ts finishInterruptedRestore): a flipped transaction goes on with its verification. @default false
   */
  restarted?: boolean;
}

/**
 * Where the driver re-enters an interrupted transaction, decided from the journal and the links alone.
 * The flip is the only point of no return: a transaction whose `current` already names its target is
 * carried on (restart, verify, or the way back it was on), any other is undone.
 */
export function planResume(tx: Transaction, found: FoundRoot): Exclude<Entry, { at: 'verify-release' }> {
  if (tx.status === 'scheduled') {
    // A runner holds the lock while it works, so under the lock a scheduled transaction's runner is
    // either not started yet or gone; silence past the grace period (no first heartbeat, or a last
    // one gone stale) tells which.
    const gone = runnerGone(tx);
    if (!gone) {
      throw new ReleaseSwitcherError(
        'BUSY',
        `Transaction ${tx.id} (${tx.kind} to ${tx.to}) is scheduled and its runner has not reported yet.`,
        {
          hint: `Wait for it (release-switcher status), or pass --wait SECONDS; after ${RUNNER_GRACE_MS / 1000} s without a heartbeat it is declared ${tx.heartbeatAt ? 'runner_died' : 'runner_never_ran'}.`,
        },
      );
    }
    const why = gone === 'runner_never_ran' ? 'never started' : 'stopped sending heartbeats before it changed anything';
    return { at: 'undo', reason: gone, note: `the runner of ${tx.id} ${why}; nothing was changed` };
  }
  if (tx.status === 'rolling_back' && found.supervised) {
    return {
      at: 'roll-back',
      failure: { reason: tx.reason ?? 'interrupted', detail: 'resumed by recover' },
      note: `resuming the interrupted rollback of ${tx.id} to ${tx.from}`,
    };
  }
  if (tx.to !== null && found.current === tx.to && found.supervised && interruptedFinalize(tx)) {
    // Killed while the target's finalize ran, the service stopped: back to the previous release and its state.
    return {
      at: 'roll-back',
      failure: { reason: 'finalize_interrupted', detail: `${tx.to}'s update finalize was interrupted` },
      note: `going back from the interrupted finalize of ${tx.id}: ${tx.from} and its state return`,
    };
  }
  if (tx.to !== null && found.current === tx.to) {
    // Flipped: with no supervisor to restart, that is all a switch is; under one, the runner died
    // before the new process was verified: restart only if the restart never completed, then verify.
    if (!found.supervised)
      return {
        at: 'finish',
        reason: 'interrupted, finished by recover',
        note: `finished the interrupted ${tx.kind} ${tx.id} to ${tx.to}`,
      };
    const restarted = found.restarted || tx.steps.some((step) => step.name === 'restart' && step.status === 'ok');
    return {
      at: restarted ? 'verify' : 'restart',
      note: `resuming the interrupted ${tx.kind} ${tx.id} to ${tx.to} (${restarted ? `verify${found.restarted ? ': recovery restarted it, finishing the restore' : ''}` : 'restart and verify'})`,
    };
  }
  const before = tx.before ?? { current: found.current };
  return {
    at: 'undo',
    reason: 'interrupted',
    note: `undid the interrupted ${tx.kind} ${tx.id} (current stays ${before.current ?? 'unset'})`,
  };
}

/** Nothing but the stager, under the lock, uses staging/: whatever is there now is a leftover. */
async function sweepStaging(layout: Layout, actions: string[]): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(layout.staging);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    await removeTreeKeepingReleases(layout, `${layout.staging}/${name}`);
    actions.push(`removed staging leftover ${name}`);
  }
}

/** Temp files of an atomic write or link flip that was killed between create and rename. */
async function sweepTempFiles(layout: Layout, actions: string[]): Promise<void> {
  for (const name of await fs.readdir(layout.root)) {
    if (!/^\..+\.tmp-\d+-[0-9a-f]+$/.test(name)) continue;
    await fs.rm(`${layout.root}/${name}`, { force: true });
    actions.push(`removed temp file ${name}`);
  }
}

/** Make the journal's release records agree with the release directories. */
async function reconcileReleases(journal: Journal, layout: Layout, actions: string[]): Promise<void> {
  // Markers are parsed only for directories the journal does not know (store/release.ts scanReleaseDirs).
  const { complete: onDisk, unrecorded } = await scanReleaseDirs(layout, journal.state.releases);
  for (const [version, marker] of unrecorded) {
    // Renamed into place but killed before the journal recorded it: the marker has all we need.
    await sealReleaseTop(layout.release(version)); // killed before its top folder was sealed, perhaps
    await makeReleaseImmutable(layout, marker); // or before the attribute was set
    recordRelease(journal, {
      version,
      state: 'installed',
      pinned: false,
      installedAt: marker.installedAt,
      integrity: marker.integrity,
      source: marker.source,
    });
    actions.push(`recorded release ${version} found on disk`);
  }
  for (const version of Object.keys(journal.state.releases)) {
    if (onDisk.has(version)) continue;
    forgetRelease(journal, version);
    actions.push(`forgot release ${version}: its directory is gone`);
  }
  if (actions.length > 0) await fsyncDir(layout.root).catch(() => undefined);
}
