/**
 * The one way release-switcher starts a process: execa, an argument array, never a shell, always a
 * timeout, and the caller's AbortSignal. Each child leads a process group of its own, so that an
 * abort or a timeout ends what it started too (npm's lifecycle scripts, a smoke check's server):
 * killing only the direct child would leave a grandchild holding the output pipe, and the call
 * would wait for it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { ResultPromise } from 'execa';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { type RunAs, commandAs } from './run-as.js';

export interface RunOptions {
  cwd?: string;
  /** The child's whole environment (nothing of this process's is added). */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before the process and its descendants are killed. */
  timeoutMs: number;
  /** Aborting kills the process and its descendants; `run` then rejects with CANCELLED. */
  signal?: AbortSignal | undefined;
  /** Called with each line of combined output, for progress. */
  onLine?: (line: string) => void;
  /** The account to run it as (the service's): see run-as.ts. @default this process's */
  as?: RunAs | undefined;
}

export interface RunResult {
  exitCode: number | undefined;
  /** Interleaved stdout and stderr. */
  output: string;
  timedOut: boolean;
  failed: boolean;
}

/**
 * The pretty-printed JSON document a command wrote to stdout, in output interleaved with its stderr: from a line that
 * starts with `{` (the first that parses; a log line may start or end with a brace too) to the last line that is `}`.
 */
export function jsonDocumentIn(output: string): Record<string, unknown> | undefined {
  const text = `\n${output}`; // every line, the first included, follows a newline
  const end = text.lastIndexOf('\n}');
  for (let at = text.indexOf('\n{'); at >= 0 && at < end; at = text.indexOf('\n{', at + 1)) {
    try {
      return JSON.parse(text.slice(at + 1, end + 2)) as Record<string, unknown>;
    } catch {
      // a log line that starts with a brace: the next candidate
    }
  }
  return undefined;
}

/** After SIGTERM to the group, what is still alive this much later gets SIGKILL. */
const KILL_GRACE_MS = 500;

/** The groups of the children `run` is waiting for, for stopAllSubprocesses. */
const running = new Set<number>();

/**
 * SIGTERM every process group `run` started and has not seen end. For a process about to die of a
 * signal (the CLI's bin): its children lead groups of their own, so the signal no longer reaches
 * them with it, even where a caller passed no AbortSignal.
 */
export function stopAllSubprocesses(): void {
  for (const pid of running) signalGroup(pid, 'SIGTERM');
}

/**
 * execa, loaded on the first subprocess: it is the heaviest module the CLI would otherwise load on
 * every start (the bin imports this file for stopAllSubprocesses), and switch, rollback or boot-check
 * often start no process at all.
 */
let execaLoading: Promise<typeof import('execa').execa> | undefined;
function loadExeca(): Promise<typeof import('execa').execa> {
  execaLoading ??= import('execa').then((module) => module.execa); // lazy: start-up, measured (above and below)
  return execaLoading;
}

/**
 * Start loading the subprocess library now, without waiting for it, where a subprocess is certain to
 * follow (a supervised activation restarts the service): it then loads while the release is being
 * verified, and the restart, once journaled, starts at once.
 */
export function preloadSubprocesses(): void {
  loadExeca().catch(() => undefined); // a failure shows where run() awaits it
}

/**
 * `run` for a short command whose output is only captured (no line forwarding): systemctl, asked
 * many times per activation and once by every boot-check. Node's own spawn, under the same rules as
 * `run` (own process group, timeout, abort, stopAllSubprocesses), without loading execa: that import
 * costs ~170 ms of CPU or more, more than the whole boot-check does otherwise, in every process that spawns.
 * Measured 2026-11-25 (`await import('execa')` 9.6.1, CPU user+sys, median of 21 runs, a 2-core machine at load ~6):
 * 260 ms on Node 20, 221 ms on Node 24, 188 ms on Node 24 with the compile cache the bin enables (fewest 166 ms),
 * where a bare Node start costs 158, 105 and 98 ms.
 * The output is interleaved stdout and stderr with one final newline stripped, as execa gives it.
 */
export function runCaptured(
  file: string,
  args: readonly string[],
  options: Omit<RunOptions, 'onLine'> & CapturedExtras,
): Promise<RunResult> {
  if (options.signal?.aborted) return Promise.reject(cancelled(file, options.signal.reason));
  const [command, argv] = commandAs(file, args, options.as);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(options.fds ?? [])],
    }) as import('node:child_process').ChildProcessByStdio<import('node:stream').Writable | null, Readable, Readable>;
    child.stdin?.on('error', () => undefined); // a child that exits unread: its exit says what happened
    child.stdin?.end(options.input);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    let timedOut = false;
    let spawnError: Error | undefined;
    const killGroup = () => killProcessGroup(child.pid);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', killGroup, { once: true });
    if (child.pid !== undefined) running.add(child.pid);
    child.on('error', (error) => {
      spawnError = error; // ENOENT, EACCES: 'close' follows
    });
    child.on('close', (code) => {
      if (child.pid !== undefined) running.delete(child.pid);
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', killGroup);
      if (options.signal?.aborted) return reject(cancelled(file, options.signal.reason));
      const output =
        Buffer.concat(chunks)
          .toString('utf8')
          .replace(/\r?\n$/, '') + (spawnError ? `${chunks.length ? '\n' : ''}${spawnError.message}` : '');
      const exitCode = spawnError || code === null ? undefined : code;
      resolve({ exitCode, output, timedOut, failed: timedOut || exitCode !== 0 });
    });
  });
}

