/** The one place that reads the process's environment and turns it into options for the library. */
import os from 'node:os';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { Runtime } from '../model/runtime.js';
import { ORIGIN_BY, type OriginBy } from '../model/state.js';
import { readNpmConfig } from './npmrc.js';
import { type ProgressOptions, progressReporter } from './progress.js';

export interface Environment {
  root: string;
  runtime: Runtime;
  /** RELEASE_SWITCHER_CRASH_AT: a crash point for the fault-injection tests. */
  crashPoint: string | undefined;
}

export function defaultRoot(env: NodeJS.ProcessEnv): string {
  if (env.RELEASE_SWITCHER_ROOT) return env.RELEASE_SWITCHER_ROOT;
  const dataHome = env.XDG_DATA_HOME || path.join(env.HOME ?? os.homedir(), '.local', 'share');
  return path.join(dataHome, 'release-switcher');
}

export function parseSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new ReleaseSwitcherError('USAGE', `--${flag} takes a number of seconds, not "${value}".`, {
      hint: `For example --${flag} 30`,
    });
  }
  return seconds;
}

/** What the CLI knows of its process; runCli fills it from the process unless a host says otherwise. */
export interface ProcessFacts {
  env: NodeJS.ProcessEnv;
  cwd: string;
  execPath: string;
  stderr: ProgressOptions['stderr'];
}

/**
 * Who runs this command, recorded on the transactions it starts: `RELEASE_SWITCHER_ORIGIN` names a caller that runs
 * the CLI for someone else (the Ansible module: `fleet`), else a person's `command`; the account is `SUDO_USER` under
 * sudo, else this process's.
 */
export function originOf(env: NodeJS.ProcessEnv): NonNullable<Runtime['origin']> {
  const named = env.RELEASE_SWITCHER_ORIGIN;
  if (named !== undefined && named !== '' && !(ORIGIN_BY as readonly string[]).includes(named))
    throw new ReleaseSwitcherError('USAGE', `RELEASE_SWITCHER_ORIGIN=${named} is not one of ${ORIGIN_BY.join(', ')}.`, {
      hint: 'Unset it, or name who runs the command, e.g. RELEASE_SWITCHER_ORIGIN=fleet.',
    });
  const by = (named || 'command') as OriginBy;
  let user = env.SUDO_USER || undefined;
  try {
    user ??= os.userInfo().username;
  } catch {
    // An account without a name (a uid with no passwd entry): the origin says who started it, not which account.
  }
  return { by, ...(user ? { user } : {}) };
}

export function readEnvironment(host: ProcessFacts, values: Record<string, unknown>): Environment {
  const { env, cwd, execPath, stderr } = host;
  const npmConfig = readNpmConfig(env, cwd);
  return {
    root: path.resolve(cwd, typeof values.root === 'string' ? values.root : defaultRoot(env)),
    crashPoint: env.RELEASE_SWITCHER_CRASH_AT,
    runtime: {
      env,
      cwd,
      origin: originOf(env),
      execPath,
      npmConfig,
      ...(npmConfig.cache ? { npmCache: path.resolve(cwd, npmConfig.cache) } : {}),
      // `--wait` alone (an empty value, run.ts): as long as it takes.
      waitSeconds:
        values.wait === '' ? Number.POSITIVE_INFINITY : (parseSeconds(values.wait as string | undefined, 'wait') ?? 0),
      onProgress: progressReporter({
        stderr,
        quiet: values.quiet === true || Boolean(env.RELEASE_SWITCHER_QUIET),
        // https://no-color.org: any non-empty NO_COLOR turns colour off.
        color: !env.NO_COLOR && env.TERM !== 'dumb',
      }),
    },
  };
}
