/**
 * The rehearsal before a flip: start the candidate release as `<node> ARGS` on a free loopback port
 * with a private copy of the state, probe its health until it reports its own version, hold it there
 * for `holdSeconds` with the same process, then stop it and remove the copy. The live service, its
 * state and `current` are never touched, so a candidate that fails here costs no downtime.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../platform/fs.js';
import type { RunAs } from '../platform/run-as.js';
import { isOurProcess, run, tail } from '../platform/subprocess.js';
import { type OnCopy, inNamespace } from '../service/finalize.js';
import { verifyRunning } from '../service/health.js';
import type { StartedWhen } from '../model/started-when.js';
import { type EnvironmentCause, type EnvironmentReason, environmentCause } from './environment.js';
import { handOverFile, handOverRehearsal, removeHandedOver } from './hand-over.js';
import { PORT_TRIES, freeRehearsalPort } from './rehearsal-port.js';
import {
  type CandidateHandle,
  type PreflightIsolation,
  type PreflightRecord,
  killGroup,
  startInGroup,
  startInUnit,
  stopUnit,
} from './preflight-process.js';

export type { PreflightIsolation, PreflightRecord } from './preflight-process.js';
export { freeLoopbackPort } from './rehearsal-port.js';

export type PreflightReason =
  | EnvironmentReason
  | 'crashed'
  | 'exited'
  | 'never_healthy'
  | 'version_mismatch'
  | 'died_in_hold'
  | 'prepare_failed';

export interface PreflightOptions {
  node: string;
  /** ARGS, already split; the placeholders (`{port}`, `{state}`, `{token}`, `{config}`) are replaced here. */
  args: readonly string[];
  /** NAME → value; placeholders replaced here. */
  env: Readonly<Record<string, string>>;
  /** Written to `{config}` (placeholders replaced in every string) before the candidate starts; null: no file. */
  configFile?: Readonly<Record<string, unknown>> | null;
  /** Run as `<node> ARGS` in the release folder, with the rehearsal's environment, after the copy and before the start (placeholders replaced); must exit 0. */
  prepare?: readonly string[] | null;
  /** The environment the candidate inherits underneath `env`: the service's own, never the caller's whole one (candidate-env.ts). */
  baseEnv: NodeJS.ProcessEnv;
  /** The environment of systemd-run/systemctl themselves (XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS); not the candidate's. @default baseEnv */
  callerEnv?: NodeJS.ProcessEnv;
  releaseDir: string;
  expectedVersion: string;
  healthUrl: string;
  versionField: string;
  /** What a healthy answer must also hold (service/health.ts). */
  startedWhen?: StartedWhen | undefined;
  verifyTimeoutMs: number;
  holdMs: number;
  /** In its own process group: how long a candidate being stopped has between SIGTERM and SIGKILL (a unit: its TimeoutStopSec). @default 5000 */
  stopGraceMs?: number;
  /**
   * Fills `dir` (which does not exist yet) with the private state copy and returns the `{state}` value;
   * the caller passes snapshot/private-copy's `copyStatePrivately` (service may not import snapshot).
   */
  copyState: (dir: string) => Promise<string>;
  /**
   * The copy is seen at `live`, the live state's own path, in a mount namespace of the candidate's (service/finalize.ts
   * inNamespace): a state finalized ahead names the live paths in its rows and records, and is valid only there.
   * `{state}` is then `live`, and the prepare step and the candidate run in that namespace. @default the copy's own path
   */
  seenAt?: Omit<OnCopy, 'copy'> | undefined;
  /** A directory of the switcher's own (e.g. `<root>/preflight`) where the private dir is made. */
  workRoot: string;
  isolation: PreflightIsolation;
  /** Journal the record BEFORE the candidate starts (and again once its process group is known). */
  onRecord: (record: PreflightRecord) => Promise<void>;
  /** Called once the candidate runs (its unit or process group exists), before it is probed. */
  onStarted?: () => void;
  onProbe?: (message: string) => void;
  signal?: AbortSignal;
  /**
   * The account the candidate and its prepare step run as: the service's, when root acts for it (its copy of the
   * state and its config file are handed to it first: hand-over.ts). @default this process's
   */
  as?: RunAs | undefined;
}

export interface PreflightResult {
  ok: boolean;
  reason?: PreflightReason;
  /** The failure is the environment's (a port taken, the disk full, the state owned by a live process), not the candidate's. */
  environment?: boolean;
  detail: string;
  probes: number;
  /** The last answer of the health URL, as verification saw it (service/health.ts): its HTTP status and version. */
  lastHttpStatus: number | null;
  lastVersion: string | null;
  port: number;
  ms: number;
  outputTail: string;
  /** Ports found held by another process before this one (each said with its holder); the rehearsal moved on. */
  portsTaken?: string[];
}

const STOP_GRACE_MS = 5_000;
const PREPARE_MS = 120_000;

