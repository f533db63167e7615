/**
 * The `finalize` step (presets that publish one: openclaw's `update finalize`, node-http's `migrate.js`), between the flip and the target's first
 * start: the old process is stopped, the state checkpoint taken (or, for a transaction that puts a snapshot back, that
 * snapshot put back) so the way back covers what finalize writes, then the target's finalize runs with the service's
 * environment. Its verdict (its JSON's status, or its exit code: the preset's `verdict`) is the step's evidence. A failure is returned (the driver rolls back, the snapshot goes
 * back before the previous release starts); the restart that follows starts the stopped service.
 *
 * The manager's own restarts are held (store/restart-hold.ts) from just before the handoff until finalize has ended.
 * A runner killed while finalize runs leaves the step `running` with the finalize pid in its evidence: recovery ends
 * that process (`recoverFinalize`) and goes back to the previous release (`interruptedFinalize` in planResume), so the
 * gateway is not left stopped, nor started on a half-finalized state.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Transaction } from '../model/state.js';
import { type FinalizeVerdict, endOrphanedFinalize, finalizeWarnings, startFinalize } from '../service/finalize.js';
import { type PrefetchResult, prefetchListed } from '../service/package-prefetch.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { isRefusal } from '../service/refusal.js';
import type { Preset } from '../presets/index.js';
import { finalizeArgs, finalizeOf } from './finalize-choice.js';
import { holdRestarts } from '../store/restart-hold.js';
import { locateNpm } from '../stage/dependencies.js';
import { handoffStep } from './restart-handoff-step.js';
import { addWarnings, runStep } from './record.js';
import { serviceIdentity } from './service-identity.js';
import { servingNode } from './runtime.js';
import type { Run } from './steps.js';
import { nothingToFinalize } from './finalize-interrupted.js';
import type { AheadSwap } from './finalize-ahead-swap.js';

const NAME = 'finalize' as const;
/** Bound on the downloads before the stop: past it finalize downloads the rest itself. */
const PREFETCH_TIMEOUT_MS = 10 * 60_000;

/**
 * restart-handoff, as the walker runs it (activate.ts), where finalize runs: the manager's own restarts held from here
 * until finalize has ended (Restart=always after the old gateway's exit: the unit's ExecCondition skips such a start
 * while the hold lasts), then the old gateway asked to hand its sessions over and exit, when its release speaks the
 * protocol (restart-handoff-step.ts). What fails here is finalize's failure, on the run; a refusal is thrown (the stop's).
 */
export async function handOverStep(run: Run, supervisor: Supervisor): Promise<void> {
  const { session, tx } = run;
  if (!finalizeOf(session.config, supervisor) || tx.to === null) return;
  try {
    const service = await serviceIdentity(session);
    run.stop = { ...run.stop, service, hold: await holdRestarts(session.layout) };
    run.stop.pid = (await handoffStep(run, supervisor, service)).pid;
  } catch (error) {
    await letGo(run);
    if (isRefusal(error)) throw error;
    run.failure = { reason: 'finalize_failed', detail: (error as Error).message };
  }
}

/** The hold on the manager's restarts ends: whatever the outcome, the start that follows (the target's or the way back's) is ours. */
async function letGo(run: Run): Promise<void> {
  const hold = run.stop?.hold;
  if (run.stop) run.stop.hold = undefined;
  await hold?.release();
}

