/**
 * The driver: one transaction, top to bottom, as the state machine it is —
 *   verify-release → check-state → database-preflight → preflight → flip → restart → verify → finish | roll back,
 * the order of steps.ts `SWITCH_STEPS`, which `--dry-run` lists too (plan.ts).
 * `activate` opens a transaction (`switch`, `rollback`, `update`, or a scheduled one a runner carries
 * out) and drives it from the top. Recovery decides where a killed run stopped (an `Entry`, as data:
 * recover.ts `planResume`) and re-enters the same `drive`. Every write to the record goes through
 * record.ts (machine.ts's rules); each step is a small function in steps.ts, roll-back.ts,
 * state-return.ts or preflight-step.ts.
 */
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { publicTransaction, type Transaction, type TransactionKind } from '../model/state.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { isRefusal } from '../service/refusal.js';
import { readLinkVersion } from '../store/links.js';
import {
  closeTransaction,
  enterTransaction,
  markBad,
  markGood,
  markPending,
  noteStep,
  openTransaction,
  runStep,
  setFields,
  transition,
} from './record.js';
import type { JournalSession } from '../store/session.js';
import { configuredSupervisor } from './configured-supervisor.js';
import { stageStateCheckpoint } from './stage-checkpoint.js';
import { knownGoodReturn, preflightWanted } from './preflight-wanted.js';
import { beginRestore, checkStateStep, endRestore, noteSnapshot, readyToRestore } from './state-return.js';
import {
  type DriverStep,
  type Failure,
  type Run,
  type SwitchStepName,
  completeFlip,
  finish,
  flipStep,
  openVerifyRelease,
  recordRecovery,
  restartStep,
  stepsBetween,
  verifyReleaseStep,
  verifyStep,
} from './steps.js';
import { StopWindow } from './window.js';
import { planRuntime, recordRanOn } from './runtime.js';
import { type OptionFlags, transactionOptions } from './options.js';

/** What to switch to, and its options (options.ts): taken from the scheduled transaction when there is one. */
export interface ActivateRequest extends OptionFlags {
  kind: TransactionKind;
  target: string;
  /** A transaction already journaled (status `scheduled`) that a runner now carries out, with its options. */
  scheduled?: Transaction;
  /** The supervisor to drive instead of the configured one's adapter (tests drive a fake). */
  supervisor?: Supervisor | null;
}

/**
 * Where the driver enters a transaction. A new one starts at `verify-release`; recovery re-enters a
 * flipped one at `restart` or `verify`, finishes one with nothing left to run (`finish`, supervisor
 * `none`), resumes the way back (`roll-back`) or undoes one that never flipped (`undo`). `note` is
 * recovery's account, recorded as its `recover` step.
 */
export type Entry =
  | { at: 'verify-release' }
  | { at: 'restart' | 'verify'; note: string }
  | { at: 'finish'; reason: string; note: string }
  | { at: 'roll-back'; failure: Failure; note: string }
  | { at: 'undo'; reason: string; note: string };

export async function activate(session: JournalSession, request: ActivateRequest): Promise<Transaction> {
  const tx = await begin(session, request);
  if (tx.status === 'up_to_date') return tx;
  const supervisor =
    request.supervisor !== undefined
      ? request.supervisor
      : await configuredSupervisor(session.config, session.runtime.env, session.runtime.signal);
  return drive({ session, tx, supervisor }, { at: 'verify-release' });
}

/** The state machine, from `entry` to a terminal status. */
export async function drive(run: Run, entry: Entry): Promise<Transaction> {
  const { tx, supervisor } = run;
  if (entry.at === 'verify-release') {
    await upToTheFlip(run); // it leaves what was done before the flip, and the window, on the run
  } else {
    recordRecovery(tx, entry.note);
    run.resumed = true;
  }
  if (entry.at === 'undo') return (await waysBack()).undo(run, entry.reason);
  if (entry.at === 'roll-back') return (await waysBack()).rollBack(run, supervised(supervisor), entry.failure);
  run.markedPending = markPending(run.session.journal.state.releases[tx.to!]) || run.markedPending;
  if (entry.at === 'finish') {
    await completeFlip(run);
    return finish(run, 'switched', entry.reason);
  }
  if (!supervisor) {
    noteStep(tx, 'restart', 'skipped', 'supervisor none: restarting the service is the operator’s job');
    return finish(run, 'switched');
  }
  for (const name of stepsBetween(entry.at === 'verify' ? 'verify' : 'restart', 'verify')) {
    await STEPS[name]?.(run);
    if (run.failure || run.refused) break;
  }
  if (run.refused) return (await waysBack()).undoRefused(run, run.refused);
  if (!run.failure) return finish(run, 'verified');
  // A move of the service alone (the same release on another Node) failed on that Node, not the release: it stays good.
  if (tx.from !== tx.to) markBad(run.session.journal, tx.to!, `${run.failure.reason}: ${run.failure.detail}`);
  return (await waysBack()).rollBack(run, supervisor, run.failure);
}

