/**
 * The target's first start, made ahead (the preset's `finalize.ahead.firstStart`): after the target's finalize on the
 * ready copy, the target is started once on that copy, seen at the live folder's path in finalize's namespace, and
 * stopped as soon as its health URL says it started with its version. What a target does at its first start on a state
 * and never again is then in the copy's write set, and the real first start in the stop window is a restart's.
 *
 * OpenClaw 2026.9.6 runs its startup migrations (`legacy-state-migrations`, a second admission of the config and the
 * core) at the first gateway start after an update, under a lease, and stamps `schema_meta`'s `startup-migrations` row
 * with its build and the fingerprints of the config they ran under; a later start with a matching stamp skips them
 * (docs/openclaw.md "The first start, ahead"). `update finalize` leaves the old release's stamp. Measured on 9.5's
 * state finalized by 9.6 (Node 24, 2 cores, idle): the first start 9.5 s and 9.6 CPU-s to `/startupz` started, the
 * next 6.7 s; after a start ahead on the copy with the port moved and OpenClaw's own rehearsal switches, the real one
 * ran no startup migration.
 *
 * The process carries finalize's marker (service/finalize.ts FINALIZE_MARKER) with the transaction's id: recovery ends
 * it with the transaction's finalize processes when a runner is killed meanwhile. It is never the service's: a port of
 * its own, never the live one, on loopback.
 */
import path from 'node:path';
import type { RunAs } from '../platform/run-as.js';
import { startDetached } from '../platform/subprocess.js';
import { killGroup } from '../rehearsal/preflight-process.js';
import { environmentCause } from '../rehearsal/environment.js';
import { type PreflightReason, classify, freeLoopbackPort, readTail, rehearsalUrl } from '../rehearsal/preflight.js';
import { FINALIZE_MARKER, type OnCopy, inNamespace } from '../service/finalize.js';
import { verifyRunning } from '../service/health.js';
import type { ServiceState } from '../service/supervisors/types.js';
import { startedWhenFor } from '../presets/index.js';
import type { Run } from './steps.js';
import { nodeFor } from './runtime.js';

/** How long the started target has to stop on SIGTERM before its group is killed: it serves nothing. */
const STOP_GRACE_MS = 30_000;

export interface FirstStartAhead {
  ok: boolean;
  /** Why it did not start (then finalize runs in the window, as before). */
  detail: string;
  /**
   * Its failure as a rehearsal names it (rehearsal/preflight.ts), and whether the environment is to blame (a port held
   * by another process, the disk full, the state owned): where it stands for the rehearsal, its verdict is the
   * rehearsal's (rehearsed-ahead.ts).
   */
  reason?: PreflightReason;
  environment?: boolean;
  /** Verification's account of it, as a rehearsal's evidence has it. */
  verdict: { detail: string; probes: number; lastHttpStatus: number | null; lastVersion: string | null };
  /** The tail of its output (its whole output is in the root's finalize/ folder). */
  outputTail?: string;
  port: number;
  healthyAfterMs: number | null;
  /** How long it was held healthy with the same process before its stop (rehearsed-ahead.ts: as long as a rehearsal). */
  heldMs: number;
  ms: number;
}

/** The target started once on the ready copy (`onCopy`) and stopped once healthy; its output in `logFile`. */
export async function firstStartAhead(
  run: Run,
  at: {
    start: { args: readonly string[]; env: Readonly<Record<string, string>> };
    /** The service's environment and the preset's environment for the copy (`{port}` replaced here). */
    env: NodeJS.ProcessEnv;
    aheadEnv: Readonly<Record<string, string>>;
    onCopy: OnCopy;
    logFile: string;
    as: RunAs | undefined;
    /** Held healthy this long before its stop: the rehearsal's hold when it stands for the rehearsal, else 0. */
    holdMs: number;
  },
): Promise<FirstStartAhead> {
  const { session, tx } = run;
  const { config, layout, runtime } = session;
  const started = performance.now();
  const port = await freeLoopbackPort();
  const fill = (value: string) => value.replaceAll('{port}', String(port));
  const fillAll = (values: Readonly<Record<string, string>>) =>
    Object.fromEntries(Object.entries(values).map(([key, value]) => [key, fill(value)]));
  const [entry, ...rest] = at.start.args.map(fill);
  const releaseDir = layout.release(tx.to!);
  const [file, argv] = inNamespace(nodeFor(session, tx, 'to'), [path.join(releaseDir, entry!), ...rest], at.onCopy);
  const child = await startDetached(file, argv, {
    cwd: releaseDir,
    env: { ...at.env, ...fillAll(at.aheadEnv), ...fillAll(at.start.env), [FINALIZE_MARKER]: tx.id },
    logFile: at.logFile,
    as: at.as,
    ...(runtime.signal && { signal: runtime.signal }),
  });
  let exit: { code: number | null } | null = null;
  void child.exited.then((code) => (exit = { code }));
  let verdict: Awaited<ReturnType<typeof verifyRunning>>;
  try {
    const state = async (): Promise<ServiceState> =>
      exit
        ? { active: false, state: 'exited', mainPid: null, restarts: 0, exitStatus: exit.code, processes: { pids: [] } }
        : {
            active: true,
            state: 'running',
            mainPid: child.pid,
            restarts: 0,
            exitStatus: null,
            // Our child and its group (it leads one): only a listener of theirs is the target's.
            processes: { pids: [child.pid], pgid: child.pid },
          };
    verdict = await verifyRunning(
      {
        supervisor: {
          name: 'none',
          unit: `pgid ${child.pid}`,
          restart: async () => {},
          start: async () => {},
          state,
        },
        healthUrl: rehearsalUrl(config.healthUrl!, port),
        versionField: config.versionField,
        startedWhen: startedWhenFor(config),
        expectedVersion: tx.to!,
        timeoutMs: config.verifyTimeout * 1000,
        stableMs: at.holdMs,
        portTakenFails: true,
        signal: runtime.signal,
      },
      null,
    );
  } finally {
    // Its own clean stop first: what it writes as it stops (its boot record, its leases released) is a start's.
    await killGroup(child.pid, STOP_GRACE_MS, () => exit !== null);
  }
  const { probes, lastHttpStatus, lastVersion, healthyAfterMs } = verdict.evidence;
  const facts = {
    verdict: {
      detail: verdict.ok ? `healthy after ${healthyAfterMs} ms, held ${at.holdMs / 1000} s` : verdict.detail,
      probes,
      lastHttpStatus,
      lastVersion,
    },
    port,
    healthyAfterMs,
    heldMs: verdict.ok ? at.holdMs : 0,
    ms: Math.round(performance.now() - started),
  };
  if (verdict.ok)
    return {
      ok: true,
      detail: `started on 127.0.0.1:${port}${at.holdMs > 0 ? `, held ${at.holdMs / 1000} s` : ''}, then stopped`,
      ...facts,
    };
  // Judged as a rehearsal judges its candidate, once it is stopped: the environment's fault, or the candidate's.
  const outputTail = await readTail(at.logFile);
  const blamed =
    verdict.reason === 'port_taken'
      ? true
      : (await environmentCause({ output: outputTail, port, dir: at.onCopy.copy })) !== undefined;
  return {
    ok: false,
    detail: `${verdict.reason}: ${verdict.detail}`,
    ...(blamed
      ? { environment: true }
      : { reason: classify(verdict.reason, healthyAfterMs !== null, verdict.evidence.state?.exitStatus ?? null) }),
    outputTail,
    ...facts,
  };
}
