/**
 * The `restart-handoff` step (presets that publish OpenClaw's restart-handoff contract), before the target's finalize and first
 * start: when the release that runs answers the capability probe with protocol 1 and `consume`, the running gateway is
 * asked (with that release's own CLI) for its fresh-process restart with a bounded drain (the preset's request), which
 * marks the sessions still running for recovery and exits without the up-to-315-s drain a SIGTERM gets; the supervisor is stopped at once (so it does not start the exited process again before
 * finalize), and the handoff is consumed with the old main PID. `accepted` is recorded. Otherwise (no protocol, the
 * gateway did not exit in time, no main PID) the step says why and the caller's stop, or restart, does it as before.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Supervisor } from '../service/supervisors/types.js';
import { servicePreset } from '../presets/index.js';
import type { ResolvedRuntime } from '../model/runtime.js';
import { processEnvironment } from '../rehearsal/candidate-env.js';
import type { Config } from '../store/config.js';
import type { Transaction } from '../model/state.js';
import { noteStep, runStep, setRestartHandoff } from './record.js';
import { type ServiceIdentity, unitSettings } from './service-identity.js';
import type { Run } from './steps.js';
import { nodeFor } from './runtime.js';

const NAME = 'restart-handoff' as const;
/** How long the gateway may take to exit after the request (OpenClaw's drain cap under systemd is 315 s). */
const EXIT_TIMEOUT_MS = 330_000;

/** Hand over and stop; the old main PID (null when none ran). Never fails the transaction: the stop after it remains. */
export async function handoffStep(
  run: Run,
  supervisor: Supervisor,
  service: ServiceIdentity,
): Promise<{ pid: number | null }> {
  const { session, tx } = run;
  const { config, layout, runtime, journal } = session;
  const preset = servicePreset(config);
  const handoff = preset?.restartHandoff;
  const pid = (await supervisor.state()).mainPid;
  if (!handoff || !config.node || tx.from === null || !supervisor.stop) return { pid };
  if (pid === null) {
    noteStep(tx, NAME, 'skipped', `${supervisor.unit} has no main process to hand over`);
    return { pid };
  }
  // A killed run's process may be gone, or replaced by recovery's own restart: which release this one runs cannot be
  // told, and asking it with ${tx.from}'s commands what it cannot do (measured: three requests, then a stop the gateway
  // held for its whole TimeoutStopSec) costs more than the stop.
  if (run.resumed) {
    noteStep(tx, NAME, 'skipped', `resumed by recovery: pid ${pid} may not be ${tx.from}'s gateway; stopped as before`);
    return { pid };
  }
  const mode = await supervisedMode(config, runtime, pid, preset?.environment ?? {});
  if (mode !== true) {
    noteStep(tx, NAME, 'skipped', `${mode}: it would restart in place rather than exit, so it is stopped as before`);
    return { pid };
  }
  const call = {
    node: nodeFor(session, tx, 'from'), // the release being left, on the Node it runs on
    releaseDir: layout.release(tx.from),
    env: service.env,
    signal: runtime.signal,
    as: service.runAs,
  };
  await runStep({ journal, tx }, NAME, async (step) => {
    // Asked once per release (a cold CLI start: 5-9 CPU-s, 3-9 s at idle, before every switch otherwise): its answer is
    // its code's, which cannot change. Only a yes is kept: a no may be a probe that failed on a loaded machine.
    const leaving = journal.state.releases[tx.from!];
    const recorded = leaving?.restartHandoff === 1;
    const supported = recorded ? true : await handoff.supported(call);
    if (supported === true && leaving && leaving.restartHandoff !== 1) setRestartHandoff(leaving);
    if (supported !== true) {
      step.end(
        'skipped',
        `${tx.from} does not offer restart-handoff protocol 1 consume (${supported}): stopped as before`,
      );
      return;
    }
    runtime.onProgress({
      phase: 'restart',
      message: `asking ${tx.from}'s gateway (pid ${pid}) for its restart handoff`,
    });
    // The request's output, written by its process itself (startDetached), in the folder finalize's output goes to:
    // made here when no finalize made it yet (the first switch of a root), as finalize makes it (service/finalize.ts).
    const logFile = path.join(layout.finalize, `${tx.id}.handoff.log`);
    await fs.mkdir(layout.finalize, { recursive: true, mode: 0o700 });
    // The window opens when the gateway stops serving (it drains, then exits), not at the request: the request's own
    // CLI starts while the gateway still answers. The window's watch of the health URL (from the flip) sees when; a
    // gateway that restarted on its own once the flip changed its installation stopped before the request.
    const requested = run.window?.time();
    // A request that cannot even start (its log refused: a link in its place) hands nothing over: stopped as before.
    const exit = await handoff
      .request({ ...call, pid, logFile, timeoutMs: EXIT_TIMEOUT_MS })
      .catch((error: unknown) => {
        if (runtime.signal?.aborted) throw error;
        return {
          exited: false,
          ms: 0,
          attempts: 0,
          refused: `the request could not start: ${(error as Error).message}`,
        };
      });
    if (requested !== undefined) run.window?.openAt('handoff', requested);
    run.window?.next('stop');
    if (exit.exited) await supervisor.stop!(); // before its RestartSec= runs out: finalize comes first
    // The handoff is written in the state database the old gateway leaves. When a checkpoint holding that database goes
    // back before the target starts, the database is replaced (set aside whole, snapshot/swap.ts) and the new process
    // never reads it: consuming the handoff (a cold CLI start, 3-7 s in the window) would authorize nothing. It stays
    // there, unconsumed; OpenClaw lets a bounded handoff expire, and one missing or expired authorizes no restart.
    const replaced = handoffDatabaseReplaced(tx);
    if (!replaced) {
      run.window?.next('consume');
      // docs/openclaw.md "OpenClaw's external-supervisor contract": the handoff exists only once the old process has
      // exited, and must be consumed before the next one starts.
      run.window?.explain(
        'the old gateway writes its handoff as it exits; the contract consumes it before the next start',
      );
    }
    const consumed = exit.exited && !replaced ? await handoff.consume({ ...call, pid }) : undefined;
    const evidence = {
      pid,
      protocol: 1,
      // Whether the release was asked now, or had answered before (ReleaseRecord.restartHandoff).
      capabilities: recorded ? ('recorded' as const) : ('asked' as const),
      exitedAfterMs: exit.ms,
      requests: exit.attempts,
      consume: consumed ?? null,
      accepted: consumed?.status === 'accepted',
      ...(exit.exited && replaced && { unconsumed: 'state-replaced' as const }),
    };
    const detail = !exit.exited
      ? `${tx.from}'s gateway (pid ${pid}) did not exit ${exit.refused ? `(asked ${exit.attempts} times; ${exit.refused}; its output is in ${logFile})` : `within ${EXIT_TIMEOUT_MS / 1000} s of the request`}: stopped as before`
      : replaced
        ? `${tx.from}'s gateway (pid ${pid}) exited ${exit.ms} ms after the request; its handoff is left unconsumed: it was written in the state that snapshot ${replaced} replaces before ${tx.to} starts (set aside), which ${tx.to} never reads`
        : `${tx.from}'s gateway (pid ${pid}) exited ${exit.ms} ms after the request; handoff ${consumed!.status}${consumed!.reason ? ` (${consumed!.reason})` : ''}`;
    step.note({ evidence, detail });
    // Not handed over: the stop that follows does it as before.
    if (!exit.exited || (!replaced && consumed?.status !== 'accepted')) step.end('skipped', detail);
  });
  return { pid };
}

