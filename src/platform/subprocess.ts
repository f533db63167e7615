/** The one way release-switcher starts a process: execa, an argument array, never a shell, always a timeout. */
import { execa, type ResultPromise } from 'execa';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before the process is killed. */
  timeoutMs: number;
  /** Called with each line of combined output, for progress. */
  onLine?: (line: string) => void;
}

export interface RunResult {
  exitCode: number | undefined;
  /** Interleaved stdout and stderr. */
  output: string;
  timedOut: boolean;
  failed: boolean;
}

export async function run(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const child: ResultPromise = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    timeout: options.timeoutMs,
    reject: false,
    all: true,
    stdin: 'ignore',
    lines: false,
  });
  if (options.onLine && child.all) {
    let buffer = '';
    child.all.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) options.onLine?.(line);
    });
  }
  const result = await child;
  return {
    exitCode: result.exitCode,
    output: typeof result.all === 'string' ? result.all : '',
    timedOut: result.timedOut,
    failed: result.failed,
  };
}

/** The last lines of a process's output, for error messages. */
export function tail(output: string, lines = 15): string {
  return output.trimEnd().split('\n').slice(-lines).join('\n');
}

export interface StartedProcess {
  pid: number;
  /** Resolves with the exit code (null when killed by a signal) once the process exits. */
  exited: Promise<number | null>;
}

/**
 * Start a long-running process in its own process group (so its whole tree can be signalled as one),
 * output appended to `logFile`. For rehearsals that the caller stops itself; `signal` kills it.
 */
export async function startDetached(file: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string; signal?: AbortSignal }): Promise<StartedProcess> {
  const child = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    detached: true,
    reject: false,
    stdin: 'ignore',
    stdout: { file: options.logFile, append: true },
    stderr: { file: options.logFile, append: true },
    ...(options.signal && { cancelSignal: options.signal }),
  });
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  const exited = child.then((r) => (r.signal ? null : (r.exitCode ?? null)));
  return { pid: child.pid, exited };
}
