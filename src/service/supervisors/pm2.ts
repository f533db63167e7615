/**
 * pm2 adapter. Measured with pm2 7.0.4 (see test/service/supervisors/pm2.system.test.ts):
 * - pm2 keeps the script path as given (`<root>/current/server.js`, made absolute but not realpath'd), and
 *   every restart forks a fresh container that loads that path: a plain `pm2 restart` runs the release
 *   `current` points at now. Node then realpaths the main module, so the process stays in its own release.
 * - No `--update-env`: it merges the *caller's* environment into the app's for good (PORT, PATH, … of
 *   whatever shell or timer ran release-switcher). The service keeps the environment it was started with.
 * - `restart_time` counts explicit restarts too (+1 per `pm2 restart` of an online app, +0 for a stopped
 *   one), so a verifier must take its baseline from a state() read after our own restart.
 * - `pm2 restart NAME` falls back to a namespace of that name, and `all` means every app: we check the name
 *   in `pm2 jlist` first. `pm2 start NAME` of an unknown name looks for a script file NAME in the cwd, so
 *   start() restarts by name too.
 * - Any pm2 command, `jlist` and `-v` included, spawns the daemon of PM2_HOME when none runs, and that daemon stays.
 *   So state() asks pm2 only when its daemon listens (pm2DaemonListens): a status or a doctor leaves no daemon behind
 *   (one as root, in root's home, under `sudo release-switcher status`), and with none there is no app of it to run.
 * - `pm2 stop NAME` leaves the app listed as `stopped`, not restarted by pm2, and `pm2 restart NAME` starts it again.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ReleaseSwitcherError } from '../../model/errors.js';
import { isExecutable, lookUp } from '../../platform/fs.js';
import { run, tail } from '../../platform/subprocess.js';
import type { CommandRunner, ServiceState, Supervisor } from './types.js';

export interface Pm2SupervisorOptions {
  /** The pm2 app name (`pm2 start … --name APP`). */
  app: string;
  /** Environment of every pm2 call; its `PM2_HOME` (default `~/.pm2`) selects the daemon. */
  env: NodeJS.ProcessEnv;
  /** Path of the pm2 binary. @default "pm2" (looked up on `env.PATH`) */
  pm2?: string;
  /** @default run() from ../subprocess.js */
  runner?: CommandRunner;
  /** Limit for one restart; pm2 waits up to the app's `kill_timeout` for the old process. @default 120000 */
  restartTimeoutMs?: number;
  /** Aborting kills the pm2 call under way (it then rejects with CANCELLED). */
  signal?: AbortSignal | undefined;
}

/** The parts of a `pm2 jlist` entry we read. */
export interface Pm2Process {
  name?: string;
  pid?: number;
  pm_id?: number;
  pm2_env?: {
    status?: string;
    restart_time?: number;
    exit_code?: number;
    pm_exec_path?: string;
    version?: string;
    exec_mode?: string;
  };
}