/**
 * The checkpoint that replaces the database the handoff is written in before `tx.to` starts, if one does: the target's
 * database preflight judged the shared state database (the verdicts without an agent) from that checkpoint's copy, so
 * the checkpoint holds it. Without that evidence (a preset without the check, a checkpoint of other paths), none.
 */
function handoffDatabaseReplaced(tx: Transaction): string | undefined {
  const restore = tx.restore;
  if (!restore || restore.version !== tx.to) return undefined;
  const evidence = tx.steps.find((s) => s.name === 'database-preflight')?.evidence as
    | { verdicts?: Array<{ agentId?: string; checkpoint?: string }> }
    | undefined;
  const shared = (evidence?.verdicts ?? []).filter((v) => !v.agentId);
  return shared.length > 0 && shared.every((v) => v.checkpoint === restore.snapshot) ? restore.snapshot : undefined;
}

/**
 * The handoff is honoured only by a gateway run in the preset's supervisor mode (openclaw: external), started by a unit
 * that starts the target in it too; otherwise openclaw restarts in place instead of exiting and the request costs its
 * timeout in the window (measured: 7 s, then "the accepted handoff does not name the exited external gateway", then
 * SIGTERM). Read from the manager (the unit's Environment= now) and from the running process (what it started with),
 * before anything is asked. True, or why not.
 */
export async function supervisedMode(
  config: Pick<Config, 'unit' | 'supervisor'>,
  runtime: Pick<ResolvedRuntime, 'env' | 'signal'>,
  pid: number,
  wanted: Readonly<Record<string, string>>,
): Promise<true | string> {
  const lacking = (found: Record<string, string>) =>
    Object.entries(wanted)
      .filter(([key, value]) => found[key] !== value)
      .map(([key, value]) => `${key}=${value}`);
  if (config.unit && (config.supervisor === 'systemd' || config.supervisor === 'systemd-system')) {
    const scope = config.supervisor === 'systemd' ? 'user' : 'system';
    const { environment } = await unitSettings(config.unit, scope, runtime.env, runtime.signal);
    const missing = lacking(environment);
    if (missing.length > 0)
      return `${config.unit} does not start the gateway with ${missing.join(' ')} (release-switcher unit --install sets it)`;
  }
  const running = await processEnvironment(pid); // undefined where it cannot be read: the unit's word stands
  const missing = running ? lacking(running) : [];
  if (missing.length > 0)
    return `the running gateway (pid ${pid}) was started without ${missing.join(' ')} (before the unit had it: a restart gives it)`;
  return true;
}