/** Open the transaction (or take over the scheduled one); `up_to_date` when the target already runs. */
async function begin(session: JournalSession, request: ActivateRequest): Promise<Transaction> {
  const { layout, journal, config } = session;
  const current = await readLinkVersion(layout, 'current');
  const previous = await readLinkVersion(layout, 'previous');
  // The options are journaled with the transaction as it opens (a runner's were, when it was scheduled).
  const tx =
    request.scheduled ??
    openTransaction({
      kind: request.kind,
      status: 'switching',
      from: current,
      to: request.target,
      ...transactionOptions(request),
    });
  if (request.scheduled) transition(tx, 'switching');
  setFields(tx, { from: current, before: { current, previous } });
  const installed = Boolean(journal.state.releases[request.target]);
  // The release running on another Node than the service's is a move of the service (runtime.ts), even to what runs.
  const runtime = installed ? await planRuntime(session, tx, tx.node) : undefined;
  if (runtime) setFields(tx, { runtime });
  if (current === request.target && !runtime) {
    closeTransaction(journal, tx, { status: 'up_to_date' });
    if (request.scheduled) await journal.commit();
    return tx;
  }
  if (!installed) {
    throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `Release ${request.target} is not installed.`, {
      hint: `Install it first (release-switcher install ${config.package}@${request.target}); see release-switcher list.`,
    });
  }
  enterTransaction(journal, tx);
  openVerifyRelease(tx); // journaled with the transaction: its first step, running
  await journal.commit('activate:begin');
  return tx;
}

/**
 * The driver's steps by name, each `(run) => Promise<void>`, run in SWITCH_STEPS' order (steps.ts), the
 * order `--dry-run` lists. Each decides by its own rule whether it applies, the rule plan.ts asks.
 */
const STEPS: Record<SwitchStepName, DriverStep | null> = {
  install: null, // before the transaction: the verb, or the runner, stages the release
  'verify-release': verifyReleaseStep,
  'check-state': (run) =>
    checkStateStep(run.session, run.tx, {
      leaving: run.tx.from,
      target: run.tx.to!,
      supervised: !!run.supervisor,
      ...(run.tx.checkpoint && { checkpoint: run.tx.checkpoint }),
    }),
  'database-preflight': async (run) =>
    (await import('./database-preflight-step.js')).databasePreflightStep(run.session, run.tx, run.tx.to!),
  preflight: rehearse,
  'capability-review': async (run) => (await import('./capability-review-step.js')).capabilityReviewStep(run),
  // After a rehearsal, its step's commit recorded the checks; else the flip's own write records them (one commit, not two).
  flip: async (run) => {
    const point = rehearsed(run.tx) ? undefined : ('activate:verified-release' as const);
    await beforeTheStop(run);
    await flipStep(run, point);
    await watchFromTheFlip(run);
  },
  'restore-state': null, // recorded around the restart that starts the target (restart below)
  'restart-handoff': null, // inside the restart below (finalize-step.ts), before the target starts
  finalize: null, // likewise
  restart,
  verify,
};

/** verify-release → check-state → database-preflight → preflight → flip. A failure here changed nothing: undo, close `failed`, throw. */
async function upToTheFlip(run: Run): Promise<void> {
  const { tx } = run;
  try {
    for (const name of stepsBetween('verify-release', 'flip')) await STEPS[name]?.(run);
  } catch (error) {
    // When even the undo fails (a full disk), the transaction stays journaled and recovery undoes it; the first error is the one to see.
    await waysBack()
      .then(({ undo }) => undo(run, isReleaseSwitcherError(error) ? error.code.toLowerCase() : 'error'))
      .catch(() => undefined);
    // The envelope shows the transaction as CONTRACT.md has it, like the success path: no internal bookkeeping.
    if (isReleaseSwitcherError(error)) error.result = publicTransaction(tx);
    throw error;
  }
}

/** preflight: the rehearsal, when the config asks for one, the caller did not decline it, and the target is no known-good return. */
async function rehearse(run: Run): Promise<void> {
  const { session, tx } = run;
  if (tx.preflight === false || !preflightWanted(session.config)) return;
  const known = knownGoodReturn(session, tx);
  if (known) return noteStep(tx, 'preflight', 'skipped', known);
  await session.journal.commit('activate:verified-release');
  await (await import('./preflight-step.js')).preflightStep(session, tx, tx.to!);
}

const rehearsed = (tx: Transaction) => tx.steps.at(-1)?.name === 'preflight' && tx.steps.at(-1)?.status === 'ok';

