/**
 * The `finalize` step (presets that publish one: openclaw's `update finalize`), between the flip and the target's first
 * start: the old process is stopped, the state checkpoint taken (or, for a transaction that puts a snapshot back, that
 * snapshot put back) so the way back covers what finalize writes, then the target's finalize runs with the service's
 * environment. Its JSON verdict is the step's evidence. A failure is returned (the driver rolls back, the snapshot goes
 * back before the previous release starts); the restart that follows starts the stopped service.
 *
 * A runner killed while finalize runs leaves the step `running` with the finalize pid in its evidence: recovery ends
 * that process (`recoverFinalize`) and goes back to the previous release (`interruptedFinalize` in planResume), so the
 * gateway is not left stopped, nor started on a half-finalized state.
 */
import path from 'node:path';
import type { Step, Transaction } from '../model/state.js';
import { type FinalizeVerdict, endOrphanedFinalize, startFinalize } from '../service/finalize.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { systemctl } from '../service/systemctl.js';
import type { Config } from '../store/config.js';
import { runStep } from '../store/journal.js';
import { PRESETS, type Preset } from '../store/presets.js';
import { splitUnitWords } from '../unit-files/existing-unit.js';
import type { Failure, Run } from './steps.js';

const NAME = 'finalize';

/** The root's preset's finalize, when it has one, runs on a configured Node, under a supervisor that can stop it. */
export function finalizeOf(config: Config, supervisor: Supervisor | null): Preset['finalize'] {
  const name = config.preset ?? config.package;
  const finalize = Object.hasOwn(PRESETS, name) ? PRESETS[name]?.finalize : undefined;
  return finalize && config.node && supervisor?.stop ? finalize : undefined;
}

/** Stop, checkpoint, finalize. Undefined when there is nothing to do or it went well; the failure otherwise. */
export async function finalizeStep(run: Run, supervisor: Supervisor): Promise<Failure | undefined> {
  const { session, tx } = run;
  const finalize = finalizeOf(session.config, supervisor);
  if (!finalize || tx.to === null) return undefined;
  const { config, layout, runtime, journal } = session;
  let verdict: FinalizeVerdict | undefined;
  try {
    await runStep({ journal, tx, name: NAME }, async (step) => {
      runtime.onProgress({ phase: 'restart', message: `stopping ${supervisor.unit} for ${tx.to}'s update finalize` });
      const before = await supervisor.state();
      await supervisor.stop!();
      step.evidence = { stoppedPid: before.mainPid };
      const env = await serviceEnvironment(config, runtime.env, finalize.env);
      await checkpointFirst(run, env);
      const started = await startFinalize({
        node: config.node!,
        releaseDir: layout.release(tx.to!),
        args: finalize.args,
        env,
        outputDir: path.join(layout.root, 'finalize'),
        tx: tx.id,
        timeoutMs: finalize.timeoutSeconds * 1000,
        signal: runtime.signal,
      });
      step.evidence = { stoppedPid: before.mainPid, pid: started.pid };
      await journal.commit(); // the pid, for recovery, before anything waits on it
      runtime.onProgress({ phase: 'restart', message: `${tx.to} update finalize running (pid ${started.pid})` });
      verdict = await started.verdict;
      step.evidence = { stoppedPid: before.mainPid, pid: started.pid, verdict };
      step.detail = `${tx.to} update finalize: ${verdict.status} (exit ${verdict.exitCode ?? 'signal'}, ${verdict.ms} ms)`;
      if (!verdict.ok) step.status = 'failed';
    });
  } catch (error) {
    return { reason: 'finalize_failed', detail: (error as Error).message };
  }
  if (verdict?.ok) return undefined;
  return {
    reason: 'finalize_failed',
    detail: `${tx.to}'s update finalize ${verdict?.status ?? 'failed'} (exit ${verdict?.exitCode ?? 'signal'})`,
  };
}

/** The checkpoint the way back needs, before finalize writes anything: taken, or the requested snapshot put back. */
async function checkpointFirst(run: Run, env: NodeJS.ProcessEnv): Promise<void> {
  const { session, tx } = run;
  const { layout, config } = session;
  const state = await import('../snapshot/boot-state.js');
  if (tx.restore) {
    const { restoredFor } = await import('../snapshot/snapshot.js');
    if (tx.restore.version === tx.to && !(await restoredFor(layout, tx.restore.snapshot, tx.id)))
      await state.restoreForTransaction(layout, tx.restore.snapshot, tx.id);
    return;
  }
  await state.takeCheckpoint({ layout, config, tx, env });
}

/**
 * The environment the service runs with: ours, the unit's Environment= over it (its OPENCLAW_STATE_DIR, the
 * supervisor contract), then the preset's additions. HOME stays ours: we run as the service's user, and a unit's HOME
 * can name a home bound over another in the manager's namespace, which is not ours to write.
 */
async function serviceEnvironment(
  config: Config,
  env: NodeJS.ProcessEnv,
  extra: Readonly<Record<string, string>>,
): Promise<NodeJS.ProcessEnv> {
  const unit: Record<string, string> = {};
  if ((config.supervisor === 'systemd' || config.supervisor === 'systemd-system') && config.unit) {
    const scope = config.supervisor === 'systemd' ? 'user' : 'system';
    const shown = await systemctl(['show', config.unit, '--property=Environment', '--value'], { scope, env });
    if (shown.exitCode === 0)
      for (const word of splitUnitWords(shown.output.trim()))
        if (word.includes('=')) unit[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
  }
  delete unit.HOME;
  return { ...env, ...unit, ...extra };
}

/** A `finalize` step a killed runner left running: the transaction goes back, the state with it. */
export function interruptedFinalize(tx: Transaction): Step | undefined {
  return tx.steps.find((step) => step.name === NAME && step.status === 'running');
}

/** Recovery, before it re-enters the transaction: end the finalize process a killed runner left, if it still runs. */
export async function recoverFinalize(tx: Transaction): Promise<boolean> {
  const pid = (interruptedFinalize(tx)?.evidence as { pid?: number } | undefined)?.pid;
  return typeof pid === 'number' ? endOrphanedFinalize(pid, tx.id) : false;
}
