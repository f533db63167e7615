/**
 * Everything after the flip: restart through the supervisor, verify the new process, and when that
 * fails mark the release bad and bring the previous one back (flip, restart, verify). Used by
 * `activate` and by recovery, which resumes a transaction a killed runner left after its flip.
 */
import { runStep } from '../store/journal.js';
import type { Step, TerminalStatus, Transaction } from '../model/state.js';
import { closeTransaction, markGood, setReleaseState, transition } from './machine.js';
import { flipBack } from './flip-back.js';
import type { JournalSession } from '../store/session.js';
import { beginRestore, endRestore, noteSnapshot, planStateReturn } from './state-return.js';
import type { ServiceState, Supervisor } from '../service/supervisors/types.js';
import { type VerifyResult, verifyRunning } from '../service/health.js';

export interface SettleOptions {
  /** False when recovery finds the restart already done: only verify. @default true */
  restart?: boolean;
}

export async function settleAfterFlip(session: JournalSession, tx: Transaction, supervisor: Supervisor, options: SettleOptions = {}): Promise<void> {
  const { journal } = session;
  const target = tx.to!;
  let failure: { reason: string; detail: string } | undefined;
  let baseline: ServiceState | null = null;
  if (options.restart !== false) {
    transition(tx, 'restarting');
    const restoring = await beginRestore(session, tx);
    try {
      baseline = await restartStep(session, tx, supervisor, 'restart');
    } catch (error) {
      failure = { reason: 'restart_failed', detail: (error as Error).message };
    }
    await endRestore(session, tx, restoring);
  }
  await noteSnapshot(session, tx);
  if (!failure) {
    transition(tx, 'verifying');
    const result = await verifyStep(session, tx, supervisor, 'verify', target, baseline);
    if (result.ok) {
      markGood(journal.state.releases[target], { overrideBad: true });
      return finish(session, tx, 'verified');
    }
    failure = { reason: result.reason, detail: result.detail };
  }
  const record = journal.state.releases[target];
  if (record) setReleaseState(record, 'bad', `${failure.reason}: ${failure.detail}`);
  await rollBack(session, tx, supervisor, failure);
}

/** Bring `tx.from` back after `tx.to` failed. Ends `rolled_back` or `rollback_failed`. */
export async function rollBack(session: JournalSession, tx: Transaction, supervisor: Supervisor, failure: { reason: string; detail: string }): Promise<void> {
  const { layout, journal } = session;
  transition(tx, 'rolling_back', { reason: failure.reason });
  await journal.commit();
  const previous = tx.from;
  if (previous === null) return failRollback(session, tx, supervisor, `${tx.to} failed (${failure.detail}) and there is no earlier release to go back to`);
  // Decided before the flip back: when the state cannot be put back, the failed release stays current
  // rather than starting one that would refuse the migrated state and leave the service down.
  const plan = await planStateReturn({ layout, config: session.config, state: journal.state, leaving: tx.to!, target: previous });
  if (plan.action === 'refuse') return failRollback(session, tx, supervisor, `not going back to ${previous}: ${plan.detail}`, plan.hint);
  if (plan.action === 'restore') tx.restore = { snapshot: plan.snapshot, version: previous };
  else delete tx.restore; // a switch's own request (a rollback with a restore) is not for the way back
  if (plan.action === 'keep') tx.steps.push({ name: 'restore-state', status: 'skipped', ms: 0, detail: plan.detail });
  try {
    await runStep(journal, tx, 'rollback', async (step) => {
      await flipBack(layout, { current: previous, previous: tx.before?.previous ?? null });
      step.detail = `${failure.detail}; current -> releases/${previous}`;
    });
  } catch (error) {
    return failRollback(session, tx, supervisor, `could not flip back to ${previous}: ${(error as Error).message}`);
  }
  let baseline: ServiceState | null;
  const restoring = await beginRestore(session, tx);
  try {
    baseline = await restartStep(session, tx, supervisor, 'restart-previous');
  } catch (error) {
    await endRestore(session, tx, restoring);
    return failRollback(session, tx, supervisor, `restarting ${previous} failed: ${(error as Error).message}`);
  }
  await endRestore(session, tx, restoring);
  const result = await verifyStep(session, tx, supervisor, 'verify-previous', previous, baseline);
  if (!result.ok) return failRollback(session, tx, supervisor, `${previous} did not come back: ${result.detail}`);
  markGood(journal.state.releases[previous], { overrideBad: false });
  return finish(session, tx, 'rolled_back');
}

/**
 * Restart, then make sure the service is running: a restart can leave a unit failed (start limit,
 * a stop that escalated to SIGKILL), in which case it is reset and started, and that is recorded.
 */
async function restartStep(session: JournalSession, tx: Transaction, supervisor: Supervisor, name: string): Promise<ServiceState> {
  return runStep(session.journal, tx, name, async (step) => {
    session.runtime.onProgress({ phase: 'restart', message: `restarting ${supervisor.unit} (${supervisor.name})` });
    await supervisor.restart();
    let state = await supervisor.state();
    if (!state.active && !state.state.startsWith('activating') && state.exitStatus !== 78) {
      await supervisor.start();
      const after = await supervisor.state();
      step.detail = `after the restart it was ${state.state}${state.detail ? ` (${state.detail})` : ''}; reset and started: ${after.state}`;
      state = after;
    } else {
      step.detail = `${state.state}, main pid ${state.mainPid ?? 'none'}`;
    }
    return state;
  });
}

async function verifyStep(session: JournalSession, tx: Transaction, supervisor: Supervisor, name: string, version: string, baseline: ServiceState | null): Promise<VerifyResult> {
  const { config, runtime, journal } = session;
  let result!: VerifyResult;
  await runStep(journal, tx, name, async (step: Step) => {
    result = await verifyRunning(
      {
        supervisor,
        healthUrl: config.healthUrl,
        versionField: config.versionField,
        expectedVersion: version,
        timeoutMs: config.verifyTimeout * 1000,
        stableMs: config.stableFor * 1000,
        onProbe: (message) => runtime.onProgress({ phase: 'verify', message }),
      },
      baseline,
    );
    step.evidence = result.evidence;
    if (result.ok) {
      step.detail = `${version} healthy after ${result.evidence.healthyAfterMs} ms, stable for ${config.stableFor} s (${result.evidence.probes} probes)`;
    } else {
      step.status = 'failed';
      step.detail = `${result.reason}: ${result.detail}`;
    }
  });
  return result;
}

async function failRollback(session: JournalSession, tx: Transaction, supervisor: Supervisor, why: string, hint?: string): Promise<void> {
  const root = session.layout.root;
  const scope = supervisor.name === 'systemd' ? 'systemctl --user' : supervisor.name === 'systemd-system' ? 'systemctl' : supervisor.name;
  tx.steps.push({ name: 'rollback', status: 'failed', ms: 0, detail: why });
  tx.hint = hint ?? `The service may be down. Look at it (${scope} status ${supervisor.unit}), then bring a known-good release back by hand: release-switcher --root ${root} list, then release-switcher --root ${root} switch VERSION.`;
  await finish(session, tx, 'rollback_failed');
}

async function finish(session: JournalSession, tx: Transaction, status: TerminalStatus): Promise<void> {
  closeTransaction(session.journal, tx, status);
  await session.journal.commit('activate:done');
}

