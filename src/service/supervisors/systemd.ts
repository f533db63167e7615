/** systemd, user or system manager, through systemctl. */
import { currentAccount } from '../../platform/accounts.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import { tail } from '../../platform/subprocess.js';
import { systemctl, systemctlCommand } from '../systemctl.js';
import { timespanSeconds } from '../timespan.js';
import type { CommandRunner, ServiceState, Supervisor } from './types.js';

export interface SystemdOptions {
  unit: string;
  /** `user` talks to the caller's user manager (`systemctl --user`). */
  scope: 'user' | 'system';
  env: NodeJS.ProcessEnv;
  runner?: CommandRunner;
  /**
   * Bound on one systemctl call. By default a stop, start or restart is bounded by the unit's own TimeoutStopSec and
   * TimeoutStartSec (systemd ends them by then) plus a margin, never under 300 s; other calls by 300 s.
   */
  timeoutMs?: number;
  /** Aborting kills the systemctl call under way (it then rejects with CANCELLED). */
  signal?: AbortSignal | undefined;
}

const PROPERTIES = [
  'ActiveState',
  'SubState',
  'MainPID',
  'NRestarts',
  'ExecMainStatus',
  'ExecMainCode',
  'Result',
  'LoadState',
  'ControlGroup',
];
/** ExecMainCode 1 is CLD_EXITED: ExecMainStatus is then an exit status, not a signal number. */
const CLD_EXITED = '1';
const CALL_TIMEOUT_MS = 300_000;
/** Beyond the unit's own budgets: systemctl's own start-up, the job queue, a final SIGKILL being reaped. */
const JOB_MARGIN_MS = 60_000;
const ONE_DAY_MS = 86_400_000;

export function systemdSupervisor(options: SystemdOptions): Supervisor {
  const call = {
    scope: options.scope,
    env: options.env,
    timeoutMs: options.timeoutMs ?? CALL_TIMEOUT_MS,
    signal: options.signal,
    ...(options.runner ? { runner: options.runner } : {}),
  };
  const must = async (args: string[]) => {
    const result = await systemctl(args, call);
    if (result.exitCode !== 0) {
      throw new ReleaseSwitcherError(
        'SUPERVISOR_FAILED',
        `${systemctlCommand(options.scope, args)} ${result.timedOut ? 'timed out' : 'failed'}: ${tail(result.output, 5)}`,
        {
          hint: `Look at: ${systemctlCommand(options.scope, ['status', options.unit])}`,
        },
      );
    }
    return result;
  };
  /**
   * A job on the unit, bounded by what systemd itself allows it: a gateway that drains for up to its TimeoutStopSec
   * (openclaw: 330 s) must not be given up on by us first, leaving the job, and the service, half done.
   */
  const job = async (verb: 'start' | 'stop' | 'restart') => {
    if (options.timeoutMs !== undefined) return must([verb, options.unit]);
    const shown = await systemctl(
      ['show', options.unit, '--property=TimeoutStartUSec', '--property=TimeoutStopUSec'],
      call,
    );
    const props = new Map(
      shown.output.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const start = timespanSeconds(props.get('TimeoutStartUSec'));
    const stop = timespanSeconds(props.get('TimeoutStopUSec'));
    const budgetMs = 1000 * ((verb === 'start' ? 0 : (stop ?? 0)) + (verb === 'stop' ? 0 : (start ?? 0)));
    // A budget past a day (`infinity`, `1M`) is systemd's to keep; ours stops at a day (a timer past 2^31 ms would fire
    // at once). Unreadable: the default bound.
    const timeoutMs = Math.min(ONE_DAY_MS, Math.max(CALL_TIMEOUT_MS, budgetMs + JOB_MARGIN_MS));
    const result = await systemctl([verb, options.unit], { ...call, timeoutMs, elevate: true });
    if (result.exitCode !== 0)
      throw new ReleaseSwitcherError(
        'SUPERVISOR_FAILED',
        `${systemctlCommand(options.scope, [verb, options.unit])} ${result.timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : 'failed'}: ${tail(result.output, 5)}`,
        {
          hint:
            options.scope === 'system' && process.getuid?.() !== 0
              ? `As ${currentAccount().name}, a system unit is changed through sudo -n: allow it in sudoers (e.g. NOPASSWD: /usr/bin/systemctl ${verb} ${options.unit}), or run release-switcher as root. Look at: ${systemctlCommand(options.scope, ['status', options.unit])}`
              : `Look at: ${systemctlCommand(options.scope, ['status', options.unit])}`,
        },
      );
    return result;
  };
  return {
    name: options.scope === 'user' ? 'systemd' : 'systemd-system',
    unit: options.unit,
    async restart() {
      await job('restart');
    },
    async start() {
      // A unit that hit its start limit or failed must be reset before it may start again.
      await systemctl(['reset-failed', options.unit], call);
      await job('start');
    },
    async stop() {
      await job('stop');
    },
    async state(): Promise<ServiceState> {
      const result = await must(['show', options.unit, ...PROPERTIES.map((p) => `--property=${p}`)]);
      return parseShow(result.output);
    },
  };
}

export function parseShow(output: string): ServiceState {
  const props = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) props.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const active = props.get('ActiveState') ?? 'unknown';
  const pid = Number(props.get('MainPID') ?? 0);
  const restarts = props.get('NRestarts');
  const exited = props.get('ExecMainCode') === CLD_EXITED;
  const result = props.get('Result');
  // The unit's control group holds every process of it (forks included); its main PID is only a fallback where the
  // group is not shown or has no member this process can see (listener-owner.ts).
  const cgroup = props.get('ControlGroup');
  const processes = { pids: pid > 0 ? [pid] : [], ...(cgroup && { cgroup }) };
  return {
    active: active === 'active',
    state: `${active}/${props.get('SubState') ?? 'unknown'}`,
    mainPid: pid > 0 ? pid : null,
    restarts: restarts === undefined || restarts === '' ? null : Number(restarts),
    exitStatus: exited ? Number(props.get('ExecMainStatus') ?? 0) : null,
    processes,
    ...(result && result !== 'success'
      ? { detail: `Result=${result}` }
      : props.get('LoadState') === 'not-found'
        ? { detail: 'unit not found' }
        : {}),
  };
}
