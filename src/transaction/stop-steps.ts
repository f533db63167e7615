/**
 * The steps of a supervised switch around the stop, as the walker (activate.ts) runs them from the plan
 * (switch-plan.ts): `prepare` before the flip, then after it restore-state → restart-handoff → finalize → restart →
 * verify. What one hands the next travels on the run (`run.prepared`, `run.stop`). A failure is put on the run
 * (`run.failure`, or `run.refused` when sudo or polkit refused and nothing was touched), not thrown: the walker stops
 * there and the way back runs. An abort (CANCELLED) is thrown: left in flight, as a killed run would be, for recovery.
 */
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { startedWhenFor } from '../presets/index.js';
import { isRefusal } from '../service/refusal.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { markGood, runStep, transition } from './record.js';
import { recordRanOn } from './runtime.js';
import { stageStateCheckpoint } from './stage-checkpoint.js';
import { beginRestore, endRestore, noteSnapshot, readyToRestore } from './state-return.js';
import { type Run, restartStep, verifyStep } from './steps.js';
import { StopWindow } from './window.js';

/**
 * prepare: what a supervised activation does while the old release serves, before the flip: what it says of its
 * readiness (to judge the new one's against, contract-success.ts), the checkpoint's bulk copy, the snapshot a rollback
 * puts back made ready to swap in, the plugin packages finalize will install. Before the flip, not after: a service may
 * stop serving as soon as `current` changes under it (OpenClaw 2026.9.6 reads its installation every 30 s and restarts
 * on its own), so nothing slow may sit between the flip and the stop. Each is best effort. A recovery that re-enters
 * before the stop runs it again first (the plan's `again`): what it made lived in the killed run.
 */
export async function prepareStep(run: Run): Promise<void> {
  const { session, tx, supervisor } = run;
  if (!supervisor) return;
  // lazy: only a supervised activation reads the service's readiness (a switch under `none` never loads it)
  run.readinessBefore = await (await import('./contract-success.js')).readinessBefore(session.config);
  await stageStateCheckpoint(session, tx);
  run.prepared = {
    service: supervisor.mayRefuse ? await supervisor.state().catch(() => undefined) : undefined,
    ready: await readyToRestore(session, tx),
    // lazy: the finalize and plugin-prefetch code (and npm's location) only for a supervised activation
    prefetch: await (await import('./finalize-step.js')).prefetchFor(run, supervisor),
  };
}

/** From the flip on, the stop window watches the serving process (window.ts `watch`). */
export async function watchFromTheFlip(run: Run): Promise<void> {
  const { healthUrl } = run.session.config;
  if (!run.supervisor) return;
  run.window = new StopWindow();
  if (!healthUrl) return;
  // lazy: an activation with no supervisor, or no health URL, never probes health
  run.window.watch((await import('../service/health.js')).watchServing(healthUrl, startedWhenFor(run.session.config)));
}

/** restore-state, the first step after the flip: the transaction is restarting; a snapshot to put back is begun. */
export async function restoreStateStep(run: Run): Promise<void> {
  transition(run.tx, 'restarting');
  run.stop = { restoring: await beginRestore(run.session, run.tx, run.prepared?.ready) };
}

/** restart: the target started (the window's `start`), the restore begun before it ended, the snapshot noted. */
export async function restartTargetStep(run: Run): Promise<void> {
  const supervisor = supervised(run);
  run.window?.open('start'); // after a finalize the window is open already; else the restart stops the old process
  const baseline = await restartStep(run, supervisor, 'restart');
  const again = () => restartStep(run, supervisor, 'restart');
  run.baseline = (await endRestoring(run, again)) ?? baseline;
  await noteSnapshot(run.session, run.tx);
}

/**
 * A step of the stop (restart-handoff, finalize, restart) as the walker runs it: what it throws is the restart's
 * failure (`restart_failed`), or a refusal that touched nothing (the flip is undone), or an abort, thrown on.
 */
export async function inTheStop(run: Run, step: (run: Run) => Promise<void>): Promise<void> {
  try {
    await step(run);
  } catch (error) {
    await releaseHold(run); // before anything starts the service again
    await endRestoring(run);
    if (isReleaseSwitcherError(error) && error.code === 'CANCELLED') throw error;
    // Refused by sudo or polkit, and the service runs as it did: nothing was done to it; the flip is undone.
    if (isRefusal(error) && (await untouched(run, supervised(run)))) {
      run.refused = error;
      return;
    }
    run.failure = { reason: 'restart_failed', detail: (error as Error).message };
    await noteSnapshot(run.session, run.tx);
  }
}

/** After a stop that ended in a failure it put on the run (finalize's): the hold let go, the restore begun ended. */
export async function endTheStop(run: Run): Promise<void> {
  await endRestoring(run);
  await releaseHold(run);
}

/** The restore begun at restore-state, ended once (by the restart, or by a stop that failed). */
async function endRestoring(run: Run, again?: () => ReturnType<typeof restartStep>) {
  const restoring = run.stop?.restoring;
  if (run.stop) run.stop.restoring = undefined;
  return endRestore(run.session, run.tx, restoring, again);
}

/** The manager's own restarts, held from before the handoff until finalize has ended (finalize-step.ts). */
export async function releaseHold(run: Run): Promise<void> {
  const hold = run.stop?.hold;
  if (run.stop) run.stop.hold = undefined;
  await hold?.release();
}

/** verify: the new process healthy, the right version, stable. Verified makes the release good. */
export async function verifyTargetStep(run: Run): Promise<void> {
  await noteSnapshot(run.session, run.tx); // entered here by recovery: the snapshot the restart's boot-check took
  transition(run.tx, 'verifying');
  const { tx } = run;
  // Owed a state checkpoint and none was taken (the boot-check did not run): the way back to the state it left is
  // lost, so the target is not verified on it, whatever its health says (checkpoint-check.ts).
  // lazy: a path only verification takes (the boot-check's record and the checkpoint rules)
  const missing = await (await import('./checkpoint-check.js')).missingCheckpoint(run.session, tx);
  if (missing) {
    await runStep(run, 'verify', async (step) => step.fail(missing.step));
    run.failure = missing.failure;
    return;
  }
  run.window?.next('start-to-healthy');
  const verifying = run.window?.time();
  const result = await verifyStep(run, supervised(run), {
    name: 'verify',
    version: tx.to!,
    baseline: run.baseline ?? null,
  });
  if (!result.ok) run.failure = { reason: result.reason, detail: result.detail };
  else {
    markGood(run.session.journal.state.releases[tx.to!], { overrideBad: true });
    recordRanOn(run.session, tx, tx.to!, 'to');
  }
  // The window ends at the first healthy answer, not at the end of the stability wait.
  if (result.ok && verifying !== undefined && result.evidence.healthyAfterMs !== null)
    run.window?.close(verifying + result.evidence.healthyAfterMs);
}

/** The service is what it was before the stop: the same main process (or none, as then), as active as it was. */
async function untouched(run: Run, supervisor: Supervisor): Promise<boolean> {
  const before = run.prepared?.service;
  const after = before && (await supervisor.state().catch(() => undefined));
  return Boolean(after && before && after.mainPid === before.mainPid && after.active === before.active);
}

/** The steps after the flip run only under a supervisor (the walker's plan has none without one). */
export function supervised(run: Run): Supervisor {
  if (run.supervisor) return run.supervisor;
  throw new ReleaseSwitcherError('INTERNAL', 'A step of the stop was entered without a supervisor.', {
    hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
  });
}
