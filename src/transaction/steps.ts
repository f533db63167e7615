/**
 * The driver's steps, one small function each (activate.ts walks them in the plan's order; way-back.ts runs
 * restart and verify again for the release it brings back). A step is journaled as running before it
 * acts (record.ts runStep), so a killed run leaves a record of where it was.
 */
import fs from 'node:fs/promises';
import type { StepName, TerminalStatus, Transaction } from '../model/state.js';
import type { ReleaseSwitcherError } from '../model/errors.js';
import type { ReadinessBefore } from './contract-success.js';
import type { StopWindow } from './window.js';
import { type CrashPointName, crashPoint } from '../platform/crashpoint.js';
import type { VerifyResult } from '../service/health.js';
import type { PrefetchResult } from '../service/package-prefetch.js';
import type { ServiceState, Supervisor } from '../service/supervisors/types.js';
import { pointLink, readLinkVersion } from '../store/links.js';
import { ProvenInodes, checkReleaseFast, proveWayBack } from '../store/release.js';
import type { JournalSession } from '../store/session.js';
import { addWarnings, beginStep, closeTransaction, failRunningSteps, noteStep, runStep, setFields } from './record.js';
import { pointRuntime } from './runtime.js';
import type { RestartHold } from '../store/restart-hold.js';
import type { ServiceIdentity } from './service-identity.js';
import type { PendingRestore } from './state-return.js';

/**
 * The order of the steps a switch records: switch-plan.ts `switchPlan` lists them (with the plan-only
 * `prepare`, each step's undo and its part of the stop window), the driver (activate.ts) walks that plan. `install` comes before the transaction (the verb or the
 * runner stages the release); `restore-state` is recorded around the restart that starts the target.
 */
export const SWITCH_STEPS = [
  'install',
  'verify-release',
  'check-state',
  'database-preflight',
  'finalize-ahead',
  'preflight',
  'capability-review',
  'flip',
  'restore-state',
  'restart-handoff',
  'finalize',
  'restart',
  'verify',
] as const satisfies readonly StepName[];
export type SwitchStepName = (typeof SWITCH_STEPS)[number];

/** Which of SWITCH_STEPS a switch runs: each step's own rule (the dry run asks them before, switch-plan.ts; the steps as they run). */
export type StepChoice = Record<
  | 'install'
  | 'checkState'
  | 'database'
  | 'preflight'
  | 'restore'
  | 'supervised'
  | 'handoff'
  | 'finalize'
  | 'review'
  | 'ahead',
  boolean
>;

/**
 * One transaction being driven: the session it runs in, the journaled transaction, the supervisor (null:
 * `none`), and what the steps hand each other: whether to rehearse, the service as the restart left it,
 * the failure that sends it back.
 */
export interface Run {
  session: JournalSession;
  tx: Transaction;
  supervisor: Supervisor | null;
  baseline?: ServiceState | null;
  failure?: Failure;
  /** The stop window's clock (window.ts): set by the forward restart, unset after a recovery. */
  window?: StopWindow | undefined;
  /** What the service said of its readiness before the stop (contract-success.ts); unset after a recovery. */
  readinessBefore?: ReadinessBefore | undefined;
  /** What was done while the old release served, before the flip (stop-steps.ts prepareStep). */
  prepared?: BeforeTheStop | undefined;
  /** The stop under way, from restore-state to the restart (stop-steps.ts): what its steps hand each other. */
  stop?: Stopping | undefined;
  /**
   * The running release's list of the service's add-ons (the preset's `finalize.extensions`), read once by the
   * capability review (capability-review-step.ts) for the prefetch as well (finalize-step.ts prefetchFor); unset when
   * no review read it.
   */
  extensionList?: unknown;
  /** Re-entered by recovery: a killed run left it (activate.ts drive). */
  resumed?: boolean;
  /** The flip made the target pending (it was installed): undone with the flip when the restart is refused. */
  markedPending?: boolean;
  /** sudo or polkit refused the restart and the service is as it was (service/refusal.ts): the flip is undone. */
  refused?: ReleaseSwitcherError;
}

