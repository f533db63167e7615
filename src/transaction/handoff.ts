/**
 * Handing a scheduled transaction to a runner outside the service. Under systemd that is a transient
 * unit (systemd-run --collect), which a restart of the service cannot kill (a detached child dies
 * with the unit's cgroup: seed 000). Under pm2 and elsewhere it is a process re-parented away from
 * the service's tree, which pm2's tree-kill does not reach; under launchd, a job of its own.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import { defaultExecPath } from '../model/runtime.js';
import { type LogRotation, rotateLog } from '../platform/fs.js';
import { ensureTool } from '../tool/index.js';
import { run, spawnDetached, tail } from '../platform/subprocess.js';
import type { Config } from '../store/config.js';
import { type Layout, layoutOf } from '../store/layout.js';

/** The longest a runner may run under systemd (1 h, as the auto-updater's tick: TimeoutStartSec=1h). */
export const RUNNER_MAX_SECONDS = 3600;

/** runner.log past 1 MiB is rotated before the next runner is launched; the five before it are kept. */
export const RUNNER_LOG_ROTATION: LogRotation = { maxBytes: 1024 * 1024, kept: 5 };

/**
 * Rotate the runners' log before a runner is launched, under the root's lock: no other rotation runs beside it,
 * and no runner is running (each holds the lock while it runs). One that has just let go of the lock and is
 * still writing its last lines writes them into runner.log.1, with the rest of its run.
 */
export function rotateRunnerLog(layout: Layout): Promise<boolean> {
  return rotateLog(layout.runnerLog, RUNNER_LOG_ROTATION);
}

export function runnerName(txId: string): string {
  return `release-switcher-${txId}`;
}

/** The runner's command line: `cli` run by `node`. */
export function runnerArgv(options: { root: string; txId: string; node: string; cli: string }): string[] {
  return [options.node, options.cli, '--root', options.root, 'run-transaction', options.txId];
}

/**
 * What the runner runs: the host's `cliPath` with `execPath` where one is named, else this installation's pinned copy
 * by its versioned path (tool/), never through `current`: a runner keeps the version it started with while a newer
 * release-switcher flips the link, and npm or nvm moving this installation cannot take its files away mid-way.
 */
async function runnerCommand(options: LaunchRunnerOptions): Promise<{ node: string; cli: string }> {
  const execPath = options.execPath ?? defaultExecPath();
  if (options.cliPath) return { node: execPath, cli: options.cliPath };
  try {
    return (await ensureTool({ env: options.env, node: execPath })).versioned;
  } catch (error) {
    throw neverRan(`release-switcher's pinned copy could not be made (${(error as Error).message})`);
  }
}

export interface LaunchRunnerOptions {
  config: Config;
  root: string;
  txId: string;
  env: NodeJS.ProcessEnv;
  /** The Node that runs the runner. @default process.execPath */
  execPath?: string;
  /** The release-switcher CLI the runner runs (Runtime's `cliPath`). @default this installation's pinned copy */
  cliPath?: string | undefined;
  /** Aborts systemd-run or launchctl (a detached runner, once started, is no longer ours to stop). */
  signal?: AbortSignal | undefined;
}

export async function launchRunner(options: LaunchRunnerOptions): Promise<string> {
  const { config, root, txId, env, signal } = options;
  const argv = runnerArgv({ root, txId, ...(await runnerCommand(options)) });
  const log = layoutOf(root).runnerLog;
  if (config.supervisor === 'systemd' || config.supervisor === 'systemd-system') {
    const args = [
      ...(config.supervisor === 'systemd' ? ['--user'] : []),
      `--unit=${runnerName(txId)}`,
      '--collect',
      '--quiet',
      // Every step has its own deadline; this bounds the whole, as TimeoutStartSec does the timer's tick. A runner
      // stopped here mid-way is like one killed: the journal says where it was, and the next command recovers.
      `--property=RuntimeMaxSec=${RUNNER_MAX_SECONDS}`,
      `--property=StandardOutput=append:${log}`,
      `--property=StandardError=append:${log}`,
      ...['PATH', 'HOME', 'LANG'].filter((key) => env[key]).map((key) => `--setenv=${key}=${env[key]}`),
      '--',
      ...argv,
    ];
    // From `/`: the caller's working folder may be closed to it (`sudo -u ACCOUNT release-switcher …` run from /root),
    // where systemd-run fails without a word.
    const result = await run('systemd-run', args, { env, signal, timeoutMs: 30_000, cwd: '/' });
    if (result.exitCode !== 0)
      throw neverRan(`systemd-run failed (exit ${result.exitCode}): ${tail(result.output, 5) || 'it said nothing'}`);
    return `transient unit ${runnerName(txId)}.service`;
  }
  if (config.supervisor === 'launchd') {
    const result = await run(
      'launchctl',
      ['submit', '-l', `org.release-switcher.${txId}`, '-o', log, '-e', log, '--', ...argv],
      { env, signal, timeoutMs: 30_000 },
    );
    if (result.exitCode !== 0) throw neverRan(`launchctl submit failed: ${tail(result.output, 5)}`);
    return `launchd job org.release-switcher.${txId}`;
  }
  // pm2 (and anything else): a new session whose parent, the caller, exits at once, so the runner is
  // re-parented away from the service's process tree.
  const pid = await spawnDetached(argv[0]!, argv.slice(1), { env, logFile: log });
  return `detached process ${pid ?? '?'}`;
}

function neverRan(why: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError(
    'RUNNER_NEVER_RAN',
    `The switch could not be handed to a runner outside the service: ${why}.`,
    {
      hint: 'Nothing was changed. Run the command from outside the service (e.g. a shell), or check that systemd-run works for this user.',
    },
  );
}
