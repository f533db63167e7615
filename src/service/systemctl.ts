/** The one way this package talks to systemd: `systemctl [--user] ARGS`, through the subprocess helper. */
import { runCaptured } from '../platform/subprocess.js';
import type { CommandRunner } from './supervisors/types.js';

export type UnitScope = 'user' | 'system';

export interface SystemctlOptions {
  scope: UnitScope;
  /** The manager's environment (`XDG_RUNTIME_DIR` finds the user manager). */
  env: NodeJS.ProcessEnv;
  /** Bound on the call. @default 30 s */
  timeoutMs?: number;
  /** Aborting kills the call. */
  signal?: AbortSignal | undefined;
  /** Stands in for the subprocess helper in tests. */
  runner?: CommandRunner;
  /**
   * A change to a system unit (start, stop, restart) asked by another account than root: through `sudo -n` (never a
   * password prompt), as OpenClaw's Ansible role lets its service account (`NOPASSWD: /usr/bin/systemctl restart
   * openclaw`, and start, stop); its rules match word for word, so the command is exactly `systemctl VERB UNIT`.
   * @default false
   */
  elevate?: boolean;
}

export const SYSTEMCTL_TIMEOUT_MS = 30_000;

/** `--user` for the user manager, nothing for the system one. */
export const scopeArgs = (scope: UnitScope): string[] => (scope === 'user' ? ['--user'] : []);

/** The command as a user would type it, for hints: `systemctl --user restart x.service`. */
export const systemctlCommand = (scope: UnitScope, args: readonly string[]): string =>
  ['systemctl', ...scopeArgs(scope), ...args].join(' ');

/** Never rejects on a non-zero exit: callers decide what a failure means. */
export function systemctl(args: readonly string[], options: SystemctlOptions): ReturnType<CommandRunner> {
  const runner = options.runner ?? runCaptured;
  if (options.elevate && options.scope === 'system' && process.getuid?.() !== 0)
    return runner('sudo', ['-n', 'systemctl', ...args], {
      env: options.env,
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? SYSTEMCTL_TIMEOUT_MS,
    });
  return runner('systemctl', [...scopeArgs(options.scope), ...args], {
    env: options.env,
    signal: options.signal,
    timeoutMs: options.timeoutMs ?? SYSTEMCTL_TIMEOUT_MS,
  });
}
