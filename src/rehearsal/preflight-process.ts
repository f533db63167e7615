/**
 * Where a rehearsed candidate runs. Under systemd: its own transient unit (`systemd-run --collect`),
 * so it is in no caller's cgroup, a stop kills its whole cgroup, and a crashed switcher leaves a unit
 * that recovery can stop by name. Elsewhere: its own process group, signalled as one.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { type RunAs, commandAs } from '../platform/run-as.js';
import { run, startDetached, tail } from '../platform/subprocess.js';
import type { ServiceState } from '../service/supervisors/types.js';
import { parseShow } from '../service/supervisors/systemd.js';
import { type UnitScope, scopeArgs, systemctl } from '../service/systemctl.js';

export type PreflightIsolation = { kind: 'systemd'; scope: 'user' | 'system' } | { kind: 'group' };

/** What the journal keeps about a running rehearsal, written before it starts, so recovery can end it. */
export interface PreflightRecord {
  id: string;
  /** The transient unit, under systemd. */
  unit?: string;
  scope?: 'user' | 'system';
  /** The process group (= the leader's PID), elsewhere. */
  pgid?: number;
  /** The private directory: state copy and output log. */
  dir: string;
}

export interface CandidateHandle {
  state(): Promise<ServiceState>;
  /** SIGTERM, then SIGKILL of the whole tree after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

export interface StartCandidate {
  node: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The environment for systemctl/systemd-run themselves (XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS). */
  callerEnv: NodeJS.ProcessEnv;
  logFile: string;
  record: PreflightRecord;
  signal?: AbortSignal;
  /** The account it runs as (the service's, when root acts for it): platform/run-as.ts. @default this process's */
  as?: RunAs | undefined;
}

const SHOW = [
  'ActiveState',
  'SubState',
  'MainPID',
  'NRestarts',
  'ExecMainCode',
  'ExecMainStatus',
  'Result',
  'LoadState',
  'ControlGroup',
];
const COMMAND_MS = 30_000;

/**
 * systemd's EnvironmentFile= format: `NAME="value"`, double-quoted, with `\\`, `"`, `` ` `` and `$` escaped by a
 * backslash (systemd unquotes exactly those; a newline inside the quotes stays part of the value). Names a
 * shell could not hold are left out, as systemd would ignore them.
 */
export function environmentFile(env: NodeJS.ProcessEnv): string {
  const quote = (v: string) => `"${v.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`;
  return Object.entries(env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(entry[0]))
    .map(([k, v]) => `${k}=${quote(v)}\n`)
    .join('');
}

/** A record without a scope is a user unit (records written before the scope was kept). */
const unitScope = (scope: 'user' | 'system' | undefined): UnitScope => (scope === 'system' ? 'system' : 'user');

export async function startInUnit(start: StartCandidate): Promise<CandidateHandle> {
  const { unit, scope } = start.record;
  if (!unit) throw new Error('preflight: a systemd rehearsal needs a unit name');
  // The environment goes through a 0600 file in the rehearsal's private (0700) folder, never the command line:
  // systemd-run's arguments are world-readable in /proc/<pid>/cmdline, and Environment= shows in systemctl show.
  const envFile = path.join(start.record.dir, 'candidate.env');
  await fs.writeFile(envFile, environmentFile(start.env), { mode: 0o600 });
  const props = [
    `EnvironmentFile=${envFile}`,
    'Restart=no',
    'KillMode=control-group',
    'TimeoutStopSec=5',
    `StandardOutput=append:${start.logFile}`,
    `StandardError=append:${start.logFile}`,
  ];
  // The unit itself starts as its manager's account (root's for a system manager); setpriv then becomes the service's
  // account for the candidate, after the manager opened the log and read the environment file as itself.
  const [command, argv] = commandAs(start.node, start.args, start.as);
  const result = await run(
    'systemd-run',
    [
      ...scopeArgs(unitScope(scope)),
      `--unit=${unit}`,
      '--collect',
      '--service-type=exec',
      `--working-directory=${start.cwd}`,
      ...props.map((p) => `--property=${p}`),
      '--',
      command,
      ...argv,
    ],
    { timeoutMs: COMMAND_MS, env: start.callerEnv, signal: start.signal },
  );
  if (result.failed) throw unitNotStarted(unit, unitScope(scope), tail(result.output, 5));
  const call = { scope: unitScope(scope), env: start.callerEnv, timeoutMs: COMMAND_MS, signal: start.signal };
  return {
    async state() {
      const shown = await systemctl(['show', unit, ...SHOW.map((p) => `--property=${p}`)], call);
      const state = parseShow(shown.output);
      // --collect unloads a unit as soon as it has ended: gone means it exited.
      return state.detail === 'unit not found' ? { ...state, active: false, state: 'exited (unit collected)' } : state;
    },
    async stop() {
      await stopUnit(unit, scope, start.callerEnv);
    },
  };
}