/**
 * What a supervised activation does while the old release serves, before the flip: what it says of its readiness (to
 * judge the new one's against, contract-success.ts), the checkpoint's bulk copy, the snapshot a rollback puts back
 * made ready to swap in, the plugin packages finalize will install. Before the flip, not after: a service may stop
 * serving as soon as `current` changes under it (OpenClaw 2026.9.6 reads its installation every 30 s and restarts on
 * its own), so nothing slow may sit between the flip and the stop. Each is best effort; a recovery that re-enters at
 * the restart does them there.
 */
async function beforeTheStop(run: Run): Promise<void> {
  if (!run.supervisor || run.prepared) return;
  const { session, tx } = run;
  run.readinessBefore = await (await import('./contract-success.js')).readinessBefore(session.config);
  await stageStateCheckpoint(session, tx);
  run.prepared = {
    service: run.supervisor.mayRefuse ? await run.supervisor.state().catch(() => undefined) : undefined,
    ready: await readyToRestore(session, tx),
    prefetch: await (await import('./finalize-step.js')).prefetchFor(run, run.supervisor),
  };
}

/** From the flip on, the stop window watches the serving process (window.ts `watch`). */
async function watchFromTheFlip(run: Run): Promise<void> {
  const { healthUrl } = run.session.config;
  if (!run.supervisor) return;
  run.window = new StopWindow();
  // Loaded here, not at start-up: an activation with no supervisor never probes health.
  if (!healthUrl) return;
  const { startedWhenFor } = await import('../store/presets.js');
  run.window.watch((await import('../service/health.js')).watchServing(healthUrl, startedWhenFor(run.session.config)));
}

/** restart, the state put back on the way when check-state asked for it. A failure goes on the run, not thrown. */
async function restart(run: Run): Promise<void> {
  const supervisor = supervised(run.supervisor);
  await beforeTheStop(run); // re-entered by recovery: not done before the flip in this process
  transition(run.tx, 'restarting');
  const restoring = await beginRestore(run.session, run.tx, run.prepared?.ready);
  const again = () => restartStep(run, supervisor, 'restart');
  try {
    // A preset's post-core step (openclaw `update finalize`): the service stopped, the state checkpointed first.
    const finalized = await (await import('./finalize-step.js')).finalizeStep(run, supervisor);
    if (finalized) {
      await endRestore(run.session, run.tx, restoring);
      run.failure = finalized;
      return;
    }
    run.window?.open('start'); // after a finalize the window is open already; else the restart stops the old process
    const baseline = await restartStep(run, supervisor, 'restart');
    run.baseline = (await endRestore(run.session, run.tx, restoring, again)) ?? baseline;
  } catch (error) {
    await endRestore(run.session, run.tx, restoring);
    // An abort is the caller's, not the release's fault: left in flight, as a killed run would be, for recovery.
    if (cancelled(error)) throw error;
    // Refused by sudo or polkit, and the service runs as it did: nothing was done to it; the flip is undone.
    if (isRefusal(error) && (await untouched(run, supervisor))) {
      run.refused = error;
      return;
    }
    run.failure = { reason: 'restart_failed', detail: (error as Error).message };
  }
  await noteSnapshot(run.session, run.tx);
}

/** verify: the new process healthy, the right version, stable. Verified makes the release good. */
async function verify(run: Run): Promise<void> {
  await noteSnapshot(run.session, run.tx); // entered here by recovery: the snapshot the restart's boot-check took
  transition(run.tx, 'verifying');
  const { tx } = run;
  // Owed a state checkpoint and none was taken (the boot-check did not run): the way back to the state it left is
  // lost, so the target is not verified on it, whatever its health says (checkpoint-check.ts).
  const missing = await (await import('./checkpoint-check.js')).missingCheckpoint(run.session, tx);
  if (missing) {
    await runStep(run, 'verify', async (step) => step.fail(missing.step));
    run.failure = missing.failure;
    return;
  }
  run.window?.next('start-to-healthy');
  const verifying = run.window?.time();
  const result = await verifyStep(run, supervised(run.supervisor), {
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

const cancelled = (error: unknown) => isReleaseSwitcherError(error) && error.code === 'CANCELLED';

/** The service is what it was before the stop: the same main process (or none, as then), as active as it was. */
async function untouched(run: Run, supervisor: Supervisor): Promise<boolean> {
  const before = run.prepared?.service;
  const after = before && (await supervisor.state().catch(() => undefined));
  return Boolean(after && before && after.mainPid === before.mainPid && after.active === before.active);
}

/** roll-back.ts (and the flip back it drives): loaded when a transaction goes back or is undone, not by one that goes through. */
function waysBack(): Promise<typeof import('./roll-back.js')> {
  return import('./roll-back.js');
}

function supervised(supervisor: Supervisor | null): Supervisor {
  if (supervisor) return supervisor;
  throw new ReleaseSwitcherError('INTERNAL', 'The way back was entered without a supervisor.', {
    hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
  });
}