/** What only runCaptured offers. */
export interface CapturedExtras {
  /** Written to the child's stdin, then closed. @default stdin is /dev/null */
  input?: string;
  /** Descriptors the child gets as fd 3, 4, … (folders handed to a worker: platform/as-account.ts). @default none */
  fds?: readonly number[];
}

export async function run(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  if (options.signal?.aborted) throw cancelled(file, options.signal.reason);
  const execa = await loadExeca();
  if (options.signal?.aborted) throw cancelled(file, options.signal.reason);
  const [command, argv] = commandAs(file, args, options.as);
  const child: ResultPromise = execa(command, argv, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    timeout: options.timeoutMs,
    // A group of its own: see the file's comment.
    detached: true,
    reject: false,
    all: true,
    stdin: 'ignore',
    lines: false,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  const killGroup = () => killProcessGroup(child.pid);
  if (child.pid !== undefined) running.add(child.pid);
  const timer = setTimeout(killGroup, options.timeoutMs);
  options.signal?.addEventListener('abort', killGroup, { once: true });
  if (options.onLine && child.all) forwardLines(child.all, options.onLine);
  try {
    const result = await child;
    if (result.isCanceled) throw cancelled(file, options.signal?.reason ?? result);
    return {
      exitCode: result.exitCode,
      output: typeof result.all === 'string' ? result.all : '',
      timedOut: result.timedOut,
      failed: result.failed,
    };
  } finally {
    if (child.pid !== undefined) running.delete(child.pid);
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', killGroup);
  }
}

export interface DetachedOptions {
  /** The child's whole environment. */
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here. */
  logFile: string;
}

/**
 * Start a process meant to outlive this one: a new session whose parent (the caller) exits soon, so
 * it is re-parented away from the caller's process tree (pm2's tree-kill does not reach it). It has
 * no timeout and takes no signal on purpose: it carries on after we are gone. Returns its pid.
 */
export async function spawnDetached(
  file: string,
  args: readonly string[],
  options: DetachedOptions,
): Promise<number | undefined> {
  const execa = await loadExeca();
  const out = fs.openSync(options.logFile, 'a');
  try {
    // The log's own descriptor, so the runner keeps writing after we exit (a pipe through us would break).
    // execa passes any descriptor through to spawn; its types admit only 3–9, hence the cast.
    const fd = out as 3;
    const child = execa(file, args, {
      env: options.env,
      extendEnv: false,
      detached: true,
      cleanup: false,
      reject: false,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    // Its end is no concern of ours; a failure to start shows in the log and the journal.
    child.catch(() => undefined);
    return child.pid;
  } finally {
    fs.closeSync(out);
  }
}

/** The last lines of a process's output, for error messages. */
export function tail(output: string, lines = 15): string {
  return output.trimEnd().split('\n').slice(-lines).join('\n');
}

function forwardLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}

/** SIGTERM to the whole group, SIGKILL to whatever is left a moment later. */
/** SIGTERM the group `pid` leads, SIGKILL what is left of it shortly after (a process tree we started, detached). */
export function killProcessGroup(pid: number | undefined): void {
  if (pid === undefined || !signalGroup(pid, 'SIGTERM')) return;
  setTimeout(() => signalGroup(pid, 'SIGKILL'), KILL_GRACE_MS).unref();
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone already
  }
}

function cancelled(file: string, reason: unknown): ReleaseSwitcherError {
  return new ReleaseSwitcherError(
    'CANCELLED',
    `Cancelled while running ${file}; it and what it started were stopped.`,
    { cause: reason },
  );
}

export interface StartedProcess {
  pid: number;
  /** Resolves with the exit code (null when killed by a signal) once the process exits. */
  exited: Promise<number | null>;
}

/**
 * Start a long-running process in its own process group (so its whole tree can be signalled as one),
 * output appended to `logFile`. For rehearsals that the caller stops itself; `signal` kills it.
 * The child writes its output to its files itself (descriptors opened here, inherited, closed here once it started),
 * not through a pipe to this process: a finalize or a rehearsal candidate outlives a runner killed with -9 until
 * recovery ends it, where through a pipe its next write after the runner's death failed (EPIPE) and ended it at
 * whatever point it had reached (seen on the real gateway: an `update finalize` gone before `recover` looked).
 */
export async function startDetached(
  file: string,
  args: readonly string[],
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    logFile: string;
    signal?: AbortSignal;
    /** stdout to a file of its own (a machine answer), stderr still to `logFile`. */
    stdoutFile?: string;
    /** The account to run it as (the service's). @default this process's */
    as?: RunAs | undefined;
  },
): Promise<StartedProcess> {
  const execa = await loadExeca();
  const [command, argv] = commandAs(file, args, options.as);
  // Appended to, created as a write stream would (0666 less the umask), and never through a link.
  const open = (target: string) =>
    fs.openSync(
      target,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW,
      0o666,
    );
  const openOrClose = (target: string, opened: number) => {
    try {
      return open(target);
    } catch (error) {
      fs.closeSync(opened);
      throw error;
    }
  };
  const stderr = open(options.logFile);
  const stdout = options.stdoutFile ? openOrClose(options.stdoutFile, stderr) : stderr;
  const child = (() => {
    try {
      return execa(command, argv, {
        cwd: options.cwd,
        env: options.env,
        extendEnv: false,
        detached: true,
        reject: false,
        stdin: 'ignore',
        // A descriptor as the option's only value goes to spawn as it is (execa's types name only 1 and 2 here).
        stdout: stdout as 1,
        stderr: stderr as 2,
        ...(options.signal && { cancelSignal: options.signal }),
      });
    } finally {
      // The child has its own copies from here (spawn duplicated them into it).
      fs.closeSync(stderr);
      if (stdout !== stderr) fs.closeSync(stdout);
    }
  })();
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  const exited = child.then((r) => (r.signal ? null : (r.exitCode ?? null)));
  return { pid: child.pid, exited };
}

