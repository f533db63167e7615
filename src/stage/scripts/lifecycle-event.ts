/**
 * One lifecycle event of one package, run as @npmcli/run-script runs it for npm (`/bin/sh -c <script>` in
 * the package folder), with the environment run-script gives it: npm's environment shape (scriptEnv),
 * the package's `npm_package_*` variables, `npm_package_json`, `npm_lifecycle_event`/`_script`,
 * `npm_config_node_gyp`, and a PATH with every `node_modules/.bin` up the tree and run-script's node-gyp
 * shim before it, built by run-script's own code. Not run-script itself: it merges the whole environment
 * of the process it runs in (ours: the caller's secrets), so it used to run in a Node child of its own,
 * one Node start per event (~100 ms here) before the script's own.
 */
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type RunResult, runCaptured } from '../../platform/subprocess.js';

const require = createRequire(import.meta.url);
const runScriptLib = (name: string) => require.resolve(`@npmcli/run-script/lib/${name}`);
const setPATH = require(runScriptLib('set-path.js')) as (
  dir: string,
  binPaths: false,
  env: Record<string, string>,
) => Record<string, string>;
const packageEnvs = require(runScriptLib('package-envs.js')) as (
  pkg: Record<string, unknown>,
) => Record<string, string>;
/** run-script's default (make-spawn-args.js): node-gyp as resolved from run-script itself; the environment's is not read. */
const NODE_GYP = createRequire(runScriptLib('make-spawn-args.js')).resolve('node-gyp/bin/node-gyp.js');
/** @npmcli/node-gyp's defaultGypInstallScript: the implicit `install` of a package with a binding.gyp. */
const GYP_INSTALL = 'node-gyp rebuild';
const SCRIPT_SHELL = '/bin/sh';
const SCRIPT_TIMEOUT_MS = 30 * 60_000;

/** The command run-script would run for `event` (runScriptPkg), or undefined: nothing to run. */
export function lifecycleCommand(pkg: Record<string, unknown>, event: string, dir: string): string | undefined {
  const scripts = (pkg.scripts ?? {}) as Record<string, string>;
  if (scripts[event]) return scripts[event];
  const gyp =
    event === 'install' &&
    !scripts.install &&
    !scripts.preinstall &&
    pkg.gypfile !== false &&
    (statSync(path.join(dir, 'binding.gyp'), { throwIfNoEntry: false })?.isFile() ?? false);
  return gyp ? GYP_INSTALL : undefined;
}

/** The environment run-script gives the script when `env` is the whole environment of the process it runs in. */
export function runScriptEnv(
  env: Record<string, string>,
  run: { dir: string; event: string; command: string; pkg: Record<string, unknown> },
): Record<string, string> {
  return setPATH(run.dir, false, {
    ...env,
    ...packageEnvs(run.pkg),
    npm_package_json: path.resolve(run.dir, 'package.json'),
    npm_lifecycle_event: run.event,
    npm_lifecycle_script: run.command,
    npm_config_node_gyp: NODE_GYP,
  });
}

/**
 * Run `event` of the package in `dir` with `env` (npm's environment shape) and nothing else. Output is
 * only captured (stdout and stderr interleaved); a package with nothing to run for it succeeds at once.
 */
export async function runLifecycleEvent(
  dir: string,
  event: string,
  options: { env: Record<string, string>; signal?: AbortSignal | undefined },
): Promise<RunResult> {
  const pkg = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  const command = lifecycleCommand(pkg, event, dir);
  if (!command) return { exitCode: 0, output: '', timedOut: false, failed: false };
  return runCaptured(SCRIPT_SHELL, ['-c', command], {
    cwd: dir,
    env: runScriptEnv(options.env, { dir, event, command, pkg }),
    timeoutMs: SCRIPT_TIMEOUT_MS,
    signal: options.signal,
  });
}
