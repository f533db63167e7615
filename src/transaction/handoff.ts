/**
 * Handing a scheduled transaction to a runner outside the service. Under systemd that is a transient
 * unit (systemd-run --collect), which a restart of the service cannot kill (a detached child dies
 * with the unit's cgroup: seed 000). Under pm2 and elsewhere it is a process re-parented away from
 * the service's tree, which pm2's tree-kill does not reach; under launchd, a job of its own.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../store/config.js';
import { CLI_MAIN } from '../platform/self.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { run, tail } from '../platform/subprocess.js';


export function runnerName(txId: string): string {
  return `release-switcher-${txId}`;
}

export function runnerArgv(root: string, txId: string): string[] {
  return [process.execPath, CLI_MAIN, '--root', root, 'run-transaction', txId];
}

export async function launchRunner(options: { config: Config; root: string; txId: string; env: NodeJS.ProcessEnv }): Promise<string> {
  const { config, root, txId, env } = options;
  const argv = runnerArgv(root, txId);
  const log = path.join(root, 'runner.log');
  if (config.supervisor === 'systemd' || config.supervisor === 'systemd-system') {
    const args = [
      ...(config.supervisor === 'systemd' ? ['--user'] : []),
      `--unit=${runnerName(txId)}`,
      '--collect',
      '--quiet',
      `--property=StandardOutput=append:${log}`,
      `--property=StandardError=append:${log}`,
      ...['PATH', 'HOME', 'LANG'].filter((key) => env[key]).map((key) => `--setenv=${key}=${env[key]}`),
      '--',
      ...argv,
    ];
    const result = await run('systemd-run', args, { env, timeoutMs: 30_000 });
    if (result.exitCode !== 0) throw neverRan(`systemd-run failed: ${tail(result.output, 5)}`);
    return `transient unit ${runnerName(txId)}.service`;
  }
  if (config.supervisor === 'launchd') {
    const result = await run('launchctl', ['submit', '-l', `org.release-switcher.${txId}`, '-o', log, '-e', log, '--', ...argv], { env, timeoutMs: 30_000 });
    if (result.exitCode !== 0) throw neverRan(`launchctl submit failed: ${tail(result.output, 5)}`);
    return `launchd job org.release-switcher.${txId}`;
  }
  // pm2 (and anything else): a new session whose parent, the caller, exits at once, so the runner is
  // re-parented away from the service's process tree.
  const out = fs.openSync(log, 'a');
  try {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', out, out], env });
    child.unref();
    return `detached process ${child.pid ?? '?'}`;
  } finally {
    fs.closeSync(out);
  }
}

function neverRan(why: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError('RUNNER_NEVER_RAN', `The switch could not be handed to a runner outside the service: ${why}.`, {
    hint: 'Nothing was changed. Run the command from outside the service (e.g. a shell), or check that systemd-run works for this user.',
  });
}
