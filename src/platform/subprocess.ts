/** The one way release-switcher starts a process: execa, an argument array, never a shell, always a timeout. */
import { execa, type ResultPromise } from 'execa';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before the process is killed. */
  timeoutMs: number;
  /** Called with each line of combined output, for progress. */
  onLine?: (line: string) => void;
  /** Kills the process (SIGTERM) when aborted. */
  signal?: AbortSignal | undefined;
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
    ...(options.signal ? { cancelSignal: options.signal } : {}),
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