/** The health URL with host and port replaced by 127.0.0.1:`port`. */
export function rehearsalUrl(healthUrl: string, port: number): string {
  const url = new URL(healthUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

/** What the placeholders stand for in one rehearsal. `token` is random per run and never journaled. */
export interface Vars {
  port: number;
  state: string;
  token: string;
  config: string;
}

/**
 * One pass over the placeholders: a value is never read again, so a state path with `{token}` in its name stays that
 * path (one replace after another filled the token into it, and wrote it into the candidate's arguments).
 */
export function fill(value: string, vars: Vars): string {
  return value.replace(/\{(port|state|token|config)\}/g, (_, name: keyof Vars) => String(vars[name]));
}

function fillJson(value: unknown, vars: Vars): unknown {
  if (typeof value === 'string') return fill(value, vars);
  if (Array.isArray(value)) return value.map((v) => fillJson(v, vars));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillJson(v, vars)]));
  return value;
}

export async function runPreflight(options: PreflightOptions): Promise<PreflightResult> {
  const started = Date.now();
  const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const record: PreflightRecord = { id, dir: path.join(options.workRoot, id), ...unitFields(options.isolation, id) };
  const logFile = path.join(record.dir, 'output.log');
  const trial: Attempt = { options, record, logFile, started, handle: null };
  try {
    await fs.mkdir(options.workRoot, { recursive: true, mode: 0o700 });
    await options.onRecord(record); // before anything exists, so a crash from here on is recoverable
    await fs.mkdir(record.dir, { mode: 0o700 });
    await fs.writeFile(logFile, '');
    const state = await options.copyState(path.join(record.dir, 'state'));
    // Once, before any candidate runs: a later try must never walk a copy the account's candidate has had in hand.
    await handOverRehearsal(record.dir, options.workRoot, options.as);
    // A port another process holds is not the candidate's failure: another port, PORT_TRIES at most (rehearsal-port.ts).
    const taken: string[] = [];
    for (let attempt = 1; ; attempt++) {
      const result = await rehearseOnce(trial, state);
      if (!result.squatted || attempt >= PORT_TRIES)
        return taken.length === 0 ? result.result : { ...result.result, portsTaken: taken };
      taken.push(result.result.detail);
      await fs.appendFile(logFile, `release-switcher: ${result.result.detail}; rehearsing on another port\n`);
    }
  } finally {
    await trial.handle?.stop(options.stopGraceMs ?? STOP_GRACE_MS);
    await cleanupPreflight(record, { callerEnv: options.callerEnv ?? options.baseEnv, workRoot: options.workRoot });
  }
}

/** One rehearsal run: its options, its private folder's record, and the candidate of the try under way. */
interface Attempt {
  options: PreflightOptions;
  record: PreflightRecord;
  logFile: string;
  started: number;
  handle: CandidateHandle | null;
}

/**
 * One try on a fresh port: prepare, start, verify, and the candidate stopped when it failed. `squatted`: the port was
 * another process's (its listener answered, or the candidate could not bind it while that process held it).
 */