/**
 * Whether process `pid` is one we started with `NAME=VALUE` in its environment: the variable is read from
 * /proc/<pid>/environ (the environment it was started with; readable only for our own processes). A recorded
 * pid alone proves nothing: pids are reused, and a damaged journal may name any process, even 1.
 */
export async function isOurProcess(pid: number, marker: { name: string; value: string }): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return false;
  const environ = await fs.promises.readFile(`/proc/${pid}/environ`).catch(() => undefined);
  return environ?.toString('utf8').split('\0').includes(`${marker.name}=${marker.value}`) ?? false;
}

/**
 * The live processes started with `NAME=VALUE` in their environment (children inherit it): found from /proc, so a
 * process whose pid never reached the journal (its runner killed between the spawn and the write) is found too.
 */
export async function processesMarked(marker: { name: string; value: string }): Promise<number[]> {
  const names = await fs.promises.readdir('/proc').catch(() => [] as string[]);
  const pids = names.filter((name) => /^\d+$/.test(name)).map(Number);
  const ours = await Promise.all(pids.map((pid) => isOurProcess(pid, marker)));
  return pids.filter((_, i) => ours[i]);
}

/**
 * End every process marked `NAME=VALUE` (its whole group where it leads one): SIGTERM, SIGKILL after the grace, and
 * wait until none is left (at most `waitMs`), so nothing of theirs writes after this returns. Whether any was found.
 */
export async function endMarkedProcesses(marker: { name: string; value: string }, waitMs = 10_000): Promise<boolean> {
  const found = await processesMarked(marker);
  if (found.length === 0) return false;
  // Every pid signalled, watched until it has exited: a dying process gives up its memory (and with it the
  // environment the marker is read from) before it is gone, so "no longer marked" is not yet "ended"; returning
  // then let one run on for a moment after this said none was left (seen under load).
  const signalled = new Set<number>();
  const signalAll = async (signal: NodeJS.Signals) => {
    for (const pid of await processesMarked(marker)) {
      signalled.add(pid);
      if (!signalGroup(pid, signal)) signalOne(pid, signal);
    }
  };
  const anyLeft = async () =>
    (await processesMarked(marker)).length > 0 || [...signalled].some((pid) => !hasExited(pid));
  await signalAll('SIGTERM');
  const started = Date.now();
  // Past the grace, SIGKILL whatever carries the marker on every look, not once: a process forked while one pass ran
  // (its parent killed later in the same pass) is in no pass's list but the next; one pass let such a child live on,
  // and it went on starting processes of its own after recovery (seen with openclaw's finalize under load).
  while ((await anyLeft()) && Date.now() - started < waitMs) {
    if (Date.now() - started >= KILL_GRACE_MS) await signalAll('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/** Whether a process has exited: gone, or a zombie waiting for its reaper (it runs nothing more). */
function hasExited(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

function signalOne(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone meanwhile
  }
}

/** Whether a process of this host exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  // kill(0) and kill(-N) probe process groups (-1: every process we may signal), which always answer: a record
  // naming such a "pid" (a damaged lock owner) would pass for a live holder. No process has one.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}
