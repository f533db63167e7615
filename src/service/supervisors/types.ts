/**
 * One small interface over systemd (user and system), launchd, pm2 and none. The orchestrator only
 * ever restarts (never stop + start: a stop that escalates to SIGKILL leaves a systemd unit failed,
 * and Restart=always does not bring back a unit that was explicitly stopped), reads state, and, when
 * a restart left the service down, starts it again.
 */
import type { SupervisorName } from '../../store/config.js';

/** What the supervisor says about the service right now. */
export interface ServiceState {
  /** Running (systemd ActiveState=active, pm2 status=online, launchd state=running). */
  active: boolean;
  /** The supervisor's own word for the state (active, activating, failed, online, errored, …). */
  state: string;
  /** The main process, when there is one. */
  mainPid: number | null;
  /** How often the supervisor restarted it by itself (systemd NRestarts, pm2 restart_time, launchd runs). */
  restarts: number | null;
  /** Exit status of the last main process, when it exited (78: "do not restart me"). */
  exitStatus: number | null;
  /** Anything worth recording (systemd Result=start-limit-hit, …). */
  detail?: string;
  /**
   * Which processes are the service's, so that only a listener of theirs may answer its health URL
   * (service/listener-owner.ts). Every adapter of ours says it; a state without it (a test's fake) is not judged.
   */
  processes?: ServiceProcesses;
}

/** The service's processes: these, their descendants, and whatever else the fields name. Empty: none runs. */
export interface ServiceProcesses {
  pids: number[];
  /** A process group (the rehearsal's candidate outside systemd): every member is the service's. */
  pgid?: number;
  /** The systemd unit's control group (`ControlGroup=`): every process in it or below it is the service's. */
  cgroup?: string;
  /** pm2's cluster mode: the instances' parent, pm2's daemon, holds the listener they share. */
  parentsToo?: boolean;
}

export interface Supervisor {
  readonly name: SupervisorName;
  /** The unit, label or app this adapter drives. */
  readonly unit: string;
  /**
   * Its changes go through sudo or polkit (a system unit changed by another account than root), which may refuse them
   * before anything is done: PERMISSION_DENIED with `details.refused` (service/refusal.ts). @default false
   */
  readonly mayRefuse?: boolean;
  /** Restart the service (start it if it is not running). Throws SUPERVISOR_FAILED when refused. */
  restart(): Promise<void>;
  /** Start the service after a failure (after clearing a failed state or start limit where there is one). */
  start(): Promise<void>;
  state(): Promise<ServiceState>;
  /**
   * Stop the service, for a step that must run while nothing serves (an update finalize, a migration); the caller
   * starts it again (restart) whatever happens. Only where a stop is safe to follow with a start (STOPPABLE).
   */
  stop?(): Promise<void>;
}

/**
 * The supervisors whose adapter can stop the service and start it again: systemd (a stop, then a restart that starts
 * it), pm2 (`pm2 stop` keeps the app in its list, `pm2 restart` starts it again with the environment it had). Not
 * launchd: its adapter has no stop (a KeepAlive job's stop and start again are not measured here: no launchd on our
 * machines).
 */
export const STOPPABLE: ReadonlySet<SupervisorName> = new Set(['systemd', 'systemd-system', 'pm2']);

/** How adapters run their commands; injectable so command lines can be tested without the supervisor. */
export type CommandRunner = (
  file: string,
  args: string[],
  options: { timeoutMs: number; env: NodeJS.ProcessEnv; signal?: AbortSignal | undefined },
) => Promise<{ exitCode: number | undefined; output: string; timedOut: boolean }>;

/** The command an operator types to look at or control the service, in the supervisor's own words. */
export function controlTool(name: string): string {
  if (name === 'systemd') return 'systemctl --user';
  if (name === 'systemd-system') return 'systemctl';
  return name;
}
