/**
 * What a library call needs from its surroundings besides the root and its config: the environment
 * handed to npm and Node subprocesses, npm's own settings, progress and cancellation. The CLI builds
 * this once from the process; an embedding host builds its own.
 *
 * The library reads its own process nowhere else: `defaultEnv`, `defaultCwd` and `defaultExecPath`
 * below are the documented defaults of the options of the same names, for hosts that leave them out.
 */
import os from 'node:os';
import path from 'node:path';
import type { OriginBy, TransactionOrigin } from './state.js';

export type Phase =
  | 'resolve'
  | 'reuse'
  | 'scripts'
  | 'download'
  | 'extract'
  | 'dependencies'
  | 'lifecycle'
  | 'smoke'
  | 'manifest'
  | 'dedupe'
  | 'seal'
  | 'verify-release'
  | 'flip'
  | 'restart'
  | 'verify'
  | 'preflight'
  | 'recover'
  /** prune: what its collection took out of the store. */
  | 'prune'
  /** `--all`: which root runs now. */
  | 'fleet';

export interface ProgressEvent {
  phase: Phase;
  message: string;
  /** Bytes or files done and in all, where known. */
  done?: number;
  total?: number;
  unit?: 'bytes' | 'files';
}

export interface Runtime {
  /** Environment for npm and lifecycle subprocesses. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** What a relative path in a spec (`./app.tgz`) is relative to. @default process.cwd() */
  cwd?: string;
  /**
   * The Node copied into release-switcher's pinned copy (tool/), which the runner, the timer and the boot-check run.
   * @default process.execPath
   */
  execPath?: string;
  /** Flat npm settings, as in `.npmrc` (`registry`, `//host/:_authToken`, `@scope:registry`…). @default {} */
  npmConfig?: Record<string, string>;
  /** npm's cache folder (npm's `cache` setting, e.g. ~/.npm). @default npmConfig.cache, else ~/.npm */
  npmCache?: string;
  /** Receives progress of long work. @default none (progress is not reported) */
  onProgress?: (event: ProgressEvent) => void;
  /** Aborts the call: its subprocesses stop, staging is removed, it rejects with CANCELLED. @default none */
  signal?: AbortSignal;
  /** Seconds to wait for a busy lock. @default 0 */
  waitSeconds?: number;
  /**
   * The release-switcher CLI (`dist/cli/main.js`) a runner outside the service runs. A host that loads this library
   * from a copy gone by the time the runner imports its next module (OpenClaw runs a plugin's modules from a
   * temporary capture it removes when the process exits) names an installed copy, run by `execPath`. @default this
   * installation's pinned copy (tool/), by its versioned path
   */
  cliPath?: string;
  /**
   * Who is asking, recorded as the `origin` of the transactions the call starts (its `why` is the call's own unless
   * given). @default { by: 'api' }
   */
  origin?: { by: OriginBy } & Partial<Omit<TransactionOrigin, 'by'>>;
}

export interface ResolvedRuntime {
  env: NodeJS.ProcessEnv;
  cwd: string;
  execPath: string;
  npmConfig: Record<string, string>;
  npmCache: string;
  onProgress: (event: ProgressEvent) => void;
  signal: AbortSignal | undefined;
  waitSeconds: number;
  cliPath: string | undefined;
}

export function resolveRuntime(runtime: Runtime = {}): ResolvedRuntime {
  const npmConfig = runtime.npmConfig ?? {};
  const env = runtime.env ?? defaultEnv();
  return {
    env,
    cwd: runtime.cwd ?? defaultCwd(),
    execPath: runtime.execPath ?? defaultExecPath(),
    npmConfig,
    npmCache: runtime.npmCache ?? npmConfig.cache ?? path.join(env.HOME ?? os.homedir(), '.npm'),
    onProgress: runtime.onProgress ?? (() => undefined),
    signal: runtime.signal,
    waitSeconds: runtime.waitSeconds ?? 0,
    cliPath: runtime.cliPath,
  };
}

/** The default of every `env` option: this process's environment. */
export function defaultEnv(): NodeJS.ProcessEnv {
  return process.env;
}

/** The default of every `cwd` option: this process's working directory. */
export function defaultCwd(): string {
  return process.cwd();
}

/** The default of every `execPath` option: the Node running this process. */
export function defaultExecPath(): string {
  return process.execPath;
}
