/** systemd, user or system manager, through systemctl. */
import { ReleaseSwitcherError } from '../../model/errors.js';
import { tail } from '../../platform/subprocess.js';
import { systemctl, systemctlCommand } from '../systemctl.js';
import type { CommandRunner, ServiceState, Supervisor } from './types.js';

export interface SystemdOptions {
  unit: string;
  /** `user` talks to the caller's user manager (`systemctl --user`). */
  scope: 'user' | 'system';
  env: NodeJS.ProcessEnv;
  runner?: CommandRunner;
  /** Bound on one systemctl call; a restart waits for the stop (TimeoutStopSec) and the start. @default 300 s */
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
];
/** ExecMainCode 1 is CLD_EXITED: ExecMainStatus is then an exit status, not a signal number. */
const CLD_EXITED = '1';

export function systemdSupervisor(options: SystemdOptions): Supervisor {
  const call = {
    scope: options.scope,
    env: options.env,
    timeoutMs: options.timeoutMs ?? 300_000,
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
  return {
    name: options.scope === 'user' ? 'systemd' : 'systemd-system',
    unit: options.unit,
    async restart() {
      await must(['restart', options.unit]);
    },
    async start() {
      // A unit that hit its start limit or failed must be reset before it may start again.
      await systemctl(['reset-failed', options.unit], call);
      await must(['start', options.unit]);
    },
    async stop() {
      await must(['stop', options.unit]);
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
  return {
    active: active === 'active',
    state: `${active}/${props.get('SubState') ?? 'unknown'}`,
    mainPid: pid > 0 ? pid : null,
    restarts: restarts === undefined || restarts === '' ? null : Number(restarts),
    exitStatus: exited ? Number(props.get('ExecMainStatus') ?? 0) : null,
    ...(result && result !== 'success'
      ? { detail: `Result=${result}` }
      : props.get('LoadState') === 'not-found'
        ? { detail: 'unit not found' }
        : {}),
  };
}