async function rehearseOnce(trial: Attempt, state: string): Promise<{ result: PreflightResult; squatted: boolean }> {
  const { options, record, logFile, started } = trial;
  const port = await freeRehearsalPort();
  const { seenAt } = options;
  /** `file args`, in the copy's namespace when it is seen at the live path (seenAt). */
  const where = (file: string, args: string[]): [string, string[]] =>
    seenAt ? inNamespace(file, args, { ...seenAt, copy: state }) : [file, args];
  const vars: Vars = {
    port,
    state: seenAt ? seenAt.live : state,
    token: randomBytes(24).toString('hex'),
    config: path.join(record.dir, 'config.json'),
  };
  if (options.configFile) {
    await fs.writeFile(vars.config, `${JSON.stringify(fillJson(options.configFile, vars), null, 2)}\n`, {
      mode: 0o600,
    });
    await handOverFile(vars.config, options.as); // this try's port in it: the candidate reads it as the account
  }
  const env = {
    ...options.baseEnv,
    ...Object.fromEntries(Object.entries(options.env).map(([k, v]) => [k, fill(v, vars)])),
    // How recovery knows the process group it finds is this rehearsal's and not whatever a journal names.
    [PREFLIGHT_MARKER]: record.id,
  };
  if (options.prepare) {
    const prepared = await run(
      ...where(
        options.node,
        options.prepare.map((a) => fill(a, vars)),
      ),
      {
        cwd: options.releaseDir,
        env,
        timeoutMs: PREPARE_MS,
        signal: options.signal,
        as: options.as,
      },
    );
    await fs.appendFile(logFile, prepared.output);
    if (prepared.failed)
      return {
        squatted: false,
        result: {
          ok: false,
          reason: 'prepare_failed',
          detail: `the prepare step exited ${prepared.timedOut ? 'on its timeout' : String(prepared.exitCode)}`,
          probes: 0,
          lastHttpStatus: null,
          lastVersion: null,
          port,
          ms: Date.now() - started,
          outputTail: await readTail(logFile),
        },
      };
  }
  const [file, args] = where(
    options.node,
    options.args.map((a) => fill(a, vars)),
  );
  const start = {
    node: file,
    args,
    cwd: options.releaseDir,
    env,
    callerEnv: options.callerEnv ?? options.baseEnv,
    logFile,
    record,
    as: options.as,
    ...(options.signal && { signal: options.signal }),
  };
  const handle =
    options.isolation.kind === 'systemd'
      ? await startInUnit(start)
      : await startInGroup(start, async (pid) => options.onRecord({ ...record, pgid: pid }));
  trial.handle = handle;
  options.onStarted?.();
  const verdict = await verifyRunning(
    {
      supervisor: {
        name: 'none',
        unit: record.unit ?? `pgid ${record.pgid}`,
        restart: async () => {},
        start: async () => {},
        state: () => handle.state(),
      },
      healthUrl: rehearsalUrl(options.healthUrl, port),
      versionField: options.versionField,
      startedWhen: options.startedWhen,
      expectedVersion: options.expectedVersion,
      timeoutMs: options.verifyTimeoutMs,
      stableMs: options.holdMs,
      // Only the candidate's own listener may answer (its unit's control group, or our child and its group).
      portTakenFails: true,
      ...(options.onProbe && { onProbe: options.onProbe }),
    },
    null,
  );
  const { probes, lastHttpStatus, lastVersion } = verdict.evidence;
  const base = { probes, lastHttpStatus, lastVersion, port };
  if (verdict.ok)
    return {
      squatted: false,
      result: {
        ok: true,
        detail: `healthy after ${verdict.evidence.healthyAfterMs} ms, held ${options.holdMs / 1000} s`,
        ...base,
        ms: Date.now() - started,
        outputTail: await readTail(logFile),
      },
    };
  // Stopped before the host is asked: a port it held, a process it was, must not count against it.
  await handle.stop(options.stopGraceMs ?? STOP_GRACE_MS);
  trial.handle = null;
  const outputTail = await readTail(logFile);
  const blamed: EnvironmentCause | undefined =
    verdict.reason === 'port_taken'
      ? { reason: 'port_taken', detail: `port ${port} is held by another process: ${verdict.detail}`, port }
      : await environmentCause({ output: outputTail, port, dir: record.dir });
  const failure = blamed ?? {
    reason: classify(
      verdict.reason,
      verdict.evidence.healthyAfterMs !== null,
      verdict.evidence.state?.exitStatus ?? null,
    ),
    detail: verdict.detail,
  };
  return {
    squatted: blamed?.reason === 'port_taken' && blamed.port === port,
    result: {
      ok: false,
      reason: failure.reason,
      detail: failure.detail,
      ...(blamed && {
        environment: true,
        detail: verdict.reason === 'port_taken' ? blamed.detail : `${blamed.detail} (the candidate: ${verdict.detail})`,
      }),
      ...base,
      ms: Date.now() - started,
      outputTail,
    },
  };
}

function unitFields(isolation: PreflightIsolation, id: string): Partial<PreflightRecord> {
  return isolation.kind === 'systemd'
    ? { unit: `release-switcher-preflight-${id}.service`, scope: isolation.scope }
    : {};
}

/** A candidate's failure as a rehearsal names it, from verification's reason (also the first start ahead's). */
export function classify(reason: string, wasHealthy: boolean, exitStatus: number | null): PreflightReason {
  if (wasHealthy) return 'died_in_hold';
  if (reason === 'version_mismatch') return 'version_mismatch';
  if (reason === 'crashed' || reason === 'exit_78') return exitStatus === 0 ? 'exited' : 'crashed';
  return 'never_healthy';
}

export async function readTail(logFile: string): Promise<string> {
  return tail(await fs.readFile(logFile, 'utf8').catch(() => ''), 20);
}

/** The environment variable every rehearsal candidate carries, naming its rehearsal's id. */
export const PREFLIGHT_MARKER = 'RELEASE_SWITCHER_PREFLIGHT';
const PREFLIGHT_ID = /^[0-9a-z]{1,16}-[0-9a-f]{8}$/;

/**
 * Ends whatever a rehearsal left: its transient unit or process group, and its private directory.
 * Idempotent; recovery calls it with the record the journal kept when the switcher died mid-rehearsal.
 * Nothing in that record is trusted (a damaged journal may name any folder, process group or unit): the id
 * must be one we make, the folder and the unit are derived from it (under `workRoot`; our own unit name), and
 * the process group is signalled only when its leader carries this rehearsal's marker in its environment.
 */
export async function cleanupPreflight(
  record: PreflightRecord,
  options: { callerEnv: NodeJS.ProcessEnv; workRoot: string },
): Promise<void> {
  if (typeof record.id !== 'string' || !PREFLIGHT_ID.test(record.id)) return;
  const derived = unitFields(record.unit ? { kind: 'systemd', scope: 'user' } : { kind: 'group' }, record.id);
  const scope = record.scope === 'system' ? 'system' : 'user';
  if (record.unit && record.unit === derived.unit) await stopUnit(derived.unit, scope, options.callerEnv);
  if (
    typeof record.pgid === 'number' &&
    (await isOurProcess(record.pgid, { name: PREFLIGHT_MARKER, value: record.id }))
  )
    await killGroup(record.pgid, STOP_GRACE_MS);
  await removeHandedOver(path.join(options.workRoot, record.id)); // the account's part, by the account
  await removeTree(path.join(options.workRoot, record.id));
}