/**
 * The manager would not start the rehearsal's unit (no user manager or bus reachable from here, a unit by that name):
 * an error of the supervisor, not of ours. Before the flip: nothing was changed.
 */
function unitNotStarted(unit: string, scope: UnitScope, said: string): ReleaseSwitcherError {
  const manager = scope === 'user' ? 'the user manager (systemd --user)' : "systemd's system manager";
  return new ReleaseSwitcherError(
    'SUPERVISOR_FAILED',
    `The rehearsal could not start its unit ${unit} under ${manager}: ${said}`,
    {
      hint:
        scope === 'user'
          ? "Run it in the service account's session, where its user manager and bus are reachable (XDG_RUNTIME_DIR set; loginctl enable-linger ACCOUNT keeps the manager running), or switch without the rehearsal: --no-preflight. Nothing was flipped or restarted."
          : 'Run it as root or as an account systemd lets start transient units, or switch without the rehearsal: --no-preflight. Nothing was flipped or restarted.',
      details: { unit, scope, output: said },
    },
  );
}

/** Stop (TERM, KILL after TimeoutStopSec, whole cgroup) and forget a transient unit; quiet when it is gone. */
export async function stopUnit(
  unit: string,
  scope: 'user' | 'system' | undefined,
  callerEnv: NodeJS.ProcessEnv,
): Promise<void> {
  // No signal: stopping is the clean-up of an abort too, and must finish.
  const call = { scope: unitScope(scope), env: callerEnv, timeoutMs: COMMAND_MS };
  await systemctl(['stop', unit], call);
  await systemctl(['reset-failed', unit], call);
}

export async function startInGroup(
  start: StartCandidate,
  onPid: (pid: number) => Promise<void>,
): Promise<CandidateHandle> {
  const child = await startDetached(start.node, start.args, {
    cwd: start.cwd,
    env: start.env,
    logFile: start.logFile,
    as: start.as,
    ...(start.signal && { signal: start.signal }),
  });
  let exit: { code: number | null } | null = null;
  void child.exited.then((code) => (exit = { code }));
  await onPid(child.pid);
  return {
    async state() {
      if (exit)
        return {
          active: false,
          state: 'exited',
          mainPid: null,
          restarts: 0,
          exitStatus: exit.code,
          processes: { pids: [] },
        };
      // Our child, its descendants and its process group (it leads one): only a listener of theirs is the candidate's.
      const processes = { pids: [child.pid], pgid: child.pid };
      return { active: true, state: 'running', mainPid: child.pid, restarts: 0, exitStatus: null, processes };
    },
    async stop(graceMs) {
      await killGroup(child.pid, graceMs, () => exit !== null);
    },
  };
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left in the group
  }
}

/** SIGTERM to the group, then SIGKILL to whatever of it is left after `graceMs`. */
export async function killGroup(pgid: number, graceMs: number, leaderGone: () => boolean = () => false): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const until = Date.now() + graceMs;
  while (Date.now() < until && !leaderGone() && signalGroup(pgid, 0)) await new Promise((r) => setTimeout(r, 50));
  // The leader may have gone while children of it stay in the group: KILL the group regardless.
  if (!signalGroup(pgid, 'SIGKILL')) return;
  // SIGKILL is delivered, not awaited: wait (bounded) until the kernel has taken the group away and
  // its leader is reaped, so that "stopped" means no process of it is left when this returns.
  const killedBy = Date.now() + KILL_WAIT_MS;
  while (Date.now() < killedBy && signalGroup(pgid, 0)) await new Promise((r) => setTimeout(r, 20));
}

/** How long a SIGKILLed group may take to vanish (a process in uninterruptible sleep dies when it wakes). */
const KILL_WAIT_MS = 5_000;