/** The before-the-stop work the restart's steps use. */
export interface BeforeTheStop {
  /** The service before the stop, where the supervisor may refuse the restart (to tell that a refusal changed nothing). */
  service?: ServiceState | undefined;
  /** How a snapshot to put back was made ready to swap in (state-return.ts), or undefined: none to put back. */
  ready: string | undefined;
  /** The plugin packages fetched for finalize (finalize-step.ts), or undefined: no finalize, or none to fetch. */
  prefetch: PrefetchResult | undefined;
}

/** What the steps of the stop hand each other (stop-steps.ts, finalize-step.ts). */
export interface Stopping {
  /** The snapshot put back by the boot-check at the target's start, begun at restore-state, ended once. */
  restoring?: PendingRestore | undefined;
  /** The manager's own restarts held, from restart-handoff until finalize has ended. */
  hold?: RestartHold | undefined;
  /** Whom the service runs as, with its environment (service-identity.ts). */
  service?: ServiceIdentity | undefined;
  /** The old main PID, as restart-handoff found it (null: none ran). */
  pid?: number | null | undefined;
}

/** Every step the driver runs: it reads and reports through the run, and records itself (record.ts). */
export type DriverStep = (run: Run) => Promise<void>;

/** Why a release failed after the flip: the transaction's reason and what was seen. */
export interface Failure {
  reason: string;
  detail: string;
}

/** The verify-release step as the transaction's first, journaled with it (activate.ts begin): one commit, not two. */
export function openVerifyRelease(tx: Transaction): void {
  beginStep(tx, 'verify-release');
}

/** verify-release: the target against its manifest; the release being left is proven too, for the way back. */
export async function verifyReleaseStep(run: Run): Promise<void> {
  const { layout, runtime } = run.session;
  const target = run.tx.to!;
  await runStep(
    run,
    'verify-release',
    async (step) => {
      runtime.onProgress({ phase: 'verify-release', message: `checking release ${target} against its manifest` });
      // Stat fingerprints, re-hashing only what moved; proving the way back now means an automatic
      // rollback's flip-back finds it checked and costs no hashing while nothing serves.
      // Inodes the two releases share (dedupe links) are looked at once, for the target.
      const proven = new ProvenInodes();
      const checked = await checkReleaseFast(layout, target, proven);
      const back = await proveWayBack(layout, run.tx.from, proven);
      const wayBack = !back
        ? ''
        : back.proven
          ? `; way back ${back.version} proven`
          : `; way back ${back.version} NOT proven (${(back.error as Error).message})`;
      step.note({ detail: `${checked.entries} entries match the manifest${wayBack}` });
    },
    { journaled: true },
  );
}

/**
 * flip: `previous` then `current`, each a rename; the point of no return. `point`: the crash point its
 * journal write passes (when that write also records the steps before it, as their own commit would have).
 */
export async function flipStep(run: Run, point?: CrashPointName): Promise<void> {
  const { layout, runtime } = run.session;
  const { from, to } = run.tx;
  await runStep(
    run,
    'flip',
    async (step) => {
      // The unit's Node first (when the service moves to another): the old process runs on, its Node already loaded.
      const moved = await pointRuntime(run.session, run.tx, 'to');
      // A move of the service alone (the same release on another Node) leaves `previous` where it was.
      const leaving = from !== null && from !== to ? from : null;
      if (leaving !== null) await pointLink(layout, 'previous', leaving);
      crashPoint('activate:previous-flipped');
      await pointLink(layout, 'current', to!);
      crashPoint('activate:current-flipped');
      await fs.rm(layout.bootTries, { force: true }); // a new pending release starts with a fresh count
      const detail = `current -> releases/${to}${leaving ? `, previous -> releases/${leaving}` : ''}${moved}`;
      step.note({ detail });
      runtime.onProgress({ phase: 'flip', message: detail });
    },
    point && { point },
  );
}