const LIST_TIMEOUT_MS = 30_000;
// biome-ignore lint/suspicious/noControlCharactersInRegex: pm2's colour escapes are what it strips
const ANSI = /\x1b\[[0-9;]*m/g;

const defaultRunner: CommandRunner = (file, args, options) => run(file, args, options);

export function pm2Supervisor(options: Pm2SupervisorOptions): Supervisor {
  const { app, env } = options;
  const bin = options.pm2 ?? 'pm2';
  const runner = options.runner ?? defaultRunner;
  if (app === 'all' || (app.startsWith('/') && app.endsWith('/')) || app.trim() === '') {
    // pm2 reads these as "every app" or a regex over names.
    throw new ReleaseSwitcherError('UNSUPPORTED', `"${app}" cannot name a single pm2 app.`, {
      hint: 'Give the app a plain name (pm2 start … --name NAME) and set it with release-switcher init --unit NAME.',
    });
  }
  const home = env.PM2_HOME ? `PM2_HOME=${env.PM2_HOME} ` : '';

  async function pm2(args: string[], timeoutMs: number): Promise<string> {
    const result = await runner(bin, args, { timeoutMs, env, signal: options.signal });
    if (result.exitCode === 0 && !result.timedOut) return result.output;
    const why = result.timedOut
      ? `timed out after ${Math.round(timeoutMs / 1000)} s`
      : result.exitCode === undefined
        ? 'could not be run'
        : `exited with ${result.exitCode}`;
    const output = tail(result.output.replace(ANSI, ''));
    throw new ReleaseSwitcherError(
      'SUPERVISOR_FAILED',
      `${bin} ${args.join(' ')} ${why}${output ? `:\n${output}` : '.'}`,
      {
        hint:
          result.exitCode === undefined && !result.timedOut
            ? `Install pm2 or point release-switcher at its binary; check with: ${home}${bin} --version`
            : `Look at the app with: ${home}${bin} describe ${app} (and ${bin} logs ${app} --lines 50)`,
        details: { exitCode: result.exitCode, timedOut: result.timedOut },
      },
    );
  }

  async function state(): Promise<ServiceState> {
    const socket = pm2RpcSocket(env);
    // Without its daemon pm2 runs no app, and asking it would start one (above). A binary that cannot run is still
    // said so, as when the daemon runs.
    if ((await pm2DaemonListens(socket)) === false) {
      const runnable = bin.includes('/')
        ? await isExecutable(bin)
        : (await lookUp(bin, (env.PATH ?? '').split(path.delimiter).filter(Boolean))) !== undefined;
      if (!runnable) await pm2(['jlist'], LIST_TIMEOUT_MS); // rejects: could not be run
      return { ...pm2StateOf(app, []), detail: `pm2 has no app named ${app}: no pm2 daemon runs (${socket})` };
    }
    return pm2StateOf(app, parsePm2List(await pm2(['jlist'], LIST_TIMEOUT_MS)));
  }

  async function restartKnown(): Promise<void> {
    await pm2(['restart', app], options.restartTimeoutMs ?? 120_000);
  }

  function notFound(): ReleaseSwitcherError {
    return new ReleaseSwitcherError('SUPERVISOR_FAILED', `pm2 has no app named ${app}.`, {
      hint: `Start it once through the current link, then save: ${home}${bin} start <root>/current/<main script> --name ${app} && ${bin} save`,
    });
  }

  return {
    name: 'pm2',
    unit: app,
    async restart() {
      if ((await state()).state === 'not-found') throw notFound();
      await restartKnown();
    },
    async start() {
      const now = await state();
      if (now.state === 'not-found') throw notFound();
      // Only bring back what is down: `pm2 restart` of an online app would bounce a healthy service.
      if (!now.active) await restartKnown();
    },
    state,
    // For a step run while nothing serves (a preset's finalize): the app stays in pm2's list, stopped (pm2 does not
    // restart a stopped app by itself), and the restart that follows starts it with the environment it had.
    async stop() {
      if ((await state()).state === 'not-found') throw notFound();
      await pm2(['stop', app], options.restartTimeoutMs ?? 120_000);
    },
  };
}

/**
 * The socket pm2's daemon answers on for a command run with `env`: PM2_DAEMON_RPC_PORT, else `rpc.sock` in PM2_HOME,
 * itself `~/.pm2` of that environment's HOME when unset (pm2's paths.js: `os.homedir()`, which reads HOME and falls
 * back to the account's home).
 */
export function pm2RpcSocket(env: NodeJS.ProcessEnv): string {
  if (env.PM2_DAEMON_RPC_PORT) return env.PM2_DAEMON_RPC_PORT;
  const home = env.PM2_HOME || path.join(env.HOME || os.userInfo().homedir, '.pm2');
  return path.resolve(home, 'rpc.sock');
}

/**
 * Whether a daemon listens on pm2's socket: a connection taken (then closed at once, as pm2's own ping does) is one;
 * no socket, or one nobody listens on (a daemon killed), is none. Anything else (a socket this account may not open, no
 * answer within a second) is not known: undefined, and pm2 is asked as before.
 */
export function pm2DaemonListens(socket: string): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const connection = net.connect({ path: socket });
    const done = (answer: boolean | undefined) => {
      connection.destroy();
      clearTimeout(timer);
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), 1_000);
    connection.once('connect', () => done(true));
    connection.once('error', (error: NodeJS.ErrnoException) =>
      done(error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? false : undefined),
    );
  });
}

/**
 * The process list printed by `pm2 jlist`. Output is stdout and stderr interleaved, and a jlist that
 * spawned the daemon prints a banner first: the list is the last line that parses as a JSON array.
 */
export function parsePm2List(output: string): Pm2Process[] {
  const lines = output.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]?.trim() ?? '';
    if (!line.startsWith('[')) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (Array.isArray(parsed)) return parsed as Pm2Process[];
    } catch {
      // a log line that starts with "[", like "[PM2] …"; keep looking
    }
  }
  throw new ReleaseSwitcherError(
    'SUPERVISOR_FAILED',
    `pm2 jlist printed no process list:\n${tail(output.replace(ANSI, ''))}`,
    {
      hint: 'Check that the pm2 binary and daemon are the same version: pm2 update',
    },
  );
}

/**
 * The state of every process named `app` (a cluster-mode app has one per instance): active only when
 * all are online; restarts summed; the first instance's pid. An unknown app is reported, not thrown:
 * inactive with state "not-found", like systemd's LoadState for a unit it does not know.
 */
export function pm2StateOf(app: string, list: readonly Pm2Process[]): ServiceState {
  const mine = list.filter((p) => p.name === app);
  const first = mine[0];
  if (first === undefined) {
    return {
      active: false,
      state: 'not-found',
      mainPid: null,
      restarts: null,
      exitStatus: null,
      processes: { pids: [] },
      detail: `pm2 has no app named ${app}`,
    };
  }
  const down = mine.find((p) => p.pm2_env?.status !== 'online');
  const counts = mine.map((p) => p.pm2_env?.restart_time).filter((n): n is number => typeof n === 'number');
  const exitCode = down?.pm2_env?.exit_code;
  const env = first.pm2_env;
  const detail = [
    env?.pm_exec_path && `script ${env.pm_exec_path}`,
    env?.version && env.version !== 'N/A' && `version ${env.version}`,
    mine.length > 1 && `${mine.length} instances`,
  ]
    .filter(Boolean)
    .join(', ');
  return {
    active: down === undefined,
    state: down === undefined ? 'online' : (down.pm2_env?.status ?? 'unknown'),
    mainPid: typeof first.pid === 'number' && first.pid > 0 ? first.pid : null,
    processes: {
      pids: mine.map((p) => p.pid).filter((pid): pid is number => typeof pid === 'number' && pid > 0),
      ...(mine.some((p) => p.pm2_env?.exec_mode === 'cluster_mode') && { parentsToo: true }),
    },
    restarts: counts.length > 0 ? counts.reduce((a, b) => a + b, 0) : null,
    exitStatus: down !== undefined && typeof exitCode === 'number' ? exitCode : null,
    ...(detail ? { detail } : {}),
  };
}