/** finalize: stop, checkpoint, finalize (after restart-handoff, which held the restarts). A failure goes on the run. */
export async function finalizeStep(run: Run, supervisor: Supervisor): Promise<void> {
  const { session, tx } = run;
  const finalize = finalizeOf(session.config, supervisor);
  if (!finalize || tx.to === null) return;
  const { layout, runtime, journal } = session;
  const label = finalize.name ?? NAME;
  let verdict: FinalizeVerdict | undefined;
  let skipped: string | undefined;
  try {
    const service = run.stop?.service ?? (await serviceIdentity(session));
    const serviceEnv = service.env;
    // Fetched before the flip while the old gateway served (stop-steps.ts prepareStep).
    const prefetch = run.prepared?.prefetch;
    // The old main PID, as the handoff found it (it asked that process to exit, or found none).
    const handedOff = { pid: run.stop?.pid ?? null };
    await runStep({ journal, tx }, NAME, async (step) => {
      runtime.onProgress({ phase: 'restart', message: `stopping ${supervisor.unit} for ${tx.to}'s ${label}` });
      if (!run.window?.isOpen) run.window?.open('stop'); // after a handoff the old process is gone already
      await supervisor.stop!(); // after a handoff: it cancels the supervisor's own restart of the exited process
      const stoppedPid = handedOff.pid;
      step.note({ evidence: { stoppedPid, ...(prefetch && { prefetch }) } });
      const env = { ...serviceEnv, ...finalize.env };
      run.window?.next('checkpoint');
      // Of the state the old release left: only complete once it has stopped writing (its bulk copied before the stop).
      run.window?.explain(
        "the way back's copy of the state the old release left, complete only once it stopped writing",
      );
      await checkpointFirst(run, env);
      skipped = nothingToFinalize(tx) ?? (await absentCommand(finalize, layout.release(tx.to!), `${tx.to}`));
      if (skipped) {
        step.end('skipped', skipped);
        return;
      }
      run.window?.next('finalize');
      // Done ahead, on a copy (finalize-ahead-step.ts): put in place by rename, unless the live state changed under it.
      // lazy: the comparison and the swap (SQLite, the account's worker) only after a finalize ahead
      const { swapAhead } = await import('./finalize-ahead-swap.js');
      const { readAheadRecord } = await import('./finalize-ahead-record.js'); // lazy: as the line above
      const ahead = await swapAhead(run, step);
      run.window?.explain(
        ahead?.swapped
          ? 'done ahead on a copy: its write set put in place by rename'
          : ahead
            ? `finalize on the live state: it changed under the copy (${ahead.forcedBy?.join(', ')})`
            : 'finalize on the live state: it did not run ahead',
      );
      if (ahead?.swapped) {
        const aheadVerdict = (await readAheadRecord(layout, tx.id))?.verdict;
        step.note({
          evidence: {
            stoppedPid,
            ...(prefetch && { prefetch }),
            ahead,
            ...(aheadVerdict && { verdict: aheadVerdict }),
          },
          detail: `${tx.to} ${label}: done ahead, on a copy (${aheadVerdict?.status ?? 'ok'}); ${ahead.entries?.length ?? 0} entr${ahead.entries?.length === 1 ? 'y' : 'ies'} put in place by rename in ${ahead.ms} ms${mergedNote(ahead)}`,
        });
        if (aheadVerdict) {
          verdict = aheadVerdict;
          addWarnings(tx, finalizeWarnings(aheadVerdict));
        } else skipped = 'done ahead';
        return;
      }
      if (ahead) step.note({ evidence: { stoppedPid, ...(prefetch && { prefetch }), ahead } });
      const started = await startFinalize({
        node: servingNode(session),
        releaseDir: layout.release(tx.to!),
        args: finalizeArgs(finalize, tx),
        env,
        outputDir: layout.finalize,
        tx: tx.id,
        timeoutMs: finalize.timeoutSeconds * 1000,
        phaseTimeoutFlag: finalize.phaseTimeoutFlag,
        verdict: finalize.verdict,
        signal: runtime.signal,
        as: service.runAs,
      });
      step.note({ evidence: { stoppedPid, pid: started.pid, ...(prefetch && { prefetch }), ...(ahead && { ahead }) } });
      await journal.commit(); // the pid, for recovery, before anything waits on it
      runtime.onProgress({ phase: 'restart', message: `${tx.to} ${label} running (pid ${started.pid})` });
      verdict = await started.verdict;
      step.note({
        evidence: { stoppedPid, pid: started.pid, ...(prefetch && { prefetch }), ...(ahead && { ahead }), verdict },
        detail: `${tx.to} ${label}: ${verdict.status} (exit ${verdict.exitCode ?? 'signal'}, ${verdict.ms} ms)${ahead?.forcedBy ? `; run in the window, not ahead: the live state changed ${ahead.forcedBy.join(', ')}` : ''}`,
      });
      if (!verdict.ok) step.fail();
      // Kept on the transaction (status, list, the CLI's output and the plugin's reply show them), not only in evidence.
      addWarnings(tx, finalizeWarnings(verdict));
    });
  } catch (error) {
    // The stop refused by sudo or polkit: the stop's own (stop-steps.ts inTheStop), which tells whether it touched anything.
    if (isRefusal(error)) throw error;
    run.failure = { reason: 'finalize_failed', detail: (error as Error).message };
    return;
  } finally {
    await letGo(run);
  }
  if (verdict?.ok || skipped) return;
  run.failure = {
    reason: 'finalize_failed',
    detail: `${tx.to}'s ${label} ${verdict?.status ?? 'failed'} (exit ${verdict?.exitCode ?? 'signal'})${tailOf(verdict)}`,
  };
}