/** On re-entry after the flip: `previous` names the release left and the unit the target's Node, as the flip would have left them. */
export async function completeFlip(run: Run): Promise<void> {
  const { layout } = run.session;
  const { from, to } = run.tx;
  await pointRuntime(run.session, run.tx, 'to');
  if (from !== null && from !== to && (await readLinkVersion(layout, 'previous')) !== from)
    await pointLink(layout, 'previous', from);
}

/**
 * Restart, then make sure the service is running: a restart can leave a unit failed (start limit,
 * a stop that escalated to SIGKILL), in which case it is reset and started, and that is recorded.
 */
export async function restartStep(
  run: Run,
  supervisor: Supervisor,
  name: 'restart' | 'restart-previous',
): Promise<ServiceState> {
  return runStep(run, name, async (step) => {
    run.session.runtime.onProgress({ phase: 'restart', message: `restarting ${supervisor.unit} (${supervisor.name})` });
    await supervisor.restart();
    let state = await supervisor.state();
    if (!state.active && !state.state.startsWith('activating') && state.exitStatus !== 78) {
      await supervisor.start();
      const after = await supervisor.state();
      step.note({
        detail: `after the restart it was ${state.state}${state.detail ? ` (${state.detail})` : ''}; reset and started: ${after.state}`,
      });
      state = after;
    } else {
      step.note({ detail: `${state.state}, main pid ${state.mainPid ?? 'none'}` });
    }
    return state;
  });
}

export interface VerifyStepOptions {
  /** The step's name: `verify`, or `verify-previous` on the way back. */
  name: 'verify' | 'verify-previous';
  /** The version the health endpoint must report. */
  version: string;
  /** The service as the restart left it (a restart count to compare), or null. */
  baseline: ServiceState | null;
}

/** verify: probe the health endpoint until the new process is healthy and stable, or a failure reason. */
export async function verifyStep(run: Run, supervisor: Supervisor, options: VerifyStepOptions): Promise<VerifyResult> {
  const { config, runtime } = run.session;
  const { name, version, baseline } = options;
  let result!: VerifyResult;
  const { verifyRunning } = await import('../service/health.js'); // lazy: only a supervised activation probes health
  const { startedWhenFor } = await import('../presets/index.js'); // lazy: as above (the preset's sign of a start)
  await runStep(run, name, async (step) => {
    result = await verifyRunning(
      {
        supervisor,
        healthUrl: config.healthUrl,
        versionField: config.versionField,
        startedWhen: startedWhenFor(config),
        expectedVersion: version,
        timeoutMs: config.verifyTimeout * 1000,
        stableMs: config.stableFor * 1000,
        onProbe: (message) => runtime.onProgress({ phase: 'verify', message }),
        signal: runtime.signal,
      },
      baseline,
    );
    // lazy: the listener and readiness checks only for a supervised activation's verify
    const judged = await (await import('./contract-success.js')).judgeListener(
      config,
      supervisor,
      result,
      name === 'verify' ? (run.readinessBefore ?? { notReady: [] }) : undefined,
    );
    result = judged.result;
    // Kept on the transaction (status, the CLI's output and the plugin's reply show them), not only in evidence.
    addWarnings(run.tx, judged.warnings);
    step.note({ evidence: result.evidence });
    if (result.ok)
      step.note({
        detail: `${version} healthy after ${result.evidence.healthyAfterMs} ms, stable for ${config.stableFor} s (${result.evidence.probes} probes)`,
      });
    else step.fail(`${result.reason}: ${result.detail}`);
  });
  return result;
}

/** Recovery takes over: steps a killed run left running did not finish; its account is the `recover` step. */
export function recordRecovery(tx: Transaction, note: string): void {
  failRunningSteps(tx);
  noteStep(tx, 'recover', 'ok', note);
}

/** Close the transaction with its terminal status and commit. */
export async function finish(run: Run, status: TerminalStatus, reason?: string): Promise<Transaction> {
  run.window?.unwatch(); // a run that ends before anything stopped (a failure goes back) leaves no watch behind
  const window = run.window?.record();
  if (window) setFields(run.tx, { window });
  closeTransaction(run.session.journal, run.tx, { status, reason });
  await run.session.journal.commit('activate:done');
  return run.tx;
}