/** The service's writes carried into the finalized databases, for the step's detail. */
function mergedNote(ahead: AheadSwap): string {
  const parts = Object.entries(ahead.merged ?? {}).flatMap(([db, { carried, superseded, kept }]) => {
    const what = [
      ...Object.entries(carried).map(([table, n]) =>
        n === 'whole' ? table : `${table} (${n} row${n === 1 ? '' : 's'})`,
      ),
      ...superseded.map((table) => `${table} (finalize's)`),
      ...(kept ?? []).map((row) => `${row} (finalize's)`),
    ];
    return what.length > 0 ? [`${db}: ${what.join(', ')}`] : [];
  });
  return parts.length === 0 ? '' : `; the service's own writes since the copy carried over (${parts.join('; ')})`;
}

/** Why an optional command is not run: the release has no such file (it has nothing to migrate). */
async function absentCommand(
  finalize: NonNullable<Preset['finalize']>,
  releaseDir: string,
  version: string,
): Promise<string | undefined> {
  const file = finalize.args[0];
  if (!finalize.optional || !file) return undefined;
  const there = await fs.stat(path.join(releaseDir, file)).then(
    (stat) => stat.isFile(),
    () => false,
  );
  return there ? undefined : `not run: ${version} has no ${file} (nothing to run before its first start)`;
}

/** A failed command's last line of output (plain text: `exit-code`), for the failure's detail: what the operator reads first. */
function tailOf(verdict: FinalizeVerdict | undefined): string {
  const line = (verdict?.stderrTail || verdict?.outputTail)?.trim().split('\n').at(-1)?.trim();
  return verdict?.outputTail !== undefined && line ? `: ${line}` : '';
}

/**
 * The plugin downloads finalize would do with the gateway stopped, done while it serves (service/package-prefetch.ts),
 * before the flip (stop-steps.ts prepareStep). Not for a transaction that puts a snapshot back: the snapshot brings the
 * plugins the target had. Never fails the transaction.
 */
export async function prefetchFor(run: Run, supervisor: Supervisor): Promise<PrefetchResult | undefined> {
  const { session, tx } = run;
  const { config, layout, runtime } = session;
  const finalize = finalizeOf(config, supervisor);
  const extensions = finalize?.extensions;
  if (!extensions || tx.from === null || tx.to === null || tx.restore) return undefined;
  const { env, runAs } = await serviceIdentity(session);
  const npm = await locateNpm(config.npm, config.node!, env.PATH ?? '');
  if (!npm) return { specs: [], ok: false, ms: 0, detail: "no npm beside the service's Node nor on its PATH" };
  runtime.onProgress({ phase: 'restart', message: `fetching ${tx.to}'s plugin packages before the stop` });
  const request = {
    node: config.node!,
    npm,
    runningDir: layout.release(tx.from),
    listArgs: extensions.list,
    list: run.extensionList, // read by the capability review already, when it ran: not asked again
    env,
    workDir: path.join(layout.preflight, `plugins-${tx.id}`), // reachable by the service's account
    timeoutMs: PREFETCH_TIMEOUT_MS,
    signal: runtime.signal,
    as: runAs,
  };
  const target = tx.to;
  return prefetchListed(request, (list) => extensions.prefetch(list, target)).catch((error: unknown) => {
    if (runtime.signal?.aborted) throw error; // cancelled: as any step after the flip is
    return { specs: [], ok: false, ms: 0, detail: error instanceof Error ? error.message : String(error) };
  });
}

/** The checkpoint the way back needs, before finalize writes anything: taken, or the requested snapshot put back. */
async function checkpointFirst(run: Run, env: NodeJS.ProcessEnv): Promise<void> {
  const { session, tx } = run;
  const { layout, config } = session;
  // lazy: the checkpoint code (the snapshot store, its copier) only for a finalize, not for the handoff or prefetch
  const state = await import('../snapshot/boot-state.js');
  // The state is the service's account's: root acting for it works on it only as that account (snapshot/state-side.ts).
  const { runAs: as } = await serviceIdentity(session);
  if (tx.restore) {
    // lazy: as boot-state.js above
    const { restoredFor } = await import('../snapshot/snapshot.js');
    if (tx.restore.version === tx.to && !(await restoredFor(layout, tx.restore.snapshot, tx.id)))
      await state.restoreForTransaction(layout, tx.restore.snapshot, { tx: tx.id, version: tx.restore.version, as });
    return;
  }
  await state.takeCheckpoint({ layout, config, tx, env, as });
}

/**
 * Recovery, before it re-enters the transaction: end the finalize process a killed runner left, if it still runs (the
 * window's, or the capability review's on a copy before the flip: capability-review-step.ts).
 */
export async function recoverFinalize(tx: Transaction): Promise<boolean> {
  // By the marker, not the journaled pid alone: a runner killed between the spawn and the journal write left no pid.
  const running = (name: string) => tx.steps.some((s) => s.name === name && s.status === 'running');
  if (!running(NAME) && !running('capability-review') && !running('finalize-ahead')) return false;
  return endOrphanedFinalize(tx.id);
}
